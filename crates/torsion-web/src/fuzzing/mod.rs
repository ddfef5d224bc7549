//! Properties of the parsers torsion-web owns, each a function of raw
//! bytes that panics when the property does not hold.
//!
//! The fuzz targets under `fuzz/` call these functions with what
//! libFuzzer generates, and the property tests beside them run the same
//! functions with a fixed seed on the stable toolchain, so that `cargo
//! test` checks what the fuzzers check. Built for tests and with the
//! `fuzzing` feature only; not part of the API.

mod range;
mod router;
mod static_path;
mod websocket;

pub use range::range_header;
pub use router::{route_instance, route_pattern};
pub use static_path::static_path;
pub use websocket::websocket_handshake;

/// The fuzz input, read from the front.
struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    fn new(data: &'a [u8]) -> Input<'a> {
        Input { data }
    }

    /// The next byte, 0 once the input is used up.
    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&first, rest)) => {
                self.data = rest;
                first
            }
            None => 0,
        }
    }

    /// A string of up to `longest` bytes (a count, then the bytes, read
    /// as UTF-8 with replacement characters).
    fn text(&mut self, longest: u8) -> String {
        let count = usize::from(self.byte() % (longest + 1));
        let (taken, rest) = self.data.split_at(count.min(self.data.len()));
        self.data = rest;
        String::from_utf8_lossy(taken).into_owned()
    }

    /// The rest of the input, split in two at a position the next byte
    /// gives, each part read as UTF-8 with replacement characters.
    fn two_texts(mut self) -> (String, String) {
        let at = usize::from(self.byte()).min(self.data.len());
        let (first, second) = self.data.split_at(at);
        (
            String::from_utf8_lossy(first).into_owned(),
            String::from_utf8_lossy(second).into_owned(),
        )
    }

    /// The rest of the input.
    fn rest(self) -> &'a [u8] {
        self.data
    }
}

/// The property tests' configuration: a fixed seed, so that a run is
/// repeatable, and no failure files (a failure found is kept as a named
/// regression test instead).
#[cfg(test)]
pub(crate) fn property_config(cases: u32) -> proptest::test_runner::Config {
    proptest::test_runner::Config {
        cases,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x7015_1011),
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use torsion::testing::replay_corpus;

    /// Every input committed under `fuzz/corpus`: the seeds, and each
    /// crash a fuzzer found, kept there once fixed.
    #[test]
    fn every_committed_corpus_input_holds_its_property() {
        assert!(
            replay_corpus(
                concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../../fuzz/corpus/route_pattern"
                ),
                route_pattern
            ) >= 8
        );
        assert!(
            replay_corpus(
                concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../../fuzz/corpus/route_instance"
                ),
                route_instance
            ) >= 4
        );
        assert!(
            replay_corpus(
                concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/static_path"),
                static_path
            ) >= 10
        );
        assert!(
            replay_corpus(
                concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../../fuzz/corpus/websocket_handshake"
                ),
                websocket_handshake
            ) >= 6
        );
        assert!(
            replay_corpus(
                concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../../fuzz/corpus/range_header"
                ),
                range_header
            ) >= 11
        );
    }
}
