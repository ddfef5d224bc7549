//! IRC lines in random chunkings under small limits: the property is
//! `torsion_irc::fuzzing::lines`, which the crate's property tests also
//! run on stable.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| torsion_irc::fuzzing::lines(data));
