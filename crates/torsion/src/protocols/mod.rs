//! Framing protocols: turn a byte stream into messages (Twisted's
//! `protocols.basic`), all on one framing layer.
//!
//! A transport delivers bytes in chunks of any size. [`FramedProtocol`]
//! buffers them, has a decoder cut frames out of the buffer, and hands each
//! frame to a [`FrameHandler`], whatever the chunk boundaries were. The
//! decoder is a `tokio_util::codec` [`Decoder`] (they need no runtime), so
//! any codec of the ecosystem is a torsion protocol, and a new protocol is
//! a decoder plus a handler. Pausing, closing and mode switches made inside
//! a handler apply to the very next frame.
//!
//! On that layer, the basic protocols keep Twisted's shape: a codec, a
//! handler trait whose callbacks get a context to reply, close and (for
//! lines) switch modes, and a receiver that puts them together:
//!
//! | receiver | codec | frames |
//! |---|---|---|
//! | [`LineReceiver`] + [`LineHandler`] | [`LineCodec`] | lines ending with a [`Delimiter`] (`\r\n`, `\n`, either, or any bytes), with a raw mode |
//! | [`NetstringReceiver`] + [`NetstringHandler`] | [`NetstringCodec`] | netstrings, `<length>:<payload>,` |
//! | [`IntNStringReceiver`] + [`StringHandler`] | [`PrefixedCodec`] | strings after an 8-, 16- or 32-bit big-endian length |
//!
//! Each codec enforces a maximum length without trusting the peer: no
//! announced length is reserved up front, and no maximum, `usize::MAX`
//! included, overflows. The [`testing`](crate::testing) fakes drive them
//! without a socket, and [`replay_protocol`](crate::testing::replay_protocol)
//! replays input at every chunk size:
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

mod framed;
mod line;
mod netstring;
mod policies;
mod prefixed;
pub mod wire;

pub use bytes::BytesMut;
pub use framed::{FrameContext, FrameHandler, FramedProtocol};
pub use line::{
    DEFAULT_DELIMITER, DEFAULT_MAX_LINE_LENGTH, Delimiter, LineCodec, LineContext, LineError,
    LineFrame, LineHandler, LineReceiver,
};
pub use netstring::{
    NETSTRING_MAX_LENGTH, NetstringCodec, NetstringContext, NetstringError, NetstringHandler,
    NetstringParseError, NetstringReceiver,
};
pub use policies::{TimeoutFactory, TimeoutProtocol};
pub use prefixed::{
    IntNStringReceiver, PREFIXED_MAX_LENGTH, PrefixLength, PrefixedCodec, PrefixedError,
    StringContext, StringHandler, StringTooLong,
};
pub use tokio_util::codec::{Decoder, Encoder};
