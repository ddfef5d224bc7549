//! Netstrings in random chunkings under every maximum: the property is
//! `torsion::fuzzing::netstring`, which the crate's property tests also run on
//! stable.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| torsion::fuzzing::netstring(data));
