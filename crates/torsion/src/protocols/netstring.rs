//! [`NetstringReceiver`]: netstrings, `<length>:<payload>,` (Twisted's
//! `basic.NetstringReceiver`), a [`NetstringCodec`] on the framing layer.

use std::fmt;
use std::io::IoSlice;

use bytes::BytesMut;

use crate::Failure;
use crate::net::{HalfClose, Transport};
use crate::protocols::framed::{
    FrameContext, FrameHandler, FramedProtocol, protocol_through_framed,
};

mod codec;

pub use codec::{NETSTRING_MAX_LENGTH, NetstringCodec, NetstringError, NetstringParseError};

/// What a netstring protocol does with its strings: the callbacks of a
/// [`NetstringReceiver`]. Only `string_received` is required.
pub trait NetstringHandler: 'static {
    /// The connection is up.
    fn connection_made(&mut self, ctx: &mut NetstringContext<'_>) {
        let _ = ctx;
    }

    /// A netstring's payload arrived.
    fn string_received(&mut self, ctx: &mut NetstringContext<'_>, data: &[u8]);

    /// The peer sent something that is not a netstring. Nothing more is
    /// parsed on this connection afterwards; by default it is closed.
    fn netstring_parse_error(
        &mut self,
        ctx: &mut NetstringContext<'_>,
        error: NetstringParseError,
    ) {
        let _ = error;
        ctx.lose_connection();
    }

    /// The connection is closed; see [`Protocol::connection_lost`](crate::net::Protocol::connection_lost).
    fn connection_lost(&mut self, ctx: &mut NetstringContext<'_>, reason: Failure) {
        let _ = (ctx, reason);
    }

    /// The peer shut down its write side; see
    /// [`Protocol::read_connection_lost`](crate::net::Protocol::read_connection_lost).
    fn read_connection_lost(&mut self, ctx: &mut NetstringContext<'_>) -> HalfClose {
        let _ = ctx;
        HalfClose::Close
    }
}

/// What a [`NetstringHandler`] callback can do: the framing layer's
/// context over a [`NetstringCodec`], with `send_string` added to what
/// every [`FrameContext`] does (write, pause, close, reach the transport).
pub type NetstringContext<'a> = FrameContext<'a, NetstringCodec>;

/// A [`Protocol`](crate::net::Protocol) that reads netstrings and hands their payloads to a
/// [`NetstringHandler`] (Twisted's `NetstringReceiver`): a
/// [`FramedProtocol`] over a [`NetstringCodec`].
///
/// A netstring is its payload's length in decimal (no leading zeros), `:`,
/// the payload, and `,`: `b"5:hello,"`. A length over the maximum
/// ([`NETSTRING_MAX_LENGTH`] unless set with
/// [`with_max_length`](NetstringReceiver::with_max_length)), a length that
/// is not a number, a missing `:` or a missing `,` is a
/// [`NetstringParseError`]: the handler's `netstring_parse_error` runs
/// (closing the connection by default) and nothing more is parsed. No
/// strings are delivered once the transport is closing. While paused,
/// bytes are buffered and nothing is delivered.
///
/// ```
/// use torsion::net::Protocol;
/// use torsion::protocols::{NetstringContext, NetstringHandler, NetstringReceiver};
/// use torsion::testing::StringTransport;
///
/// /// Echoes each string back.
/// struct Echo;
///
/// impl NetstringHandler for Echo {
///     fn string_received(&mut self, ctx: &mut NetstringContext<'_>, data: &[u8]) {
///         ctx.send_string(data);
///     }
/// }
///
/// let fake = StringTransport::new();
/// let mut protocol = NetstringReceiver::new(Echo);
/// fake.make_connection(&mut protocol);
/// protocol.data_received(b"5:hel");
/// protocol.data_received(b"lo,0:,");
/// assert_eq!(fake.take(), b"5:hello,0:,");
/// protocol.data_received(b"3:abc;");
/// assert!(fake.is_disconnecting());
/// ```
pub struct NetstringReceiver<H> {
    framed: FramedProtocol<NetstringCodec, Netstrings<H>>,
}

/// A [`NetstringHandler`] seen as a [`FrameHandler`].
struct Netstrings<H>(H);

impl<H: NetstringHandler> NetstringReceiver<H> {
    /// A netstring receiver with the default maximum length.
    pub fn new(handler: H) -> NetstringReceiver<H> {
        NetstringReceiver {
            framed: FramedProtocol::new(NetstringCodec::new(), Netstrings(handler)),
        }
    }

    /// Sets the longest payload accepted, in bytes.
    pub fn with_max_length(mut self, max_length: usize) -> NetstringReceiver<H> {
        let codec = self.framed.decoder_mut();
        *codec = codec.clone().with_max_length(max_length);
        self
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.framed.handler().0
    }

    /// The handler, mutably.
    pub fn handler_mut(&mut self) -> &mut H {
        &mut self.framed.handler_mut().0
    }

    /// The transport, once connected.
    pub fn transport(&self) -> Option<&Transport> {
        self.framed.transport()
    }

    /// Writes `data` as a netstring (Twisted's `sendString`).
    pub fn send_string(&self, data: &[u8]) {
        send_string(self.framed.transport(), data);
    }

    /// The parse error that stopped parsing, if one did (Twisted's
    /// `brokenPeer`).
    pub fn parse_error(&self) -> Option<NetstringParseError> {
        self.framed.decoder().parse_error()
    }

    /// How many received bytes wait in the buffer.
    pub fn buffered(&self) -> usize {
        self.framed.buffered()
    }

    /// The buffer's capacity: how much memory the bytes received hold.
    #[cfg(test)]
    fn buffer_capacity(&mut self) -> usize {
        self.framed.core_mut().buffer_mut().capacity()
    }
}

/// Writes `data` as a netstring in one vectored write, without copying
/// the payload.
fn send_string(transport: Option<&Transport>, data: &[u8]) {
    if let Some(transport) = transport {
        let length = format!("{}:", data.len());
        transport.write_vectored(&[
            IoSlice::new(length.as_bytes()),
            IoSlice::new(data),
            IoSlice::new(b","),
        ]);
    }
}

impl NetstringContext<'_> {
    /// Writes `data` as a netstring.
    pub fn send_string(&self, data: &[u8]) {
        send_string(self.core.transport(), data);
    }

    /// The longest payload accepted.
    pub fn max_length(&self) -> usize {
        self.core.decoder().max_length()
    }
}

impl<H: NetstringHandler> FrameHandler<NetstringCodec> for Netstrings<H> {
    fn connection_made(&mut self, ctx: &mut NetstringContext<'_>) {
        self.0.connection_made(ctx);
    }

    fn frame_received(&mut self, ctx: &mut NetstringContext<'_>, payload: BytesMut) {
        self.0.string_received(ctx, &payload);
    }

    fn decode_error(&mut self, ctx: &mut NetstringContext<'_>, error: NetstringError) {
        match error {
            NetstringError::Parse(error) => self.0.netstring_parse_error(ctx, error),
            // The codec reads no I/O of its own; this cannot come from it.
            NetstringError::Io(_) => ctx.lose_connection(),
        }
    }

    fn connection_lost(&mut self, ctx: &mut NetstringContext<'_>, reason: Failure) {
        self.0.connection_lost(ctx, reason);
    }

    fn read_connection_lost(&mut self, ctx: &mut NetstringContext<'_>) -> HalfClose {
        self.0.read_connection_lost(ctx)
    }
}

protocol_through_framed!(NetstringReceiver, NetstringHandler);

impl<H: fmt::Debug> fmt::Debug for NetstringReceiver<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetstringReceiver")
            .field("handler", &self.framed.handler().0)
            .field("codec", self.framed.decoder())
            .finish()
    }
}

#[cfg(test)]
mod tests;
