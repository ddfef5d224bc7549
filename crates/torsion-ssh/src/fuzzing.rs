//! The shell's input handling as a property of raw bytes, for the fuzz
//! target under `fuzz/` and the property tests beside the line editor.
//! Built for tests and with the `fuzzing` feature only; not part of the
//! API.

use std::time::Duration;

use torsion::reactor::Snapshot;
use torsion::reactor::introspect::ThreadPoolInfo;

use crate::commands::{self, Command};
use crate::line_editor::{Action, LineEditor, MAX_LINE};

/// Any bytes an operator's terminal could send, cut into chunks whose
/// sizes the first bytes choose: the editor never panics and never holds
/// more than [`MAX_LINE`] bytes; it gives the same lines, interrupts and
/// end of input in chunks as all at once; no line holds a line ending;
/// and every line runs as a command without a panic, with output that
/// ends in a newline and a known exit status.
pub fn shell_input(data: &[u8]) {
    let count = usize::from(data.first().copied().unwrap_or(0) % 8) + 1;
    let sizes: Vec<usize> = data
        .iter()
        .skip(1)
        .take(count)
        .map(|&size| usize::from(size % 32) + 1)
        .collect();
    let input = data.get(1 + count..).unwrap_or_default();

    let whole = events(&mut LineEditor::new(true), &[input]);
    let mut chunks = Vec::new();
    let mut rest = input;
    for size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at((*size).min(rest.len()));
        chunks.push(chunk);
        rest = tail;
    }
    let mut editor = LineEditor::new(true);
    let chunked = events(&mut editor, &chunks);
    assert_eq!(chunked, whole, "the same events in chunks");
    assert!(editor.pending().len() <= MAX_LINE);

    let snapshot = snapshot();
    for action in &whole {
        if let Action::Line(line) = action {
            assert!(!line.contains(['\r', '\n']), "{line:?} holds a line ending");
            let command = Command::parse(line);
            let output = commands::run(&command, Some(&snapshot));
            for text in [&output.stdout, &output.stderr] {
                assert!(text.is_empty() || text.ends_with('\n'), "{text:?}");
            }
            assert!(
                [commands::OK, commands::USAGE, commands::UNKNOWN].contains(&output.status),
                "status {}",
                output.status
            );
        }
    }
}

/// The editor's actions other than the echo (whose grouping into packets
/// depends on the chunking).
fn events(editor: &mut LineEditor, chunks: &[&[u8]]) -> Vec<Action> {
    chunks
        .iter()
        .flat_map(|chunk| editor.feed(chunk))
        .filter(|action| !matches!(action, Action::Echo(_)))
        .collect()
}

fn snapshot() -> Snapshot {
    let mut snapshot = Snapshot::default();
    snapshot.timers.pending = 3;
    snapshot.timers.next = vec![Duration::ZERO, Duration::from_secs(90)];
    snapshot
        .thread_pools
        .push(ThreadPoolInfo::new("torsion-pool", 2, 1, 0, 5, 10));
    snapshot
}

#[cfg(test)]
mod tests {
    /// Runs [`shell_input`](super::shell_input) on every input committed under
    /// `fuzz/corpus/ssh_shell`: the seeds, and each crash a fuzzer found, kept
    /// there once fixed.
    #[test]
    fn every_committed_corpus_input_holds_its_property() {
        let replayed = torsion::testing::replay_corpus(
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/ssh_shell"),
            super::shell_input,
        );
        assert!(replayed >= 4, "the seeds of ssh_shell");
    }
}
