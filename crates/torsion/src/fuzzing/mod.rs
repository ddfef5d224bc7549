//! Properties of the parsers torsion owns, each a function of raw bytes
//! that panics when the property does not hold.
//!
//! The fuzz targets under `fuzz/` call these functions with what
//! libFuzzer generates, and the property tests beside them run the same
//! functions with a fixed seed on the stable toolchain, so that `cargo
//! test` checks what the fuzzers check. Built for tests and with the
//! `fuzzing` feature only; not part of the API.
//!
//! Every function reads its configuration (a maximum length, how to cut
//! the input into chunks, ...) from the first bytes of its input, so that
//! any byte string is a meaningful case and a fuzzer's mutations reach
//! every configuration.

mod decoders;
mod endpoints;

pub use decoders::{line, netstring, prefixed};
pub use endpoints::endpoints;

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

    /// One of `choices`, picked by the next byte.
    fn pick<T: Copy>(&mut self, choices: &[T]) -> T {
        choices[usize::from(self.byte()) % choices.len()]
    }

    /// Up to `count` bytes.
    fn bytes(&mut self, count: usize) -> &'a [u8] {
        let (taken, rest) = self.data.split_at(count.min(self.data.len()));
        self.data = rest;
        taken
    }

    /// Chunk sizes for `decode_in_chunks`: a count, then that many sizes
    /// of 1 to 16 bytes.
    fn chunk_sizes(&mut self) -> Vec<usize> {
        let count = usize::from(self.byte() % 8) + 1;
        self.bytes(count)
            .iter()
            .map(|&size| usize::from(size % 16) + 1)
            .collect()
    }

    /// The rest of the input.
    fn rest(self) -> &'a [u8] {
        self.data
    }
}

/// The maximum lengths decoders are tried with: tiny ones, the defaults,
/// and the huge ones under which no announced length may be reserved or
/// overflow.
fn maximums() -> [usize; 8] {
    let huge = usize::try_from(10u64.pow(17)).unwrap_or(usize::MAX);
    [0, 1, 2, 5, 16, 99_999, huge, usize::MAX]
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
    use crate::testing::replay_corpus;

    /// Every input committed under `fuzz/corpus`: the seeds, and each
    /// crash a fuzzer found, kept there once fixed.
    #[test]
    fn every_committed_corpus_input_holds_its_property() {
        assert!(
            replay_corpus(
                concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/netstring"),
                netstring
            ) >= 8
        );
        assert!(
            replay_corpus(
                concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/line"),
                line
            ) >= 8
        );
        assert!(
            replay_corpus(
                concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/prefixed"),
                prefixed
            ) >= 5
        );
        assert!(
            replay_corpus(
                concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/endpoints"),
                endpoints
            ) >= 7
        );
    }
}
