//! [`LineReceiver`]: lines split on a delimiter, with a raw mode
//! (Twisted's `basic.LineReceiver`), a [`LineCodec`] on the framing layer.

use std::fmt;
use std::io::IoSlice;

use crate::Failure;
use crate::net::{HalfClose, Transport};
use crate::protocols::framed::{
    FrameContext, FrameHandler, FramedProtocol, protocol_through_framed,
};

mod codec;

pub use codec::{DEFAULT_MAX_LINE_LENGTH, Delimiter, LineCodec, LineError, LineFrame};

/// The default line delimiter, `b"\r\n"` ([`Delimiter::CrLf`]).
pub const DEFAULT_DELIMITER: &[u8] = b"\r\n";

/// What a line-based protocol does with its lines: the callbacks of a
/// [`LineReceiver`].
///
/// Each callback gets a [`LineContext`] to write lines, switch between line
/// and raw mode, pause, and reach the transport. Only `line_received` is
/// required.
pub trait LineHandler: 'static {
    /// The connection is up.
    fn connection_made(&mut self, ctx: &mut LineContext<'_>) {
        let _ = ctx;
    }

    /// A line arrived, without its delimiter.
    fn line_received(&mut self, ctx: &mut LineContext<'_>, line: &[u8]);

    /// Bytes arrived in raw mode (after [`LineContext::set_raw_mode`]).
    fn raw_data_received(&mut self, ctx: &mut LineContext<'_>, data: &[u8]) {
        let _ = (ctx, data);
    }

    /// A line longer than the maximum arrived, or that many bytes arrived
    /// without a delimiter. `buffer` is what was buffered, the long line
    /// first; the buffer is then empty. By default the connection is
    /// closed.
    fn line_length_exceeded(&mut self, ctx: &mut LineContext<'_>, buffer: &[u8]) {
        let _ = buffer;
        ctx.lose_connection();
    }

    /// The connection is closed; see [`Protocol::connection_lost`](crate::net::Protocol::connection_lost).
    fn connection_lost(&mut self, ctx: &mut LineContext<'_>, reason: Failure) {
        let _ = (ctx, reason);
    }

    /// The peer shut down its write side; see
    /// [`Protocol::read_connection_lost`](crate::net::Protocol::read_connection_lost).
    fn read_connection_lost(&mut self, ctx: &mut LineContext<'_>) -> HalfClose {
        let _ = ctx;
        HalfClose::Close
    }
}

/// What a [`LineHandler`] callback can do: the framing layer's context
/// over a [`LineCodec`], which adds writing lines, switching modes and
/// clearing the buffer to what every [`FrameContext`] does (write, pause,
/// close, reach the transport).
pub type LineContext<'a> = FrameContext<'a, LineCodec>;

/// A [`Protocol`](crate::net::Protocol) that splits what it receives into lines and hands them to
/// a [`LineHandler`] (Twisted's `LineReceiver`): a [`FramedProtocol`] over
/// a [`LineCodec`].
///
/// Lines end with the delimiter ([`Delimiter::CrLf`] unless set with
/// [`with_delimiter`](LineReceiver::with_delimiter);
/// [`Delimiter::CrLfOrLf`] takes both `\n` and `\r\n`) and are delivered
/// without it. A line longer than the maximum
/// ([`DEFAULT_MAX_LINE_LENGTH`]), or a buffer without a delimiter that
/// reaches the maximum plus the delimiter's length, goes to
/// `line_length_exceeded` instead, which closes the connection unless
/// overridden; the buffer is then cleared, and parsing goes on with
/// whatever the hook put back with `set_line_mode(extra)` if the connection
/// is still open.
///
/// In raw mode every byte, including the rest of the current buffer, goes
/// to `raw_data_received`; `set_line_mode(extra)` switches back and parses
/// `extra` as lines. Switches made inside a callback take effect from the
/// very next byte. No more lines or raw data are delivered once the
/// transport is closing (after `lose_connection`). While paused, bytes are
/// buffered and nothing is delivered; resuming delivers what was buffered.
///
/// ```
/// use torsion::protocols::{LineContext, LineHandler, LineReceiver};
/// use torsion::testing::StringTransport;
/// use torsion::net::Protocol;
///
/// /// Answers each line with its length.
/// struct Measure;
///
/// impl LineHandler for Measure {
///     fn line_received(&mut self, ctx: &mut LineContext<'_>, line: &[u8]) {
///         ctx.send_line(line.len().to_string().as_bytes());
///     }
/// }
///
/// let fake = StringTransport::new();
/// let mut protocol = LineReceiver::new(Measure);
/// fake.make_connection(&mut protocol);
/// protocol.data_received(b"hello\r\nwor");
/// protocol.data_received(b"ld!\r\n");
/// assert_eq!(fake.value(), b"5\r\n6\r\n");
/// ```
pub struct LineReceiver<H> {
    framed: FramedProtocol<LineCodec, Lines<H>>,
}

/// A [`LineHandler`] seen as a [`FrameHandler`].
struct Lines<H>(H);

impl<H: LineHandler> LineReceiver<H> {
    /// A line receiver with the default delimiter and maximum length.
    pub fn new(handler: H) -> LineReceiver<H> {
        LineReceiver {
            framed: FramedProtocol::new(LineCodec::new(), Lines(handler)),
        }
    }

    /// Splits lines on `delimiter` instead: a [`Delimiter`], or its bytes.
    ///
    /// # Panics
    ///
    /// If the delimiter's bytes are empty.
    pub fn with_delimiter(mut self, delimiter: impl Into<Delimiter>) -> LineReceiver<H> {
        let codec = self.framed.decoder_mut();
        *codec = codec.clone().with_delimiter(delimiter);
        self
    }

    /// Sets the longest line accepted, in bytes, not counting the
    /// delimiter.
    pub fn with_max_length(mut self, max_length: usize) -> LineReceiver<H> {
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

    /// Writes `line` followed by the delimiter (Twisted's `sendLine`).
    pub fn send_line(&self, line: &[u8]) {
        send_line(self.framed.transport(), self.framed.decoder(), line);
    }

    /// True in raw mode.
    pub fn is_raw_mode(&self) -> bool {
        self.framed.decoder().is_raw_mode()
    }

    /// Sends what arrives from now on to `raw_data_received`.
    pub fn set_raw_mode(&mut self) {
        self.framed.decoder_mut().set_raw_mode();
    }

    /// Splits what arrives into lines again, starting with `extra`, which
    /// is parsed (and delivered) at once.
    pub fn set_line_mode(&mut self, extra: &[u8]) {
        self.framed.decoder_mut().set_line_mode();
        self.framed.feed(extra);
    }

    /// Returns the buffered bytes not yet delivered and drops them
    /// (Twisted's `clearLineBuffer`).
    pub fn clear_line_buffer(&mut self) -> Vec<u8> {
        self.framed.decoder_mut().restart_search();
        self.framed.take_buffer().to_vec()
    }

    /// True while paused.
    pub fn is_paused(&self) -> bool {
        self.framed.is_paused()
    }

    /// Stops delivering lines and pauses reading from the transport; what
    /// arrives meanwhile is buffered (Twisted's `pauseProducing`).
    pub fn pause_producing(&mut self) {
        self.framed.pause_producing();
    }

    /// Resumes reading and delivers what was buffered (Twisted's
    /// `resumeProducing`).
    pub fn resume_producing(&mut self) {
        self.framed.resume_producing();
    }

    /// Pauses for good and closes the connection (Twisted's
    /// `stopProducing`).
    pub fn stop_producing(&mut self) {
        self.framed.stop_producing();
    }
}

/// Writes `line` and the codec's delimiter in one vectored write, without
/// copying the line.
fn send_line(transport: Option<&Transport>, codec: &LineCodec, line: &[u8]) {
    if let Some(transport) = transport {
        let delimiter = codec.delimiter().as_sent();
        transport.write_vectored(&[IoSlice::new(line), IoSlice::new(delimiter)]);
    }
}

impl LineContext<'_> {
    /// Writes `line` followed by the delimiter.
    pub fn send_line(&self, line: &[u8]) {
        send_line(self.core.transport(), self.core.decoder(), line);
    }

    /// The delimiter lines are split on.
    pub fn delimiter(&self) -> &Delimiter {
        self.core.decoder().delimiter()
    }

    /// The longest line accepted.
    pub fn max_length(&self) -> usize {
        self.core.decoder().max_length()
    }

    /// True in raw mode.
    pub fn is_raw_mode(&self) -> bool {
        self.core.decoder().is_raw_mode()
    }

    /// Sends every byte from the next one on, including the rest of the
    /// current buffer, to `raw_data_received`.
    pub fn set_raw_mode(&mut self) {
        self.core.decoder_mut().set_raw_mode();
    }

    /// Splits bytes into lines again from the next one on; `extra` is put
    /// in front of the buffer and parsed as lines first.
    pub fn set_line_mode(&mut self, extra: &[u8]) {
        self.core.decoder_mut().set_line_mode();
        self.core.unread(extra);
    }

    /// Returns the buffered bytes not yet delivered and drops them.
    pub fn clear_line_buffer(&mut self) -> Vec<u8> {
        self.core.decoder_mut().restart_search();
        self.core.buffer_mut().split().to_vec()
    }
}

impl<H: LineHandler> FrameHandler<LineCodec> for Lines<H> {
    fn connection_made(&mut self, ctx: &mut LineContext<'_>) {
        self.0.connection_made(ctx);
    }

    fn frame_received(&mut self, ctx: &mut LineContext<'_>, frame: LineFrame) {
        match frame {
            LineFrame::Line(line) => self.0.line_received(ctx, &line),
            LineFrame::Raw(data) => self.0.raw_data_received(ctx, &data),
        }
    }

    fn decode_error(&mut self, ctx: &mut LineContext<'_>, error: LineError) {
        match error {
            LineError::TooLong { buffered, .. } => self.0.line_length_exceeded(ctx, &buffered),
            // The codec reads no I/O of its own; this cannot come from it.
            LineError::Io(_) => ctx.lose_connection(),
        }
    }

    fn connection_lost(&mut self, ctx: &mut LineContext<'_>, reason: Failure) {
        self.0.connection_lost(ctx, reason);
    }

    fn read_connection_lost(&mut self, ctx: &mut LineContext<'_>) -> HalfClose {
        self.0.read_connection_lost(ctx)
    }
}

protocol_through_framed!(LineReceiver, LineHandler);

impl<H: fmt::Debug> fmt::Debug for LineReceiver<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LineReceiver")
            .field("handler", &self.framed.handler().0)
            .field("raw", &self.framed.decoder().is_raw_mode())
            .field("paused", &self.framed.is_paused())
            .field("buffered", &self.framed.buffered())
            .finish()
    }
}

#[cfg(test)]
mod tests;
