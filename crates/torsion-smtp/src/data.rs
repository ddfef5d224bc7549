//! The message after `DATA`: lines up to one holding a single dot, with
//! the dot a client doubled at the start of a line taken away again
//! (RFC 5321 §4.5.2), and the size bounded.
//!
//! Both sides use this module: the server's [`DataReader`] unstuffs what
//! it reads, the client's [`dot_stuff`] prepares what it sends.
//!
//! ```
//! use torsion_smtp::data::{DataLine, DataReader, dot_stuff};
//!
//! let message = b"Subject: dots\r\n\r\n.hidden\r\n..\r\n";
//! let wire = dot_stuff(message);
//! assert_eq!(wire, b"Subject: dots\r\n\r\n..hidden\r\n...\r\n.\r\n");
//!
//! let mut reader = DataReader::new(1000);
//! for line in wire.split(|&b| b == b'\n') {
//!     let line = line.strip_suffix(b"\r").unwrap_or(line);
//!     if reader.line(line) == DataLine::End {
//!         break;
//!     }
//! }
//! assert_eq!(reader.into_message().unwrap(), message);
//! ```

/// What a line of data was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataLine {
    /// Part of the message; more follows.
    More,
    /// The line holding a single dot: the message is complete.
    End,
}

/// The message too big: more than the limit arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the message is larger than {limit} bytes")]
pub struct TooBig {
    /// The limit in force.
    pub limit: usize,
}

/// Collects the lines of one message, unstuffed, each ended by `\r\n`, up
/// to a limit. Past the limit it keeps reading (the client must be
/// followed to the final dot to stay in step) but keeps nothing.
#[derive(Debug)]
pub struct DataReader {
    message: Vec<u8>,
    limit: usize,
    too_big: bool,
    /// The next line goes on the previous one (which was cut for being
    /// too long), so it is neither unstuffed nor an end.
    continuation: bool,
}

impl DataReader {
    /// A reader that keeps at most `limit` bytes of message.
    pub fn new(limit: usize) -> DataReader {
        DataReader {
            message: Vec::new(),
            limit,
            too_big: false,
            continuation: false,
        }
    }

    /// Takes one line, without its `\r\n`.
    pub fn line(&mut self, line: &[u8]) -> DataLine {
        let continuation = std::mem::take(&mut self.continuation);
        let content = if continuation {
            line
        } else if line == b"." {
            return DataLine::End;
        } else {
            line.strip_prefix(b".").unwrap_or(line)
        };
        self.keep(content);
        self.keep(b"\r\n");
        DataLine::More
    }

    /// A line longer than the line reader takes arrived: the message is
    /// too big. `ended` says whether the line's end was among what was
    /// read; if not, the next line read is the rest of it.
    pub fn line_too_long(&mut self, ended: bool) {
        self.overflow();
        self.continuation = !ended;
    }

    /// How many bytes of message are kept so far.
    pub fn len(&self) -> usize {
        self.message.len()
    }

    /// True while nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.message.is_empty()
    }

    /// The message, or [`TooBig`] if more than the limit arrived.
    pub fn into_message(self) -> Result<Vec<u8>, TooBig> {
        if self.too_big {
            Err(TooBig { limit: self.limit })
        } else {
            Ok(self.message)
        }
    }

    fn keep(&mut self, bytes: &[u8]) {
        if self.too_big {
            return;
        }
        if self.message.len() + bytes.len() > self.limit {
            self.overflow();
            return;
        }
        self.message.extend_from_slice(bytes);
    }

    fn overflow(&mut self) {
        self.too_big = true;
        self.message = Vec::new();
    }
}

/// The message as sent after `DATA`: a dot doubled at the start of every
/// line that has one, a `\r\n` added if the message does not end with
/// one, and the final `.\r\n`. Lines are taken to end with `\r\n`; a bare
/// `\n` or `\r` is sent as it is.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut wire = Vec::with_capacity(message.len() + message.len() / 64 + 5);
    let mut at_line_start = true;
    for (index, &byte) in message.iter().enumerate() {
        if at_line_start && byte == b'.' {
            wire.push(b'.');
        }
        wire.push(byte);
        at_line_start = byte == b'\n' && index > 0 && message[index - 1] == b'\r';
    }
    if !message.is_empty() && !message.ends_with(b"\r\n") {
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b".\r\n");
    wire
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(wire: &[u8], limit: usize) -> Result<Vec<u8>, TooBig> {
        let mut reader = DataReader::new(limit);
        let mut rest = wire;
        while let Some(at) = rest.windows(2).position(|pair| pair == b"\r\n") {
            if reader.line(&rest[..at]) == DataLine::End {
                return reader.into_message();
            }
            rest = &rest[at + 2..];
        }
        panic!("no final dot in {wire:?}");
    }

    #[test]
    fn stuffing_then_reading_gives_the_message_back() {
        for message in [
            &b""[..],
            b"a\r\n",
            b".\r\n",
            b"..\r\n.a\r\n\r\n.\r\n",
            b"\xff\xfe 8 bit\r\n",
        ] {
            assert_eq!(read_all(&dot_stuff(message), 100).unwrap(), message);
        }
    }

    #[test]
    fn a_message_without_a_final_line_end_gets_one() {
        assert_eq!(dot_stuff(b"a"), b"a\r\n.\r\n");
        assert_eq!(read_all(&dot_stuff(b"a"), 100).unwrap(), b"a\r\n");
    }

    #[test]
    fn a_dot_after_a_bare_lf_is_not_at_a_line_start() {
        assert_eq!(dot_stuff(b"a\n.b\r\n"), b"a\n.b\r\n.\r\n");
    }

    #[test]
    fn the_limit_counts_the_unstuffed_message_with_its_line_ends() {
        // "..ab\r\n" is ".ab\r\n" once unstuffed: 5 bytes.
        assert_eq!(read_all(b"..ab\r\n.\r\n", 5).unwrap(), b".ab\r\n");
        assert_eq!(read_all(b"..ab\r\n.\r\n", 4), Err(TooBig { limit: 4 }));
    }

    #[test]
    fn the_rest_of_a_cut_line_is_not_taken_for_the_end() {
        let mut reader = DataReader::new(100);
        reader.line_too_long(false);
        assert_eq!(reader.line(b"."), DataLine::More);
        assert_eq!(reader.line(b"."), DataLine::End);
        assert_eq!(reader.into_message(), Err(TooBig { limit: 100 }));
    }
}
