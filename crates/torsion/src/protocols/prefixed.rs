//! [`IntNStringReceiver`]: strings prefixed with their length as a
//! big-endian integer (Twisted's `Int8StringReceiver`,
//! `Int16StringReceiver` and `Int32StringReceiver`), a [`PrefixedCodec`]
//! on the framing layer.

use std::fmt;
use std::io::IoSlice;

use bytes::BytesMut;

use crate::Failure;
use crate::net::{HalfClose, Transport};
use crate::protocols::framed::{
    FrameContext, FrameHandler, FramedProtocol, protocol_through_framed,
};

mod codec;

pub use codec::{PREFIXED_MAX_LENGTH, PrefixLength, PrefixedCodec, PrefixedError, StringTooLong};

/// What a length-prefixed protocol does with its strings: the callbacks of
/// an [`IntNStringReceiver`]. Only `string_received` is required.
pub trait StringHandler: 'static {
    /// The connection is up.
    fn connection_made(&mut self, ctx: &mut StringContext<'_>) {
        let _ = ctx;
    }

    /// A string arrived.
    fn string_received(&mut self, ctx: &mut StringContext<'_>, data: &[u8]);

    /// A prefix announced `length` bytes, more than the maximum. Parsing
    /// stops there (the bytes stay buffered, and the next bytes received
    /// call this again); by default the connection is closed.
    fn length_limit_exceeded(&mut self, ctx: &mut StringContext<'_>, length: usize) {
        let _ = length;
        ctx.lose_connection();
    }

    /// The connection is closed; see [`Protocol::connection_lost`](crate::net::Protocol::connection_lost).
    fn connection_lost(&mut self, ctx: &mut StringContext<'_>, reason: Failure) {
        let _ = (ctx, reason);
    }

    /// The peer shut down its write side; see
    /// [`Protocol::read_connection_lost`](crate::net::Protocol::read_connection_lost).
    fn read_connection_lost(&mut self, ctx: &mut StringContext<'_>) -> HalfClose {
        let _ = ctx;
        HalfClose::Close
    }
}

/// A [`Protocol`](crate::net::Protocol) that reads strings prefixed with their length and hands
/// them to a [`StringHandler`] (Twisted's `IntNStringReceiver` family): a
/// [`FramedProtocol`] over a [`PrefixedCodec`].
///
/// The prefix is one, two or four bytes, big-endian ([`PrefixLength`]). A
/// prefix announcing more than the maximum ([`PREFIXED_MAX_LENGTH`] unless
/// set with [`with_max_length`](IntNStringReceiver::with_max_length)) goes
/// to `length_limit_exceeded`, which closes the connection by default.
/// [`send_string`](IntNStringReceiver::send_string) refuses, synchronously,
/// a string the prefix cannot announce. A prefix over the maximum that the
/// hook lets pass stops parsing there: the bytes stay buffered, and the
/// next bytes received call the hook again. While paused, bytes are buffered and
/// nothing is delivered; resuming delivers what was buffered. No strings
/// are delivered once the transport is closing.
///
/// ```
/// use torsion::net::Protocol;
/// use torsion::protocols::{IntNStringReceiver, StringContext, StringHandler, StringTooLong};
/// use torsion::testing::StringTransport;
///
/// #[derive(Default)]
/// struct Collect(Vec<Vec<u8>>);
///
/// impl StringHandler for Collect {
///     fn string_received(&mut self, _: &mut StringContext<'_>, data: &[u8]) {
///         self.0.push(data.to_vec());
///     }
/// }
///
/// let fake = StringTransport::new();
/// let mut protocol = IntNStringReceiver::int32(Collect::default());
/// fake.make_connection(&mut protocol);
/// protocol.data_received(b"\x00\x00\x00\x02hi\x00\x00");
/// protocol.data_received(b"\x00\x00");
/// assert_eq!(protocol.handler().0, vec![b"hi".to_vec(), b"".to_vec()]);
///
/// let mut short = IntNStringReceiver::int8(Collect::default());
/// fake.make_connection(&mut short);
/// assert!(matches!(short.send_string(&[0; 256]), Err(StringTooLong { length: 256, .. })));
/// ```
pub struct IntNStringReceiver<H> {
    framed: FramedProtocol<PrefixedCodec, Strings<H>>,
}

/// A [`StringHandler`] seen as a [`FrameHandler`].
struct Strings<H>(H);

/// What a [`StringHandler`] callback can do: the framing layer's context
/// over a [`PrefixedCodec`], with `send_string` added to what every
/// [`FrameContext`] does (write, pause, close, reach the transport).
pub type StringContext<'a> = FrameContext<'a, PrefixedCodec>;

impl<H: StringHandler> IntNStringReceiver<H> {
    /// A receiver with a `prefix`-sized length prefix and the default
    /// maximum length.
    pub fn new(prefix: PrefixLength, handler: H) -> IntNStringReceiver<H> {
        IntNStringReceiver {
            framed: FramedProtocol::new(PrefixedCodec::new(prefix), Strings(handler)),
        }
    }

    /// A receiver with a one-byte prefix (Twisted's `Int8StringReceiver`).
    pub fn int8(handler: H) -> IntNStringReceiver<H> {
        IntNStringReceiver::new(PrefixLength::Int8, handler)
    }

    /// A receiver with a two-byte prefix (Twisted's `Int16StringReceiver`).
    pub fn int16(handler: H) -> IntNStringReceiver<H> {
        IntNStringReceiver::new(PrefixLength::Int16, handler)
    }

    /// A receiver with a four-byte prefix (Twisted's `Int32StringReceiver`).
    pub fn int32(handler: H) -> IntNStringReceiver<H> {
        IntNStringReceiver::new(PrefixLength::Int32, handler)
    }

    /// Sets the longest string accepted, in bytes.
    pub fn with_max_length(mut self, max_length: usize) -> IntNStringReceiver<H> {
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

    /// The prefix size.
    pub fn prefix(&self) -> PrefixLength {
        self.framed.decoder().prefix()
    }

    /// Writes `data` after its length prefix (Twisted's `sendString`), or
    /// refuses, writing nothing, if the prefix cannot announce its length.
    pub fn send_string(&self, data: &[u8]) -> Result<(), StringTooLong> {
        send_string(self.framed.transport(), self.prefix(), data)
    }

    /// How many received bytes wait in the buffer.
    pub fn buffered(&self) -> usize {
        self.framed.buffered()
    }

    /// True while paused.
    pub fn is_paused(&self) -> bool {
        self.framed.is_paused()
    }

    /// Stops delivering strings and pauses reading from the transport; what
    /// arrives meanwhile is buffered.
    pub fn pause_producing(&mut self) {
        self.framed.pause_producing();
    }

    /// Resumes reading and delivers what was buffered.
    pub fn resume_producing(&mut self) {
        self.framed.resume_producing();
    }

    /// Pauses for good and closes the connection.
    pub fn stop_producing(&mut self) {
        self.framed.stop_producing();
    }

    /// The buffer's capacity: how much memory the bytes received hold.
    #[cfg(test)]
    fn buffer_capacity(&mut self) -> usize {
        self.framed.core_mut().buffer_mut().capacity()
    }
}

/// Writes the prefix and `data` in one vectored write, without copying
/// the string.
fn send_string(
    transport: Option<&Transport>,
    prefix: PrefixLength,
    data: &[u8],
) -> Result<(), StringTooLong> {
    prefix.check(data.len())?;
    if let Some(transport) = transport {
        let encoded = prefix.encode(data.len());
        transport.write_vectored(&[IoSlice::new(&encoded[..prefix.bytes()]), IoSlice::new(data)]);
    }
    Ok(())
}

impl StringContext<'_> {
    /// Writes `data` after its length prefix, or refuses if the prefix
    /// cannot announce its length.
    pub fn send_string(&self, data: &[u8]) -> Result<(), StringTooLong> {
        send_string(self.core.transport(), self.prefix(), data)
    }

    /// The prefix size.
    pub fn prefix(&self) -> PrefixLength {
        self.core.decoder().prefix()
    }

    /// The longest string accepted.
    pub fn max_length(&self) -> usize {
        self.core.decoder().max_length()
    }
}

impl<H: StringHandler> FrameHandler<PrefixedCodec> for Strings<H> {
    fn connection_made(&mut self, ctx: &mut StringContext<'_>) {
        self.0.connection_made(ctx);
    }

    fn frame_received(&mut self, ctx: &mut StringContext<'_>, data: BytesMut) {
        self.0.string_received(ctx, &data);
    }

    fn decode_error(&mut self, ctx: &mut StringContext<'_>, error: PrefixedError) {
        match error {
            PrefixedError::LengthLimitExceeded { length, .. } => {
                let length = usize::try_from(length).unwrap_or(usize::MAX);
                self.0.length_limit_exceeded(ctx, length);
            }
            // The codec reads no I/O of its own and the receiver encodes
            // without it; neither can come from it here.
            PrefixedError::StringTooLong(_) | PrefixedError::Io(_) => ctx.lose_connection(),
        }
    }

    fn connection_lost(&mut self, ctx: &mut StringContext<'_>, reason: Failure) {
        self.0.connection_lost(ctx, reason);
    }

    fn read_connection_lost(&mut self, ctx: &mut StringContext<'_>) -> HalfClose {
        self.0.read_connection_lost(ctx)
    }
}

protocol_through_framed!(IntNStringReceiver, StringHandler);

impl<H: fmt::Debug> fmt::Debug for IntNStringReceiver<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntNStringReceiver")
            .field("handler", &self.framed.handler().0)
            .field("prefix", &self.framed.decoder().prefix())
            .field("paused", &self.framed.is_paused())
            .field("buffered", &self.framed.buffered())
            .finish()
    }
}

#[cfg(test)]
mod tests;
