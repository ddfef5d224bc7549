//! SMTP command lines and messages from random bytes: the property is
//! `torsion_smtp::fuzzing::command_line`, which the crate's property
//! tests also run on stable.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| torsion_smtp::fuzzing::command_line(data));
