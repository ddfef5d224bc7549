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

/// Runs `property` on every input committed under `fuzz/corpus/<target>`:
/// the seeds, and each crash a fuzzer found, kept there once fixed.
#[cfg(test)]
fn replay_corpus(target: &str, property: fn(&[u8])) {
    let directory = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let entries = std::fs::read_dir(&directory)
        .unwrap_or_else(|error| panic!("{}: {error}", directory.display()));
    let mut replayed = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        let input = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| property(&input));
        assert!(outcome.is_ok(), "{} fails its property", path.display());
        replayed += 1;
    }
    assert!(replayed > 0, "no inputs under {}", directory.display());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_committed_corpus_input_holds_its_property() {
        replay_corpus("route_pattern", route_pattern);
        replay_corpus("route_instance", route_instance);
        replay_corpus("static_path", static_path);
        replay_corpus("websocket_handshake", websocket_handshake);
        replay_corpus("range_header", range_header);
    }
}
