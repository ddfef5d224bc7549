//! Any route pattern matched against any path: the property is
//! `torsion_web::fuzzing::route_pattern`, which the crate's property tests also
//! run on stable.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| torsion_web::fuzzing::route_pattern(data));
