//! The SSH shell's input (terminal bytes through the line editor, each
//! line run as a command) in random chunkings: the property is
//! `torsion_ssh::fuzzing::shell_input`, which the crate's property tests
//! also run on stable.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| torsion_ssh::fuzzing::shell_input(data));
