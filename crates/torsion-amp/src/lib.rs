//! AMP, Twisted's Asynchronous Messaging Protocol, on torsion.
#![deny(missing_docs, missing_debug_implementations, unsafe_code)]

mod ampbox;
pub mod arguments;
mod codec;
mod error;

pub use ampbox::{AmpBox, MAX_KEY_LENGTH, MAX_VALUE_LENGTH};
pub use arguments::{DateTime, Decimal, from_box, to_box};
pub use bytes::Bytes;
pub use codec::{BoxCodec, parse_boxes};
pub use error::AmpError;

/// The error code for a command the peer has no responder for.
pub const UNHANDLED_ERROR_CODE: &[u8] = b"UNHANDLED";
/// The error code for a failure the command does not declare.
pub const UNKNOWN_ERROR_CODE: &[u8] = b"UNKNOWN";
