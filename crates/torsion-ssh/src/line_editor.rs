//! The shell's line input: bytes as a terminal sends them (one key at a
//! time, or a pasted block, or `ssh -tt` with a file on standard input)
//! in, whole lines and the echo the terminal should show out.
//!
//! With a pseudo-terminal the server plays the part of the kernel's line
//! discipline (there is no real tty behind the door): it echoes what is
//! typed, erases on backspace, and answers Ctrl-C and Ctrl-D. Without one
//! (`ssh host` fed from a pipe) nothing is echoed, as a shell on a pipe
//! would not. Escape sequences (arrow keys, function keys) are swallowed
//! whole; there is no history or cursor movement.

/// The longest line kept, in bytes: a line past it rings the bell for
/// each further byte instead of growing, so a client streaming garbage
/// without a newline holds at most this much.
pub const MAX_LINE: usize = 1024;

/// What the editor makes of input, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Bytes to send back to the terminal (the echo, erasures, a bell).
    Echo(Vec<u8>),
    /// A complete line, without its ending (invalid UTF-8 replaced).
    Line(String),
    /// Ctrl-C: the line was dropped.
    Interrupt,
    /// Ctrl-D on an empty line: the operator is done.
    EndOfInput,
}

/// Where the editor is within an escape sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escape {
    None,
    /// After ESC.
    Started,
    /// Inside `ESC [` or `ESC O`, until a final byte.
    Sequence,
}

/// Line input for one shell session (see the [module](self)).
#[derive(Debug)]
pub struct LineEditor {
    line: Vec<u8>,
    echo: bool,
    escape: Escape,
    /// The last byte ended a line with `\r`, so a `\n` right after it is
    /// the same line ending (`\r\n`), not an empty line.
    after_cr: bool,
    ended: bool,
}

impl LineEditor {
    /// An editor that echoes (for a session with a pseudo-terminal) or
    /// not.
    pub fn new(echo: bool) -> LineEditor {
        LineEditor {
            line: Vec::new(),
            echo,
            escape: Escape::None,
            after_cr: false,
            ended: false,
        }
    }

    /// The line typed so far.
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn pending(&self) -> &[u8] {
        &self.line
    }

    /// Takes `data` and returns what it amounts to. After
    /// [`Action::EndOfInput`] further input is ignored.
    pub fn feed(&mut self, data: &[u8]) -> Vec<Action> {
        let mut actions = Vec::new();
        let mut echo = Vec::new();
        for &byte in data {
            if self.ended {
                break;
            }
            let after_cr = std::mem::take(&mut self.after_cr);
            match self.escape {
                Escape::Started => {
                    self.escape = if byte == b'[' || byte == b'O' {
                        Escape::Sequence
                    } else {
                        Escape::None
                    };
                    continue;
                }
                Escape::Sequence => {
                    // Parameters and intermediates run up to a final byte
                    // in 0x40..=0x7e; a control byte ends it too.
                    if (0x40..=0x7e).contains(&byte) || byte < 0x20 {
                        self.escape = Escape::None;
                    }
                    continue;
                }
                Escape::None => {}
            }
            match byte {
                0x1b => self.escape = Escape::Started,
                b'\n' if after_cr => {}
                b'\r' | b'\n' => {
                    self.after_cr = byte == b'\r';
                    echo.extend_from_slice(b"\r\n");
                    self.flush(&mut echo, &mut actions);
                    let line = std::mem::take(&mut self.line);
                    actions.push(Action::Line(String::from_utf8_lossy(&line).into_owned()));
                }
                0x7f | 0x08 => {
                    if self.pop_char() {
                        echo.extend_from_slice(b"\x08 \x08");
                    }
                }
                0x15 => {
                    while self.pop_char() {
                        echo.extend_from_slice(b"\x08 \x08");
                    }
                }
                0x03 => {
                    self.line.clear();
                    echo.extend_from_slice(b"^C\r\n");
                    self.flush(&mut echo, &mut actions);
                    actions.push(Action::Interrupt);
                }
                0x04 => {
                    if self.line.is_empty() {
                        self.flush(&mut echo, &mut actions);
                        actions.push(Action::EndOfInput);
                        self.ended = true;
                    }
                }
                b'\t' => self.push(b' ', &mut echo),
                0x00..=0x1f => {}
                _ => self.push(byte, &mut echo),
            }
        }
        self.flush(&mut echo, &mut actions);
        actions
    }

    fn push(&mut self, byte: u8, echo: &mut Vec<u8>) {
        if self.line.len() < MAX_LINE {
            self.line.push(byte);
            echo.push(byte);
        } else {
            echo.push(0x07);
        }
    }

    /// Removes the last character (all of a multi-byte UTF-8 one); false
    /// when the line was empty.
    fn pop_char(&mut self) -> bool {
        let Some(last) = self.line.pop() else {
            return false;
        };
        if last >= 0x80 {
            // Continuation bytes back to the lead byte, at most three more.
            let mut byte = last;
            let mut dropped = 0;
            while byte & 0xc0 == 0x80 && dropped < 3 {
                match self.line.last() {
                    Some(&previous) if previous >= 0x80 => {
                        byte = previous;
                        self.line.pop();
                        dropped += 1;
                    }
                    _ => break,
                }
            }
        }
        true
    }

    fn flush(&self, echo: &mut Vec<u8>, actions: &mut Vec<Action>) {
        if !echo.is_empty() {
            let bytes = std::mem::take(echo);
            if self.echo {
                actions.push(Action::Echo(bytes));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lines(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Line(line) => Some(line.clone()),
                _ => None,
            })
            .collect()
    }

    fn echoed(actions: &[Action]) -> Vec<u8> {
        actions
            .iter()
            .flat_map(|a| match a {
                Action::Echo(bytes) => bytes.clone(),
                _ => Vec::new(),
            })
            .collect()
    }

    #[test]
    fn typed_keys_are_echoed_and_a_return_ends_the_line() {
        let mut editor = LineEditor::new(true);
        let actions = editor.feed(b"timers\r");
        assert_eq!(
            actions,
            [
                Action::Echo(b"timers\r\n".to_vec()),
                Action::Line("timers".to_owned())
            ]
        );
    }

    #[test]
    fn backspace_erases_on_screen_and_in_the_line() {
        let mut editor = LineEditor::new(true);
        let actions = editor.feed(b"timerx\x7fs\r");
        assert_eq!(lines(&actions), ["timers"]);
        assert_eq!(echoed(&actions), b"timerx\x08 \x08s\r\n");
        // Backspace on an empty line does nothing, not even on screen.
        assert!(editor.feed(b"\x7f\x08").is_empty());
    }

    #[test]
    fn backspace_takes_a_whole_utf8_character() {
        let mut editor = LineEditor::new(false);
        let actions = editor.feed("aé€😀\x7f\x7f\x7f\n".as_bytes());
        assert_eq!(lines(&actions), ["a"]);
    }

    #[test]
    fn crlf_is_one_line_ending_and_lf_alone_is_one_too() {
        let mut editor = LineEditor::new(false);
        let actions = editor.feed(b"help\r\nports\n\npools\r\r\n");
        assert_eq!(lines(&actions), ["help", "ports", "", "pools", ""]);
    }

    #[test]
    fn a_line_ending_split_across_packets_is_still_one() {
        let mut editor = LineEditor::new(false);
        let mut actions = editor.feed(b"help\r");
        actions.extend(editor.feed(b"\nports\r"));
        assert_eq!(lines(&actions), ["help", "ports"]);
    }

    #[test]
    fn arrow_keys_are_swallowed() {
        let mut editor = LineEditor::new(true);
        let actions = editor.feed(b"ti\x1b[A\x1b[1;5Cmers\x1bOP\r");
        assert_eq!(lines(&actions), ["timers"]);
        assert_eq!(echoed(&actions), b"timers\r\n");
    }

    #[test]
    fn ctrl_c_drops_the_line_and_ctrl_d_ends_input_only_when_empty() {
        let mut editor = LineEditor::new(true);
        let actions = editor.feed(b"connec\x03");
        assert_eq!(
            actions,
            [Action::Echo(b"connec^C\r\n".to_vec()), Action::Interrupt]
        );
        assert!(editor.pending().is_empty());
        assert_eq!(editor.feed(b"x\x04"), [Action::Echo(b"x".to_vec())]);
        assert_eq!(
            editor.feed(b"\x15\x04ignored\r"),
            [Action::Echo(b"\x08 \x08".to_vec()), Action::EndOfInput]
        );
        assert!(editor.feed(b"help\r").is_empty());
    }

    #[test]
    fn a_line_stops_growing_at_the_limit_and_rings_the_bell() {
        let mut editor = LineEditor::new(true);
        let actions = editor.feed(&vec![b'a'; MAX_LINE + 3]);
        assert_eq!(editor.pending().len(), MAX_LINE);
        assert!(echoed(&actions).ends_with(&[0x07, 0x07, 0x07]));
    }

    #[test]
    fn without_a_terminal_nothing_is_echoed() {
        let mut editor = LineEditor::new(false);
        assert_eq!(editor.feed(b"help\n"), [Action::Line("help".to_owned())]);
    }

    proptest! {
        // A fixed seed: CI runs the same cases every time (the fuzz
        // target explores further).
        #![proptest_config(ProptestConfig {
            cases: 256,
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x5353_4821),
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn any_input_in_any_chunks_holds_the_shell_property(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
            crate::fuzzing::shell_input(&data);
        }

        #[test]
        fn printable_text_comes_back_as_typed(text in "[ -~]{0,200}") {
            let mut editor = LineEditor::new(true);
            let mut input = text.clone().into_bytes();
            input.push(b'\r');
            let actions = editor.feed(&input);
            prop_assert_eq!(lines(&actions), vec![text.clone()]);
            let mut expected = text.into_bytes();
            expected.extend_from_slice(b"\r\n");
            prop_assert_eq!(echoed(&actions), expected);
        }
    }
}
