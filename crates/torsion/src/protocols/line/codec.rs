//! [`LineCodec`]: lines ending with a [`Delimiter`], with a raw mode.

use std::io;

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

/// The default longest line, in bytes, not counting the delimiter (Twisted's
/// `MAX_LENGTH`).
pub const DEFAULT_MAX_LINE_LENGTH: usize = 16384;

/// What ends a line (Twisted's `delimiter` attribute).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Delimiter {
    /// `\r\n`, Twisted's default and most line protocols' (SMTP, IRC,
    /// HTTP headers). A lone `\n` is part of the line.
    #[default]
    CrLf,
    /// `\n` alone; a `\r` before it is part of the line.
    Lf,
    /// `\n`, with a `\r` just before it dropped as well: what a server
    /// typed at with `nc` (which sends `\n`) or telnet (`\r\n`) wants.
    /// Lines are sent with `\r\n`.
    CrLfOrLf,
    /// Any other byte sequence, not empty.
    Bytes(Box<[u8]>),
}

impl Delimiter {
    /// What [`send_line`](crate::protocols::LineContext::send_line) writes
    /// after a line.
    pub fn as_sent(&self) -> &[u8] {
        match self {
            Delimiter::CrLf | Delimiter::CrLfOrLf => b"\r\n",
            Delimiter::Lf => b"\n",
            Delimiter::Bytes(bytes) => bytes,
        }
    }

    /// The longest the delimiter can be on the wire.
    fn longest(&self) -> usize {
        match self {
            Delimiter::CrLf | Delimiter::CrLfOrLf => 2,
            Delimiter::Lf => 1,
            Delimiter::Bytes(bytes) => bytes.len(),
        }
    }

    /// Finds the first line end in `buffer` whose delimiter does not start
    /// before `from`: where the line stops and where the next one starts.
    fn find(&self, buffer: &[u8], from: usize) -> Option<(usize, usize)> {
        match self {
            Delimiter::Lf => find_byte(buffer, from, b'\n').map(|at| (at, at + 1)),
            Delimiter::CrLfOrLf => find_byte(buffer, from, b'\n').map(|at| {
                let cr = at > 0 && buffer[at - 1] == b'\r';
                (at - usize::from(cr), at + 1)
            }),
            Delimiter::CrLf => find(buffer, from, b"\r\n").map(|at| (at, at + 2)),
            Delimiter::Bytes(bytes) => find(buffer, from, bytes).map(|at| (at, at + bytes.len())),
        }
    }

    /// Where the next search can start once `buffer` holds no line end: a
    /// delimiter may still begin in its last `longest - 1` bytes, except
    /// for the `\n`-ended ones, which are found by their last byte.
    fn resume_search_at(&self, buffer: &[u8]) -> usize {
        match self {
            Delimiter::Lf | Delimiter::CrLfOrLf => buffer.len(),
            Delimiter::CrLf | Delimiter::Bytes(_) => {
                buffer.len().saturating_sub(self.longest() - 1)
            }
        }
    }
}

impl From<&[u8]> for Delimiter {
    /// `b"\r\n"` and `b"\n"` become [`CrLf`](Delimiter::CrLf) and
    /// [`Lf`](Delimiter::Lf), anything else [`Bytes`](Delimiter::Bytes).
    ///
    /// # Panics
    ///
    /// If `bytes` is empty.
    fn from(bytes: &[u8]) -> Delimiter {
        assert!(!bytes.is_empty(), "a line delimiter cannot be empty");
        match bytes {
            b"\r\n" => Delimiter::CrLf,
            b"\n" => Delimiter::Lf,
            other => Delimiter::Bytes(other.into()),
        }
    }
}

impl<const N: usize> From<&[u8; N]> for Delimiter {
    /// As for `&[u8]`.
    fn from(bytes: &[u8; N]) -> Delimiter {
        Delimiter::from(&bytes[..])
    }
}

/// What a [`LineCodec`] decodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineFrame {
    /// A line, without its delimiter.
    Line(BytesMut),
    /// All the bytes buffered while in raw mode.
    Raw(BytesMut),
}

/// Why a [`LineCodec`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// A line longer than the maximum arrived, or that many bytes arrived
    /// without a delimiter (Twisted's `lineLengthExceeded`).
    #[error("a line is longer than the maximum of {max} bytes")]
    TooLong {
        /// The maximum in force.
        max: usize,
        /// Everything that was buffered, the long line first; the
        /// decoder's buffer is then empty.
        buffered: BytesMut,
    },
    /// Reading failed; only a codec stack over an I/O source reports this,
    /// never the codec itself.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A codec for lines, for [`FramedProtocol`](crate::protocols::FramedProtocol)
/// (as [`LineReceiver`](crate::protocols::LineReceiver) uses it) or any
/// `tokio_util` framing.
///
/// Lines end with the [`Delimiter`] and are decoded without it, split from
/// the buffer without a copy. A line longer than the maximum, or a buffer
/// without a delimiter that reaches the maximum plus the delimiter's
/// length, is a [`LineError::TooLong`] holding what was buffered. In raw
/// mode each call hands out all that is buffered as a
/// [`LineFrame::Raw`]; switching modes applies from the next call on.
///
/// ```
/// use bytes::BytesMut;
/// use tokio_util::codec::Decoder;
/// use torsion::protocols::{Delimiter, LineCodec, LineFrame};
///
/// let mut codec = LineCodec::new().with_delimiter(Delimiter::CrLfOrLf);
/// let mut buffer = BytesMut::from(&b"typed with nc\nand telnet\r\nraw"[..]);
/// assert_eq!(codec.decode(&mut buffer).unwrap(), Some(LineFrame::Line("typed with nc".into())));
/// assert_eq!(codec.decode(&mut buffer).unwrap(), Some(LineFrame::Line("and telnet".into())));
/// assert_eq!(codec.decode(&mut buffer).unwrap(), None);
/// codec.set_raw_mode();
/// assert_eq!(codec.decode(&mut buffer).unwrap(), Some(LineFrame::Raw("raw".into())));
/// ```
#[derive(Debug, Clone)]
pub struct LineCodec {
    delimiter: Delimiter,
    max_length: usize,
    raw: bool,
    /// The buffer's first `searched` bytes hold no line end; valid while
    /// the buffer is only appended to and consumed by this codec.
    searched: usize,
}

impl Default for LineCodec {
    fn default() -> LineCodec {
        LineCodec::new()
    }
}

impl LineCodec {
    /// A codec for `\r\n`-ended lines of at most
    /// [`DEFAULT_MAX_LINE_LENGTH`] bytes, in line mode.
    pub fn new() -> LineCodec {
        LineCodec {
            delimiter: Delimiter::CrLf,
            max_length: DEFAULT_MAX_LINE_LENGTH,
            raw: false,
            searched: 0,
        }
    }

    /// Ends lines with `delimiter` instead: a [`Delimiter`], or its bytes.
    ///
    /// # Panics
    ///
    /// If the delimiter's bytes are empty.
    pub fn with_delimiter(mut self, delimiter: impl Into<Delimiter>) -> LineCodec {
        let delimiter = delimiter.into();
        assert!(delimiter.longest() > 0, "a line delimiter cannot be empty");
        self.delimiter = delimiter;
        self.searched = 0;
        self
    }

    /// Sets the longest line accepted, in bytes, not counting the
    /// delimiter; any value works, `usize::MAX` included.
    pub fn with_max_length(mut self, max_length: usize) -> LineCodec {
        self.max_length = max_length;
        self
    }

    /// The delimiter.
    pub fn delimiter(&self) -> &Delimiter {
        &self.delimiter
    }

    /// The longest line accepted.
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// True in raw mode.
    pub fn is_raw_mode(&self) -> bool {
        self.raw
    }

    /// Hands out buffered bytes as they are from the next call on
    /// (Twisted's `setRawMode`).
    pub fn set_raw_mode(&mut self) {
        self.raw = true;
        self.searched = 0;
    }

    /// Splits lines again from the next call on (Twisted's
    /// `setLineMode`, without its `extra`: put those bytes back in the
    /// buffer).
    pub fn set_line_mode(&mut self) {
        self.raw = false;
        self.searched = 0;
    }

    /// Forgets how far the buffer has been searched, for when bytes were
    /// removed from it or put back in front of it by someone else.
    pub fn restart_search(&mut self) {
        self.searched = 0;
    }

    fn too_long(&mut self, buffer: &mut BytesMut) -> LineError {
        self.searched = 0;
        LineError::TooLong {
            max: self.max_length,
            buffered: buffer.split(),
        }
    }
}

impl Decoder for LineCodec {
    type Item = LineFrame;
    type Error = LineError;

    fn decode(&mut self, buffer: &mut BytesMut) -> Result<Option<LineFrame>, LineError> {
        if buffer.is_empty() {
            return Ok(None);
        }
        if self.raw {
            return Ok(Some(LineFrame::Raw(buffer.split())));
        }
        // A buffer shorter than what was searched was rewritten from
        // outside: search it all again.
        let from = if self.searched <= buffer.len() {
            self.searched
        } else {
            0
        };
        match self.delimiter.find(buffer, from) {
            Some((line_end, next_line)) => {
                self.searched = 0;
                if line_end > self.max_length {
                    return Err(self.too_long(buffer));
                }
                let mut line = buffer.split_to(next_line);
                line.truncate(line_end);
                Ok(Some(LineFrame::Line(line)))
            }
            None => {
                let limit = self.max_length.saturating_add(self.delimiter.longest());
                if buffer.len() >= limit {
                    return Err(self.too_long(buffer));
                }
                self.searched = self.delimiter.resume_search_at(buffer);
                Ok(None)
            }
        }
    }

    /// As `decode`: a last line without its delimiter is not a line
    /// (Twisted drops it).
    fn decode_eof(&mut self, buffer: &mut BytesMut) -> Result<Option<LineFrame>, LineError> {
        self.decode(buffer)
    }
}

impl Encoder<&[u8]> for LineCodec {
    type Error = LineError;

    /// Appends `line` and the delimiter.
    fn encode(&mut self, line: &[u8], buffer: &mut BytesMut) -> Result<(), LineError> {
        let delimiter = self.delimiter.as_sent();
        buffer.reserve(line.len() + delimiter.len());
        buffer.extend_from_slice(line);
        buffer.extend_from_slice(delimiter);
        Ok(())
    }
}

fn find_byte(haystack: &[u8], from: usize, byte: u8) -> Option<usize> {
    haystack[from..]
        .iter()
        .position(|&b| b == byte)
        .map(|at| from + at)
}

/// The first index at or after `from` where `needle` (not empty) occurs
/// in `haystack`.
fn find(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut offset = from;
    while let Some(begin) = find_byte(haystack, offset, first) {
        let end = begin + needle.len();
        if end > haystack.len() {
            return None;
        }
        if &haystack[begin + 1..end] == rest {
            return Some(begin);
        }
        offset = begin + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::replay_decoder;

    fn lines(list: &[&[u8]]) -> Vec<LineFrame> {
        list.iter()
            .map(|line| LineFrame::Line(BytesMut::from(*line)))
            .collect()
    }

    #[test]
    fn crlf_lines_keep_a_lone_lf() {
        let decoded = replay_decoder(b"a\nb\r\nc\r\n", LineCodec::new);
        assert_eq!(decoded.frames, lines(&[b"a\nb", b"c"]));
    }

    #[test]
    fn lf_lines_keep_a_cr() {
        let decoded = replay_decoder(b"a\r\nb\n", || LineCodec::new().with_delimiter(b"\n"));
        assert_eq!(decoded.frames, lines(&[b"a\r", b"b"]));
    }

    #[test]
    fn crlf_or_lf_lines_accept_both_and_drop_the_cr() {
        let decoded = replay_decoder(b"nc\ntelnet\r\n\n\r\nmixed\rcr\n", || {
            LineCodec::new().with_delimiter(Delimiter::CrLfOrLf)
        });
        assert_eq!(
            decoded.frames,
            lines(&[b"nc", b"telnet", b"", b"", b"mixed\rcr"])
        );
    }

    #[test]
    fn crlf_or_lf_counts_the_line_without_its_cr_against_the_maximum() {
        let decoded = replay_decoder(b"12345\r\n123456\n", || {
            LineCodec::new()
                .with_delimiter(Delimiter::CrLfOrLf)
                .with_max_length(5)
        });
        assert_eq!(decoded.frames, lines(&[b"12345"]));
        assert!(decoded.error.unwrap().contains("TooLong"));
    }

    #[test]
    fn crlf_or_lf_waits_for_the_lf_after_a_line_of_the_maximum_and_its_cr() {
        let decoded = replay_decoder(b"12345\r", || {
            LineCodec::new()
                .with_delimiter(Delimiter::CrLfOrLf)
                .with_max_length(5)
        });
        assert_eq!(decoded.error, None);
        assert_eq!(decoded.rest, b"12345\r");
    }

    #[test]
    fn crlf_or_lf_sends_crlf() {
        let mut buffer = BytesMut::new();
        let mut codec = LineCodec::new().with_delimiter(Delimiter::CrLfOrLf);
        codec.encode(&b"hi"[..], &mut buffer).unwrap();
        assert_eq!(&buffer[..], b"hi\r\n");
    }

    #[test]
    fn the_maximum_can_be_usize_max_without_overflow() {
        for delimiter in [
            Delimiter::CrLf,
            Delimiter::Lf,
            Delimiter::CrLfOrLf,
            Delimiter::from(b"||"),
        ] {
            let decoded = replay_decoder(b"no end in sight", || {
                LineCodec::new()
                    .with_delimiter(delimiter.clone())
                    .with_max_length(usize::MAX)
            });
            assert_eq!(decoded.error, None, "{delimiter:?}");
            assert_eq!(decoded.rest, b"no end in sight", "{delimiter:?}");
        }
    }

    #[test]
    fn a_line_without_its_end_under_the_largest_maximum_holds_only_what_arrived() {
        for delimiter in [Delimiter::CrLf, Delimiter::Lf, Delimiter::from(b"||")] {
            let mut codec = LineCodec::new()
                .with_delimiter(delimiter.clone())
                .with_max_length(usize::MAX);
            let mut buffer = BytesMut::new();
            for _ in 0..10 {
                buffer.extend_from_slice(&[b'x'; 100]);
                assert_eq!(codec.decode(&mut buffer).unwrap(), None, "{delimiter:?}");
            }
            assert!(
                buffer.capacity() < 4096,
                "{delimiter:?}: {}",
                buffer.capacity()
            );
        }
    }

    #[test]
    fn raw_mode_hands_out_what_arrived_and_holds_nothing() {
        let mut codec = LineCodec::new().with_max_length(usize::MAX);
        codec.set_raw_mode();
        let mut buffer = BytesMut::from(&[b'x'; 1000][..]);
        let frame = codec.decode(&mut buffer).unwrap();
        assert_eq!(
            frame,
            Some(LineFrame::Raw(BytesMut::from(&[b'x'; 1000][..])))
        );
        assert!(buffer.is_empty());
        assert_eq!(codec.decode(&mut buffer).unwrap(), None);
    }

    #[test]
    fn a_buffer_past_a_small_maximum_is_too_long_at_once() {
        let mut codec = LineCodec::new().with_max_length(3);
        let mut buffer = BytesMut::from(&b"12345"[..]);
        match codec.decode(&mut buffer) {
            Err(LineError::TooLong { max: 3, buffered }) => assert_eq!(&buffered[..], b"12345"),
            other => panic!("{other:?}"),
        }
        assert!(buffer.is_empty());
    }

    #[test]
    fn a_search_position_is_not_trusted_past_a_shrunk_buffer() {
        let mut codec = LineCodec::new();
        let mut buffer = BytesMut::from(&b"0123456789"[..]);
        assert_eq!(codec.decode(&mut buffer).unwrap(), None);
        buffer.clear();
        buffer.extend_from_slice(b"a\r\n");
        assert_eq!(
            codec.decode(&mut buffer).unwrap(),
            Some(lines(&[b"a"])[0].clone())
        );
    }

    #[test]
    fn a_custom_delimiter_split_across_chunks_is_found() {
        let decoded = replay_decoder(b"one<<>>two<<>three<<>>", || {
            LineCodec::new().with_delimiter(b"<<>>")
        });
        assert_eq!(decoded.frames, lines(&[b"one", b"two<<>three"]));
    }
}
