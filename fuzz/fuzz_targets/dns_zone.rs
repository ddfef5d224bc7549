//! Any bytes as a zone file: the property is
//! `torsion_dns::fuzzing::zone_file`, which the crate's property tests
//! also run on generated zones and the committed corpus.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| torsion_dns::fuzzing::zone_file(data));
