//! Lines under every delimiter, in random chunkings, line and raw mode: the
//! property is `torsion::fuzzing::line`, which the crate's property tests also
//! run on stable.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| torsion::fuzzing::line(data));
