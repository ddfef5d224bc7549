//! [`IrcCodec`]: IRC lines on the core's [`LineCodec`], parsed into
//! [`Message`]s, with IRC's length limits.
//!
//! Lines end with `\r\n`; a bare `\n` is accepted too, as servers accept
//! it from hand-typed clients. IRCv3 gives a line two budgets: the tags
//! section (`@...` and its space) at most [`MAX_TAGS_LENGTH`] bytes, and
//! the rest at most [`MAX_LINE_LENGTH`] bytes with its `\r\n`. A line over
//! either is an [`IrcError::LineTooLong`] and is dropped whole; the lines
//! after it decode as usual, so one oversized line costs its sender one
//! error, not the connection. The inner line codec's maximum is the sum of
//! both budgets, so nothing larger is ever buffered, whatever the peer
//! sends.

use bytes::{Buf, BytesMut};
use torsion::protocols::{Decoder, Delimiter, Encoder, LineCodec, LineError, LineFrame};

use crate::error::{IrcError, LinePart};
use crate::message::Message;

/// The longest line without tags, `\r\n` included (RFC 1459's 512).
pub const MAX_LINE_LENGTH: usize = 512;

/// The longest tags section, its `@` and trailing space included
/// (IRCv3 message-tags: 8191).
pub const MAX_TAGS_LENGTH: usize = 8191;

/// A codec of IRC [`Message`]s for the framing layer
/// ([`FramedProtocol`](torsion::protocols::FramedProtocol)) or any
/// `tokio_util` framing.
///
/// Decoding skips empty lines (RFC 1459 says to ignore them) and hands
/// out each other line as a [`Message`], or as an error that consumed
/// it: [`IrcError::LineTooLong`] or [`IrcError::Malformed`]. After an
/// error the decoder goes on with the next line. Encoding checks the
/// message ([`Message::validate`]) and the limits, and writes nothing if
/// either fails.
///
/// ```
/// use bytes::BytesMut;
/// use torsion::protocols::Decoder;
/// use torsion_irc::IrcCodec;
///
/// let mut codec = IrcCodec::new();
/// let long = format!("PRIVMSG #a :{}\r\n", "x".repeat(600));
/// let mut buffer = BytesMut::from(format!("{long}PING :still here\n").as_bytes());
/// assert!(codec.decode(&mut buffer).unwrap_err().is_line_too_long());
/// let ping = codec.decode(&mut buffer).unwrap().unwrap();
/// assert_eq!(ping.params, ["still here"]);
/// ```
#[derive(Debug, Clone)]
pub struct IrcCodec {
    lines: LineCodec,
    max_line: usize,
    max_tags: usize,
    /// A line passed the inner maximum before its end arrived: its bytes
    /// are dropped up to the next `\n`.
    discarding: bool,
}

impl Default for IrcCodec {
    fn default() -> IrcCodec {
        IrcCodec::new()
    }
}

impl IrcCodec {
    /// A codec with the standard limits, [`MAX_LINE_LENGTH`] and
    /// [`MAX_TAGS_LENGTH`].
    pub fn new() -> IrcCodec {
        IrcCodec::with_limits(MAX_LINE_LENGTH, MAX_TAGS_LENGTH)
    }

    /// A codec whose lines hold at most `max_line` bytes without the tags
    /// (the line ending included; at least 3) and `max_tags` bytes of
    /// tags (the `@` and the space included).
    pub fn with_limits(max_line: usize, max_tags: usize) -> IrcCodec {
        let max_line = max_line.max(3);
        IrcCodec {
            lines: LineCodec::new()
                .with_delimiter(Delimiter::CrLfOrLf)
                .with_max_length(max_tags.saturating_add(max_line - 2)),
            max_line,
            max_tags,
            discarding: false,
        }
    }

    /// The longest line without tags, line ending included.
    pub fn max_line_length(&self) -> usize {
        self.max_line
    }

    /// The longest tags section.
    pub fn max_tags_length(&self) -> usize {
        self.max_tags
    }

    /// Checks one line (without its ending) against both budgets.
    fn check_limits(&self, line: &[u8], complete: bool) -> Result<(), IrcError> {
        let (tags, body) = split_tags(line);
        if tags > self.max_tags || (!complete && line.first() == Some(&b'@') && tags == line.len())
        {
            return Err(IrcError::LineTooLong {
                part: LinePart::Tags,
                length: tags,
                limit: self.max_tags,
            });
        }
        if body.saturating_add(2) > self.max_line || !complete {
            return Err(IrcError::LineTooLong {
                part: LinePart::Body,
                length: body.saturating_add(2),
                limit: self.max_line,
            });
        }
        Ok(())
    }

    /// The inner codec gave up on a line: report it, and keep what
    /// follows the line's end, or drop bytes up to it when it has not
    /// arrived yet.
    fn too_long(&mut self, mut buffered: BytesMut, buffer: &mut BytesMut) -> IrcError {
        let line = match buffered.iter().position(|&b| b == b'\n') {
            Some(end) => {
                let rest = buffered.split_off(end + 1);
                buffer.unsplit(rest);
                self.lines.restart_search();
                let mut line = buffered;
                line.truncate(end);
                if line.last() == Some(&b'\r') {
                    line.truncate(end - 1);
                }
                return self
                    .check_limits(&line, true)
                    .err()
                    .unwrap_or_else(|| self.body_error(line.len()));
            }
            None => {
                self.discarding = true;
                buffered
            }
        };
        self.check_limits(&line, false)
            .err()
            .unwrap_or_else(|| self.body_error(line.len()))
    }

    fn body_error(&self, length: usize) -> IrcError {
        IrcError::LineTooLong {
            part: LinePart::Body,
            length,
            limit: self.max_line,
        }
    }
}

/// How many bytes the tags section of `line` takes (0 without tags), and
/// how many the rest.
fn split_tags(line: &[u8]) -> (usize, usize) {
    if line.first() != Some(&b'@') {
        return (0, line.len());
    }
    match line.iter().position(|&b| b == b' ') {
        Some(space) => (space + 1, line.len() - space - 1),
        None => (line.len(), 0),
    }
}

impl Decoder for IrcCodec {
    type Item = Message;
    type Error = IrcError;

    fn decode(&mut self, buffer: &mut BytesMut) -> Result<Option<Message>, IrcError> {
        loop {
            if self.discarding {
                match buffer.iter().position(|&b| b == b'\n') {
                    Some(end) => {
                        buffer.advance(end + 1);
                        self.discarding = false;
                        self.lines.restart_search();
                    }
                    None => {
                        buffer.clear();
                        return Ok(None);
                    }
                }
            }
            let line = match self.lines.decode(buffer) {
                Ok(None) => return Ok(None),
                // Raw mode is never switched on.
                Ok(Some(LineFrame::Line(line) | LineFrame::Raw(line))) => line,
                Err(LineError::TooLong { buffered, .. }) => {
                    return Err(self.too_long(buffered, buffer));
                }
                Err(LineError::Io(error)) => return Err(error.into()),
            };
            if line.iter().all(|&b| b == b' ') {
                continue;
            }
            self.check_limits(&line, true)?;
            return Message::parse(&line).map(Some);
        }
    }

    /// As `decode`: a last line without its ending is not a message.
    fn decode_eof(&mut self, buffer: &mut BytesMut) -> Result<Option<Message>, IrcError> {
        self.decode(buffer)
    }
}

impl Encoder<&Message> for IrcCodec {
    type Error = IrcError;

    /// Appends the message and `\r\n`, once it is valid and within the
    /// limits.
    fn encode(&mut self, message: &Message, buffer: &mut BytesMut) -> Result<(), IrcError> {
        message.validate()?;
        let line = message.to_string();
        self.check_limits(line.as_bytes(), true)?;
        buffer.reserve(line.len() + 2);
        buffer.extend_from_slice(line.as_bytes());
        buffer.extend_from_slice(b"\r\n");
        Ok(())
    }
}

impl Encoder<Message> for IrcCodec {
    type Error = IrcError;

    fn encode(&mut self, message: Message, buffer: &mut BytesMut) -> Result<(), IrcError> {
        self.encode(&message, buffer)
    }
}

#[cfg(test)]
mod tests;
