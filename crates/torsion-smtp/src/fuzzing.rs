//! The command parser's properties as functions of raw bytes, for the
//! fuzz target under `fuzz/` and the property tests beside the parser.
//! Built for tests and with the `fuzzing` feature only; not part of the
//! API.

use crate::command::Command;
use crate::data::{DataLine, DataReader, dot_stuff};

/// Any bytes as a command line: parsing never panics, and a command that
/// parses is written back as a line that parses to the same command.
/// The same bytes as a message: stuffed, then read back line by line by
/// the server's reader, they come back unchanged (with a final `\r\n`
/// added when missing).
pub fn command_line(data: &[u8]) {
    if let Ok(command) = Command::parse(data) {
        let line = command.to_string();
        assert!(!line.contains('\r') && !line.contains('\n'), "{line:?}");
        assert_eq!(
            Command::parse(line.as_bytes()),
            Ok(command),
            "{line:?} does not parse back"
        );
    }
    let wire = dot_stuff(data);
    let mut reader = DataReader::new(usize::MAX);
    let mut rest = &wire[..];
    let mut ended = false;
    while let Some(at) = rest.windows(2).position(|pair| pair == b"\r\n") {
        if reader.line(&rest[..at]) == DataLine::End {
            ended = true;
            rest = &rest[at + 2..];
            break;
        }
        rest = &rest[at + 2..];
    }
    assert!(ended && rest.is_empty(), "the final dot of {wire:?}");
    let mut expected = data.to_vec();
    if !expected.is_empty() && !expected.ends_with(b"\r\n") {
        expected.extend_from_slice(b"\r\n");
    }
    assert_eq!(reader.into_message().unwrap(), expected);
}

#[cfg(test)]
mod tests {
    /// Runs [`command_line`](super::command_line) on every input committed under
    /// `fuzz/corpus/smtp_command`: the seeds, and each crash a fuzzer found, kept
    /// there once fixed.
    #[test]
    fn every_committed_corpus_input_holds_its_property() {
        let replayed = torsion::testing::replay_corpus(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../fuzz/corpus/smtp_command"
            ),
            super::command_line,
        );
        assert!(replayed >= 6, "the seeds of smtp_command");
    }
}
