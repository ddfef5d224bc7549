//! Any bytes as a DNS request to the server, over UDP and TCP: the
//! property is `torsion_dns::fuzzing::packet`, which the crate's tests
//! also run on the committed corpus.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| torsion_dns::fuzzing::packet(data));
