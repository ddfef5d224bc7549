//! [`IrcError`]: the crate's one error type.

use std::fmt;
use std::io;

/// Which part of a line was over its limit: IRCv3 gives the tags their own
/// budget (8191 bytes) beside the classic 512 bytes of the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinePart {
    /// The tags section: the leading `@`, the tags and the space after them.
    Tags,
    /// Everything after the tags: prefix, command and parameters, with the
    /// line's `\r\n`.
    Body,
}

impl fmt::Display for LinePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LinePart::Tags => "tags",
            LinePart::Body => "message",
        })
    }
}

/// What can go wrong reading, writing or running IRC.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IrcError {
    /// A line was over the limit for one of its parts. Received, the line
    /// was dropped (a server answers `417 ERR_INPUTTOOLONG`) and the lines
    /// after it are read as usual; sent, nothing was written.
    #[error("an IRC line's {part} take {length} bytes or more, over the limit of {limit}")]
    LineTooLong {
        /// The part over its limit.
        part: LinePart,
        /// How long that part was, or how much of it arrived before the
        /// limit was passed.
        length: usize,
        /// The limit for that part.
        limit: usize,
    },
    /// A received line is not an IRC message (no command, a forbidden
    /// byte); it was dropped.
    #[error("malformed IRC line ({reason}): {line:?}")]
    Malformed {
        /// What is wrong with it.
        reason: &'static str,
        /// The line, as text.
        line: String,
    },
    /// A message cannot be written: a parameter with a space that is not
    /// the last, a line break in a parameter, an empty command.
    #[error("not a valid IRC message: {0}")]
    Invalid(&'static str),
    /// The server refused every nickname the client tried before it
    /// signed on.
    #[error("nickname in use: {0}")]
    NicknameInUse(String),
    /// The connection closed before what was waited for happened.
    #[error("the IRC connection closed before {0}")]
    ConnectionLost(&'static str),
    /// Reading failed (only a codec stack over an I/O source reports
    /// this, never the codec itself).
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl IrcError {
    /// True for [`IrcError::LineTooLong`].
    pub fn is_line_too_long(&self) -> bool {
        matches!(self, IrcError::LineTooLong { .. })
    }

    /// True for [`IrcError::Malformed`].
    pub fn is_malformed(&self) -> bool {
        matches!(self, IrcError::Malformed { .. })
    }

    /// True for [`IrcError::ConnectionLost`].
    pub fn is_connection_lost(&self) -> bool {
        matches!(self, IrcError::ConnectionLost(_))
    }
}
