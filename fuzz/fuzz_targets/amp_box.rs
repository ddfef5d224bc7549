//! AMP boxes in random chunkings: the property is
//! `torsion_amp::fuzzing::boxes`, which the crate's property tests also
//! run on stable.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| torsion_amp::fuzzing::boxes(data));
