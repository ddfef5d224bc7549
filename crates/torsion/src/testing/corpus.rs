//! A fuzz target's committed corpus replayed as a unit test, so `cargo
//! test` on the stable toolchain checks every input a fuzzer ever kept.

use std::path::Path;

/// Runs `property` on the bytes of every file in `directory` (a fuzz
/// target's corpus: its seeds, and each crash a fuzzer found, kept there
/// once fixed) and returns how many it ran. Panics naming the file whose
/// input fails the property, and when the directory cannot be read.
///
/// ```
/// use torsion::testing::replay_corpus;
///
/// let corpus = tempfile::tempdir()?;
/// std::fs::write(corpus.path().join("seed"), b"abc")?;
/// let replayed = replay_corpus(corpus.path(), |input| assert!(input.len() < 10));
/// assert_eq!(replayed, 1);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn replay_corpus(directory: impl AsRef<Path>, property: fn(&[u8])) -> usize {
    let directory = directory.as_ref();
    let entries = std::fs::read_dir(directory)
        .unwrap_or_else(|error| panic!("{}: {error}", directory.display()));
    let mut replayed = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        let input =
            std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let outcome = std::panic::catch_unwind(|| property(&input));
        assert!(outcome.is_ok(), "{} fails its property", path.display());
        replayed += 1;
    }
    replayed
}
