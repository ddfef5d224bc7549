//! Framing protocols: turn a byte stream into messages (Twisted's
//! `protocols.basic`).
//!
//! A transport delivers bytes in chunks of any size; these protocols buffer
//! them and call a handler once per complete message, whatever the chunk
//! boundaries were:
//!
//! - [`LineReceiver`] splits on a delimiter (`\r\n` by default), with a raw
//!   mode for binary payloads in between lines;
//! - [`NetstringReceiver`] reads netstrings, `<length>:<payload>,`;
//! - [`IntNStringReceiver`] reads strings prefixed with their length as an
//!   8-, 16- or 32-bit big-endian integer.
//!
//! Each is a [`Protocol`](crate::net::Protocol) wrapping a handler trait
//! whose callbacks get a small context to reply, close and (for lines)
//! switch modes. The [`testing`](crate::testing) fakes drive them without a
//! socket:
//!
//! ```
//! use torsion::net::Protocol;
//! use torsion::protocols::{IntNStringReceiver, StringContext, StringHandler};
//! use torsion::testing::StringTransport;
//!
//! /// Answers every string with its reverse.
//! struct Reverse;
//!
//! impl StringHandler for Reverse {
//!     fn string_received(&mut self, ctx: &mut StringContext<'_>, data: &[u8]) {
//!         let reversed: Vec<u8> = data.iter().rev().copied().collect();
//!         ctx.send_string(&reversed).unwrap();
//!     }
//! }
//!
//! let fake = StringTransport::new();
//! let mut protocol = IntNStringReceiver::int16(Reverse);
//! fake.make_connection(&mut protocol);
//! protocol.data_received(b"\x00\x03a");
//! protocol.data_received(b"bc");
//! assert_eq!(fake.value(), b"\x00\x03cba");
//! ```

mod line;
mod netstring;
mod prefixed;

pub use line::{
    DEFAULT_DELIMITER, DEFAULT_MAX_LINE_LENGTH, LineContext, LineHandler, LineReceiver,
};
pub use netstring::{
    NETSTRING_MAX_LENGTH, NetstringContext, NetstringHandler, NetstringParseError,
    NetstringReceiver,
};
pub use prefixed::{
    IntNStringReceiver, PREFIXED_MAX_LENGTH, PrefixLength, StringContext, StringHandler,
    StringTooLong,
};

/// Chunk sizes every framing test replays its input at; `usize::MAX` is the
/// whole input at once.
#[cfg(test)]
pub(crate) const CHUNK_SIZES: [usize; 5] = [1, 2, 3, 7, usize::MAX];

/// Feeds `data` to `protocol` in chunks of at most `size` bytes.
#[cfg(test)]
pub(crate) fn feed_in_chunks(protocol: &mut dyn crate::net::Protocol, data: &[u8], size: usize) {
    for chunk in data.chunks(size.min(data.len().max(1))) {
        protocol.data_received(chunk);
    }
}
