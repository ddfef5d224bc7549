//! Static-file request paths: the property is
//! `torsion_web::fuzzing::static_path`, which the crate's property tests also
//! run on stable.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| torsion_web::fuzzing::static_path(data));
