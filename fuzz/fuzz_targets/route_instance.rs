//! Paths built from route patterns: the property is
//! `torsion_web::fuzzing::route_instance`, which the crate's property tests
//! also run on stable.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| torsion_web::fuzzing::route_instance(data));
