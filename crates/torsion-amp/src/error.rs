//! [`AmpError`]: everything that goes wrong in AMP, as one type with
//! predicates (torsion's one-error-type-per-crate rule).
//!
//! A command's *declared* errors are not here: they are the command's own
//! [`CommandError`](crate::CommandError) type, which a failed
//! [`call_remote`](crate::Amp::call_remote) Deferred holds directly, so a
//! caller traps them by type.

use std::fmt;
use std::io;

use bytes::Bytes;
use torsion::Failure;

/// An AMP failure: a malformed box or argument, a value too long to send,
/// an error answered by the peer, or the connection's end.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AmpError {
    /// A received key was longer than 255 bytes ([`MAX_KEY_LENGTH`](crate::MAX_KEY_LENGTH)).
    /// The connection is closed: nothing after it can be parsed.
    #[error("received a key of {length} bytes; AMP keys are at most 255 bytes")]
    KeyTooLong {
        /// The length the peer announced.
        length: usize,
    },
    /// A key or value was too long to send (Twisted's `TooLong`): keys
    /// are at most 255 bytes, values at most 65535. Nothing was sent.
    #[error("cannot send a {} of {length} bytes (key {key}): {}", if *.is_key { "key" } else { "value" }, if *.is_key { "keys are at most 255 bytes" } else { "values are at most 65535 bytes" })]
    TooLong {
        /// True when the key itself is too long.
        is_key: bool,
        /// The key (or its start), for the message.
        key: String,
        /// The length that was too long.
        length: usize,
    },
    /// An empty key cannot be sent: on the wire it ends the box.
    #[error("cannot send an empty key: on the wire it ends the box")]
    EmptyKey,
    /// A box that is neither a command, an answer nor an error (Twisted's
    /// `NoEmptyBoxes`). The connection is closed.
    #[error("received a box with none of _command, _answer, _error: {0}")]
    NoEmptyBoxes(String),
    /// Boxes inside a value (an `AmpList`, see [`arguments`](crate::arguments)) stopped in the
    /// middle of one.
    #[error("a list of boxes ends in the middle of a box")]
    Truncated,
    /// A box broke the protocol in another way: an answer to a question
    /// never asked, an error box without its code.
    #[error("malformed box: {0}")]
    Malformed(String),
    /// An argument or response value could not be read as its type.
    #[error("bad value for {key:?}: {reason}")]
    BadArgument {
        /// The key whose value is bad (empty when not known).
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A required argument or response value is missing (Twisted's
    /// `InvalidSignature` / `KeyError`).
    #[error("missing required value {key:?}")]
    MissingArgument {
        /// The missing key.
        key: String,
    },
    /// A value has no AMP encoding (a map, a struct outside a list, a
    /// float that is not a number type).
    #[error("cannot encode as AMP: {0}")]
    Unencodable(String),
    /// The peer has no responder for the command (error code `UNHANDLED`).
    #[error("the peer does not handle the command: {description}")]
    UnhandledCommand {
        /// The peer's description, such as `Unhandled Command: b'Sum'`.
        description: String,
    },
    /// The peer answered with an error code the command does not declare
    /// (Twisted's `RemoteAmpError` / `UnknownRemoteError`); `UNKNOWN` is
    /// what Twisted and torsion send for an undeclared failure.
    #[error("Code<{}>: {description}", String::from_utf8_lossy(.code))]
    Remote {
        /// The error code.
        code: Bytes,
        /// The peer's description of the error.
        description: String,
    },
    /// The connection ended before the answer came (Twisted's
    /// `failAllOutgoing`), or had ended before the call.
    #[error("the AMP connection is closed: {0}")]
    ConnectionLost(Failure),
    /// Only for `tokio_util`'s `Decoder`, which requires it; AMP's
    /// decoder never reads.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl AmpError {
    /// True when the connection ended before an answer came.
    pub fn is_connection_lost(&self) -> bool {
        matches!(self, AmpError::ConnectionLost(_))
    }

    /// True when the peer has no responder for the command.
    pub fn is_unhandled_command(&self) -> bool {
        matches!(self, AmpError::UnhandledCommand { .. })
    }

    /// True for a key or value too long to send.
    pub fn is_too_long(&self) -> bool {
        matches!(self, AmpError::TooLong { .. } | AmpError::KeyTooLong { .. })
    }

    /// True when what was received breaks the protocol or its types (a
    /// key over 255 bytes, a box of nothing, a bad or missing argument).
    pub fn is_malformed(&self) -> bool {
        matches!(
            self,
            AmpError::KeyTooLong { .. }
                | AmpError::NoEmptyBoxes(_)
                | AmpError::Truncated
                | AmpError::Malformed(_)
                | AmpError::BadArgument { .. }
                | AmpError::MissingArgument { .. }
        )
    }

    /// The error code of an error the peer answered with and the command
    /// does not declare.
    pub fn remote_code(&self) -> Option<&[u8]> {
        match self {
            AmpError::Remote { code, .. } => Some(code),
            AmpError::UnhandledCommand { .. } => Some(crate::UNHANDLED_ERROR_CODE),
            _ => None,
        }
    }

    /// The same error with `key` named, when a value's error did not know
    /// which key it was reading.
    pub(crate) fn for_key(self, name: &[u8]) -> AmpError {
        match self {
            AmpError::BadArgument { key, reason } if key.is_empty() => AmpError::BadArgument {
                key: String::from_utf8_lossy(name).into_owned(),
                reason,
            },
            other => other,
        }
    }
}

impl serde::ser::Error for AmpError {
    fn custom<T: fmt::Display>(message: T) -> AmpError {
        AmpError::Unencodable(message.to_string())
    }
}

impl serde::de::Error for AmpError {
    fn custom<T: fmt::Display>(message: T) -> AmpError {
        AmpError::BadArgument {
            key: String::new(),
            reason: message.to_string(),
        }
    }

    fn missing_field(field: &'static str) -> AmpError {
        AmpError::MissingArgument {
            key: field.to_owned(),
        }
    }
}
