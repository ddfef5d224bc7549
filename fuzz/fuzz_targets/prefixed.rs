//! Length-prefixed strings of each prefix width in random chunkings: the
//! property is `torsion::fuzzing::prefixed`, which the crate's property tests
//! also run on stable.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| torsion::fuzzing::prefixed(data));
