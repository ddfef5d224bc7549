//! `Range` headers against files of every length: the property is
//! `torsion_web::fuzzing::range_header`, which the crate's property tests also
//! run on stable.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| torsion_web::fuzzing::range_header(data));
