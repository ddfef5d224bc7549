//! Endpoint descriptions, server and client: the property is
//! `torsion::fuzzing::endpoints`, which the crate's property tests also run on
//! stable.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| torsion::fuzzing::endpoints(data));
