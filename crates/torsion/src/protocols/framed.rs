//! [`FramedProtocol`]: the one framing layer. A [`Decoder`] cuts the byte
//! stream into frames, a [`FrameHandler`] gets them.
//!
//! ```text
//!  data_received(chunk) ──► buffer (BytesMut) ──► decoder.decode(&mut buffer)
//!                               ▲                      │ Some(frame) / Err(error)
//!                               │                      ▼
//!            unread / take_buffer ◄──── handler.frame_received(ctx, frame)
//! ```
//!
//! The delivery loop checks, before every frame, that delivery is not
//! paused (by [`FrameContext::pause_producing`] or by the transport's own
//! [`pause_reading`](Transport::pause_reading)) and the transport is not
//! closing, so a handler that pauses, stops or loses the connection gets
//! no further frame from the bytes already buffered. Frames held back by a
//! paused transport go on when reading resumes
//! ([`Protocol::reading_resumed`]), without waiting for new bytes. A decoder's mode lives in the decoder: a handler that
//! switches it (through [`FrameContext::decoder_mut`]) has the very next
//! byte decoded in the new mode.

use std::fmt;

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

use crate::Failure;
use crate::net::{HalfClose, Protocol, Transport};

/// What a framed protocol does with its frames: the callbacks of a
/// [`FramedProtocol`] whose decoder is `D`. Only `frame_received` is
/// required.
///
/// Every callback runs on the reactor thread and gets a [`FrameContext`]
/// to write, encode, pause, close, or switch the decoder's mode.
pub trait FrameHandler<D: Decoder>: 'static {
    /// The connection is up.
    fn connection_made(&mut self, ctx: &mut FrameContext<'_, D>) {
        let _ = ctx;
    }

    /// The decoder produced a frame.
    fn frame_received(&mut self, ctx: &mut FrameContext<'_, D>, frame: D::Item);

    /// The decoder failed. By default the connection is closed.
    ///
    /// If the connection stays open, the decoder is asked again: one that
    /// recovers by itself (skipping the bad input, as tokio's `LinesCodec`
    /// does after a long line) goes on delivering frames. One that fails
    /// again at once without consuming a byte is left alone, without a
    /// second report, until more bytes arrive, so that failing on the same
    /// bytes cannot spin the reactor.
    fn decode_error(&mut self, ctx: &mut FrameContext<'_, D>, error: D::Error) {
        let _ = error;
        ctx.lose_connection();
    }

    /// The connection is closed; see [`Protocol::connection_lost`].
    fn connection_lost(&mut self, ctx: &mut FrameContext<'_, D>, reason: Failure) {
        let _ = (ctx, reason);
    }

    /// The peer shut down its write side, after the decoder's
    /// [`decode_eof`](Decoder::decode_eof) has had the buffered bytes; see
    /// [`Protocol::read_connection_lost`].
    fn read_connection_lost(&mut self, ctx: &mut FrameContext<'_, D>) -> HalfClose {
        let _ = ctx;
        HalfClose::Close
    }
}

/// A [`Protocol`] that feeds what it receives to a [`Decoder`] and hands
/// each frame to a [`FrameHandler`].
///
/// Any `tokio_util::codec` decoder works, an ecosystem codec as well as
/// torsion's [`LineCodec`](crate::protocols::LineCodec),
/// [`NetstringCodec`](crate::protocols::NetstringCodec) and
/// [`PrefixedCodec`](crate::protocols::PrefixedCodec); a new protocol is a
/// decoder plus a handler. Frames split from the buffer are handed over
/// without a copy when the decoder uses `BytesMut::split_to`, as torsion's
/// do.
///
/// While paused, bytes are buffered and nothing is delivered; resuming
/// delivers what was buffered. Paused means paused here
/// ([`pause_producing`](Self::pause_producing)) or on the transport
/// ([`Transport::pause_reading`], whoever called it): Twisted's
/// `LineReceiver` only heeds its own pause, but a handler that pauses its
/// transport wants no more frames either. Nothing is delivered once the transport is
/// closing. When the peer half-closes, the decoder's `decode_eof` gets
/// what is buffered (a codec whose last frame ends at the end of the
/// stream delivers it there).
///
/// ```
/// use torsion::net::Protocol;
/// use torsion::protocols::{FrameContext, FrameHandler, FramedProtocol};
/// use torsion::testing::StringTransport;
/// use tokio_util::codec::LinesCodec;
///
/// /// Answers every line with its length, through the codec's encoder.
/// struct Measure;
///
/// impl FrameHandler<LinesCodec> for Measure {
///     fn frame_received(&mut self, ctx: &mut FrameContext<'_, LinesCodec>, line: String) {
///         ctx.send(line.len().to_string()).unwrap();
///     }
/// }
///
/// let fake = StringTransport::new();
/// let mut protocol = FramedProtocol::new(LinesCodec::new(), Measure);
/// fake.make_connection(&mut protocol);
/// protocol.data_received(b"hello\nwor");
/// protocol.data_received(b"ld!\n");
/// assert_eq!(fake.value(), b"5\n6\n");
/// ```
pub struct FramedProtocol<D, H> {
    handler: H,
    core: FrameCore<D>,
}

/// Everything but the handler, so that a context can borrow it while the
/// handler runs.
pub(crate) struct FrameCore<D> {
    transport: Option<Transport>,
    decoder: D,
    /// Received bytes the decoder has not consumed.
    buffer: BytesMut,
    /// Where [`FrameContext::send`] encodes, kept to reuse its allocation.
    encoded: BytesMut,
    paused: bool,
    /// Delivery stopped because the transport's reading was paused; the
    /// buffered frames go on when it resumes.
    held_by_transport: bool,
}

/// What a [`FrameHandler`] callback can do: write and encode, pause,
/// close, switch the decoder's mode, and rework the buffered bytes.
///
/// The basic protocols' contexts ([`LineContext`](crate::protocols::LineContext),
/// [`NetstringContext`](crate::protocols::NetstringContext),
/// [`StringContext`](crate::protocols::StringContext)) are this type with
/// their codec, with a few methods of their own.
pub struct FrameContext<'a, D> {
    pub(crate) core: &'a mut FrameCore<D>,
}

impl<D: Decoder, H: FrameHandler<D>> FramedProtocol<D, H> {
    /// A protocol that decodes with `decoder` and delivers to `handler`.
    pub fn new(decoder: D, handler: H) -> FramedProtocol<D, H> {
        FramedProtocol {
            handler,
            core: FrameCore {
                transport: None,
                decoder,
                buffer: BytesMut::new(),
                encoded: BytesMut::new(),
                paused: false,
                held_by_transport: false,
            },
        }
    }

    /// Returns the buffered bytes not yet decoded and drops them.
    pub fn take_buffer(&mut self) -> BytesMut {
        self.core.buffer.split()
    }

    /// Stops delivering frames and pauses reading from the transport; what
    /// arrives meanwhile is buffered (Twisted's `pauseProducing`).
    pub fn pause_producing(&mut self) {
        self.core.pause();
    }

    /// Resumes reading and delivers what was buffered (Twisted's
    /// `resumeProducing`).
    pub fn resume_producing(&mut self) {
        self.core.resume();
        self.deliver();
    }

    /// Pauses for good and closes the connection (Twisted's
    /// `stopProducing`).
    pub fn stop_producing(&mut self) {
        self.core.pause();
        self.core.lose_connection();
    }

    /// Appends `data` to the buffer and delivers what can be delivered.
    pub(crate) fn feed(&mut self, data: &[u8]) {
        self.core.buffer.extend_from_slice(data);
        self.deliver();
    }

    /// The core, for tests that look at the buffer itself.
    #[cfg(test)]
    pub(crate) fn core_mut(&mut self) -> &mut FrameCore<D> {
        &mut self.core
    }

    fn context(&mut self) -> (&mut H, FrameContext<'_, D>) {
        (
            &mut self.handler,
            FrameContext {
                core: &mut self.core,
            },
        )
    }

    /// The delivery loop: the pause flag and the transport are checked
    /// again before every decode, so what a handler does applies to the
    /// very next frame.
    fn deliver(&mut self) {
        // Set when the last decode failed without consuming a byte; a
        // second such failure in a row waits for more bytes instead of
        // spinning on the same input.
        let mut stalled = false;
        self.core.held_by_transport = false;
        while !self.core.buffer.is_empty() && self.core.may_deliver() {
            let before = self.core.buffer.len();
            match self.core.decoder.decode(&mut self.core.buffer) {
                Ok(Some(frame)) => {
                    stalled = false;
                    let (handler, mut ctx) = self.context();
                    handler.frame_received(&mut ctx, frame);
                }
                Ok(None) => return,
                Err(error) => {
                    let consumed = self.core.buffer.len() < before;
                    if stalled && !consumed {
                        return;
                    }
                    stalled = !consumed;
                    let (handler, mut ctx) = self.context();
                    handler.decode_error(&mut ctx, error);
                }
            }
        }
    }

    /// Hands what is buffered to `decode_eof` once the peer has finished
    /// sending.
    fn deliver_at_eof(&mut self) {
        while self.core.may_deliver() {
            match self.core.decoder.decode_eof(&mut self.core.buffer) {
                Ok(Some(frame)) => {
                    let (handler, mut ctx) = self.context();
                    handler.frame_received(&mut ctx, frame);
                }
                Ok(None) => return,
                Err(error) => {
                    let (handler, mut ctx) = self.context();
                    handler.decode_error(&mut ctx, error);
                    return;
                }
            }
        }
    }
}

impl<D, H> FramedProtocol<D, H> {
    /// The handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// The handler, mutably.
    pub fn handler_mut(&mut self) -> &mut H {
        &mut self.handler
    }

    /// The decoder.
    pub fn decoder(&self) -> &D {
        &self.core.decoder
    }

    /// The decoder, mutably: a mode switched here applies to the next
    /// bytes received.
    pub fn decoder_mut(&mut self) -> &mut D {
        &mut self.core.decoder
    }

    /// The transport, once connected.
    pub fn transport(&self) -> Option<&Transport> {
        self.core.transport.as_ref()
    }

    /// How many received bytes wait in the buffer.
    pub fn buffered(&self) -> usize {
        self.core.buffer.len()
    }

    /// True while paused with `pause_producing` (a pause of the transport
    /// alone shows in [`Transport::is_reading_paused`]).
    pub fn is_paused(&self) -> bool {
        self.core.paused
    }
}

impl<D> FrameCore<D> {
    pub(crate) fn transport(&self) -> Option<&Transport> {
        self.transport.as_ref()
    }

    pub(crate) fn decoder(&self) -> &D {
        &self.decoder
    }

    pub(crate) fn decoder_mut(&mut self) -> &mut D {
        &mut self.decoder
    }

    pub(crate) fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buffer
    }

    /// Whether the next frame may go out; notes when the transport's
    /// pause is what stops it, so that resuming knows to deliver.
    fn may_deliver(&mut self) -> bool {
        let Some(transport) = &self.transport else {
            return !self.paused;
        };
        if self.paused || !transport.is_open() {
            return false;
        }
        if transport.is_reading_paused() {
            self.held_by_transport = true;
            return false;
        }
        true
    }

    pub(crate) fn lose_connection(&self) {
        if let Some(transport) = &self.transport {
            transport.lose_connection();
        }
    }

    pub(crate) fn pause(&mut self) {
        self.paused = true;
        if let Some(transport) = &self.transport {
            transport.pause_reading();
        }
    }

    pub(crate) fn resume(&mut self) {
        self.paused = false;
        if let Some(transport) = &self.transport {
            transport.resume_reading();
        }
    }

    /// Puts `data` back in front of the buffered bytes.
    pub(crate) fn unread(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        if self.buffer.is_empty() {
            self.buffer.extend_from_slice(data);
            return;
        }
        let mut joined = BytesMut::with_capacity(data.len() + self.buffer.len());
        joined.extend_from_slice(data);
        joined.extend_from_slice(&self.buffer);
        self.buffer = joined;
    }
}

impl<D> FrameContext<'_, D> {
    /// The transport, once connected.
    pub fn transport(&self) -> Option<&Transport> {
        self.core.transport.as_ref()
    }

    /// Writes `data` as it is.
    pub fn write(&self, data: &[u8]) {
        if let Some(transport) = &self.core.transport {
            transport.write(data);
        }
    }

    /// Encodes `item` with the codec and writes it; on an encoding error
    /// nothing is written.
    pub fn send<I>(&mut self, item: I) -> Result<(), <D as Encoder<I>>::Error>
    where
        D: Encoder<I>,
    {
        let core = &mut *self.core;
        core.encoded.clear();
        core.decoder.encode(item, &mut core.encoded)?;
        if let Some(transport) = &core.transport {
            transport.write(&core.encoded);
        }
        Ok(())
    }

    /// Closes the connection once what is written has been sent; no more
    /// frames are delivered, not even those already buffered.
    pub fn lose_connection(&self) {
        self.core.lose_connection()
    }

    /// The decoder.
    pub fn decoder(&self) -> &D {
        &self.core.decoder
    }

    /// The decoder, mutably: a mode switched here applies from the next
    /// byte on, including the rest of the bytes already buffered.
    pub fn decoder_mut(&mut self) -> &mut D {
        &mut self.core.decoder
    }

    /// How many received bytes wait in the buffer, not yet decoded.
    pub fn buffered(&self) -> usize {
        self.core.buffer.len()
    }

    /// Returns the buffered bytes not yet decoded and drops them.
    ///
    /// A decoder that remembers how far it has searched the buffer
    /// between calls (tokio's `LinesCodec` does) expects bytes only to be
    /// appended and consumed by itself: reset it after this.
    /// [`LineContext::clear_line_buffer`](crate::protocols::LineContext::clear_line_buffer)
    /// does that for [`LineCodec`](crate::protocols::LineCodec).
    pub fn take_buffer(&mut self) -> BytesMut {
        self.core.buffer.split()
    }

    /// Puts `data` back in front of the buffered bytes, to be decoded
    /// next (after a mode switch, the bytes a handler took and did not
    /// use). The same caution as for [`take_buffer`](Self::take_buffer)
    /// applies to decoders that remember a search position.
    pub fn unread(&mut self, data: &[u8]) {
        self.core.unread(data)
    }

    /// True while paused with `pause_producing` (a pause of the transport
    /// alone shows in [`Transport::is_reading_paused`]).
    pub fn is_paused(&self) -> bool {
        self.core.paused
    }

    /// Stops delivery after this callback, buffering what arrives, and
    /// pauses reading from the transport; resume with
    /// [`resume_producing`](Self::resume_producing) here or
    /// [`FramedProtocol::resume_producing`] later.
    ///
    /// Pausing the transport itself
    /// ([`pause_reading`](Transport::pause_reading)) also stops delivery
    /// after this callback; the frames held back then go on when the
    /// transport's reading resumes.
    pub fn pause_producing(&mut self) {
        self.core.pause();
    }

    /// Resumes delivery (it goes on after this callback returns) and
    /// reading.
    pub fn resume_producing(&mut self) {
        self.core.resume();
    }

    /// Pauses for good and closes the connection (Twisted's
    /// `stopProducing`).
    pub fn stop_producing(&mut self) {
        self.core.pause();
        self.core.lose_connection();
    }
}

impl<D: Decoder + 'static, H: FrameHandler<D>> Protocol for FramedProtocol<D, H> {
    fn connection_made(&mut self, transport: &Transport) {
        self.core.transport = Some(transport.clone());
        let (handler, mut ctx) = self.context();
        handler.connection_made(&mut ctx);
    }

    fn data_received(&mut self, data: &[u8]) {
        self.feed(data);
    }

    fn connection_lost(&mut self, reason: Failure) {
        let (handler, mut ctx) = self.context();
        handler.connection_lost(&mut ctx, reason);
    }

    fn read_connection_lost(&mut self) -> HalfClose {
        self.deliver_at_eof();
        let (handler, mut ctx) = self.context();
        handler.read_connection_lost(&mut ctx)
    }

    fn reading_resumed(&mut self) {
        if std::mem::take(&mut self.core.held_by_transport) {
            self.deliver();
        }
    }
}

impl<D: fmt::Debug, H: fmt::Debug> fmt::Debug for FramedProtocol<D, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FramedProtocol")
            .field("handler", &self.handler)
            .field("decoder", &self.core.decoder)
            .field("paused", &self.core.paused)
            .field("buffered", &self.core.buffer.len())
            .finish()
    }
}

impl<D: fmt::Debug> fmt::Debug for FrameContext<'_, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameContext")
            .field("decoder", &self.core.decoder)
            .field("paused", &self.core.paused)
            .field("buffered", &self.core.buffer.len())
            .finish()
    }
}

/// Makes a receiver that keeps its [`FramedProtocol`] in a field named
/// `framed` a [`Protocol`] through it: the one delegation every receiver
/// built on this layer (lines, netstrings, length-prefixed strings) needs.
macro_rules! protocol_through_framed {
    ($receiver:ident, $handler:ident) => {
        impl<H: $handler> $crate::net::Protocol for $receiver<H> {
            fn connection_made(&mut self, transport: &$crate::net::Transport) {
                self.framed.connection_made(transport);
            }

            fn data_received(&mut self, data: &[u8]) {
                self.framed.data_received(data);
            }

            fn connection_lost(&mut self, reason: $crate::Failure) {
                self.framed.connection_lost(reason);
            }

            fn read_connection_lost(&mut self) -> $crate::net::HalfClose {
                self.framed.read_connection_lost()
            }

            fn reading_resumed(&mut self) {
                self.framed.reading_resumed();
            }
        }
    };
}
pub(super) use protocol_through_framed;

#[cfg(test)]
mod tests;
