//! [`IntNStringReceiver`]: strings prefixed with their length as a
//! big-endian integer (Twisted's `Int8StringReceiver`,
//! `Int16StringReceiver` and `Int32StringReceiver`).

use std::fmt;
use std::io::IoSlice;

use crate::Failure;
use crate::net::{HalfClose, Protocol, Transport};

/// The default longest string accepted, in bytes (Twisted's
/// `MAX_LENGTH`).
pub const PREFIXED_MAX_LENGTH: usize = 99999;

/// The size of the length prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrefixLength {
    /// One byte (Twisted's `Int8StringReceiver`, `"!B"`).
    Int8,
    /// Two bytes, big-endian (`Int16StringReceiver`, `"!H"`).
    Int16,
    /// Four bytes, big-endian (`Int32StringReceiver`, `"!I"`).
    Int32,
}

impl PrefixLength {
    /// How many bytes the prefix takes.
    pub fn bytes(self) -> usize {
        match self {
            PrefixLength::Int8 => 1,
            PrefixLength::Int16 => 2,
            PrefixLength::Int32 => 4,
        }
    }

    /// The length of the longest string the prefix can announce.
    pub fn max_encodable(self) -> u64 {
        (1u64 << (8 * self.bytes())) - 1
    }

    fn encode(self, length: usize) -> [u8; 4] {
        let be = (length as u32).to_be_bytes();
        let mut out = [0; 4];
        out[..self.bytes()].copy_from_slice(&be[4 - self.bytes()..]);
        out
    }

    fn decode(self, prefix: &[u8]) -> usize {
        prefix[..self.bytes()]
            .iter()
            .fold(0usize, |value, &byte| (value << 8) | usize::from(byte))
    }
}

/// A string too long for its length prefix was given to `send_string`
/// (Twisted's `StringTooLongError`). Nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a string of {length} bytes is too long for a {prefix:?} length prefix")]
pub struct StringTooLong {
    /// The string's length.
    pub length: usize,
    /// The prefix it did not fit.
    pub prefix: PrefixLength,
}

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

    /// The connection is closed; see [`Protocol::connection_lost`].
    fn connection_lost(&mut self, ctx: &mut StringContext<'_>, reason: Failure) {
        let _ = (ctx, reason);
    }

    /// The peer shut down its write side; see
    /// [`Protocol::read_connection_lost`].
    fn read_connection_lost(&mut self, ctx: &mut StringContext<'_>) -> HalfClose {
        let _ = ctx;
        HalfClose::Close
    }
}

/// A [`Protocol`] that reads strings prefixed with their length and hands
/// them to a [`StringHandler`] (Twisted's `IntNStringReceiver` family).
///
/// The prefix is one, two or four bytes, big-endian ([`PrefixLength`]). A
/// prefix announcing more than the maximum ([`PREFIXED_MAX_LENGTH`] unless
/// set with [`with_max_length`](IntNStringReceiver::with_max_length)) goes
/// to `length_limit_exceeded`, which closes the connection by default.
/// [`send_string`](IntNStringReceiver::send_string) refuses, synchronously,
/// a string the prefix cannot announce. While paused, bytes are buffered and
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
    handler: H,
    state: StringState,
}

struct StringState {
    transport: Option<Transport>,
    prefix: PrefixLength,
    max_length: usize,
    buffer: Vec<u8>,
    start: usize,
    paused: bool,
}

/// What a [`StringHandler`] callback can do: send strings, pause, close,
/// reach the transport.
pub struct StringContext<'a> {
    state: &'a mut StringState,
}

impl<H: StringHandler> IntNStringReceiver<H> {
    /// A receiver with a `prefix`-sized length prefix and the default
    /// maximum length.
    pub fn new(prefix: PrefixLength, handler: H) -> IntNStringReceiver<H> {
        IntNStringReceiver {
            handler,
            state: StringState {
                transport: None,
                prefix,
                max_length: PREFIXED_MAX_LENGTH,
                buffer: Vec::new(),
                start: 0,
                paused: false,
            },
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
        self.state.max_length = max_length;
        self
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// The handler, mutably.
    pub fn handler_mut(&mut self) -> &mut H {
        &mut self.handler
    }

    /// The transport, once connected.
    pub fn transport(&self) -> Option<&Transport> {
        self.state.transport.as_ref()
    }

    /// The prefix size.
    pub fn prefix(&self) -> PrefixLength {
        self.state.prefix
    }

    /// Writes `data` after its length prefix (Twisted's `sendString`), or
    /// refuses, writing nothing, if the prefix cannot announce its length.
    pub fn send_string(&self, data: &[u8]) -> Result<(), StringTooLong> {
        self.state.send_string(data)
    }

    /// True while paused.
    pub fn is_paused(&self) -> bool {
        self.state.paused
    }

    /// Stops delivering strings and pauses reading from the transport; what
    /// arrives meanwhile is buffered.
    pub fn pause_producing(&mut self) {
        self.state.pause();
    }

    /// Resumes reading and delivers what was buffered.
    pub fn resume_producing(&mut self) {
        self.state.resume();
        self.process();
    }

    /// Pauses for good and closes the connection.
    pub fn stop_producing(&mut self) {
        self.state.pause();
        self.state.lose_connection();
    }

    fn context(&mut self) -> (&mut H, StringContext<'_>) {
        (
            &mut self.handler,
            StringContext {
                state: &mut self.state,
            },
        )
    }

    /// Delivers every complete string buffered, checking the pause flag
    /// and the transport before each.
    fn process(&mut self) {
        let mut data = Vec::new();
        loop {
            let state = &mut self.state;
            let prefix = state.prefix.bytes();
            let available = state.buffer.len() - state.start;
            if state.paused || !state.open() || available < prefix {
                break;
            }
            let length = state.prefix.decode(&state.buffer[state.start..]);
            if length > state.max_length {
                let (handler, mut ctx) = self.context();
                handler.length_limit_exceeded(&mut ctx, length);
                break;
            }
            if available < prefix + length {
                break;
            }
            let begin = state.start + prefix;
            data.clear();
            data.extend_from_slice(&state.buffer[begin..begin + length]);
            state.start = begin + length;
            let (handler, mut ctx) = self.context();
            handler.string_received(&mut ctx, &data);
        }
        let state = &mut self.state;
        if state.start > 0 {
            state.buffer.drain(..state.start.min(state.buffer.len()));
            state.start = 0;
        }
    }
}

impl StringState {
    fn open(&self) -> bool {
        self.transport.as_ref().is_none_or(Transport::is_open)
    }

    fn send_string(&self, data: &[u8]) -> Result<(), StringTooLong> {
        if data.len() as u64 > self.prefix.max_encodable() {
            return Err(StringTooLong {
                length: data.len(),
                prefix: self.prefix,
            });
        }
        if let Some(transport) = &self.transport {
            let prefix = self.prefix.encode(data.len());
            transport.write_vectored(&[
                IoSlice::new(&prefix[..self.prefix.bytes()]),
                IoSlice::new(data),
            ]);
        }
        Ok(())
    }

    fn lose_connection(&self) {
        if let Some(transport) = &self.transport {
            transport.lose_connection();
        }
    }

    fn pause(&mut self) {
        self.paused = true;
        if let Some(transport) = &self.transport {
            transport.pause_reading();
        }
    }

    fn resume(&mut self) {
        self.paused = false;
        if let Some(transport) = &self.transport {
            transport.resume_reading();
        }
    }
}

impl<H: StringHandler> Protocol for IntNStringReceiver<H> {
    fn connection_made(&mut self, transport: &Transport) {
        self.state.transport = Some(transport.clone());
        let (handler, mut ctx) = self.context();
        handler.connection_made(&mut ctx);
    }

    fn data_received(&mut self, data: &[u8]) {
        self.state.buffer.extend_from_slice(data);
        self.process();
    }

    fn connection_lost(&mut self, reason: Failure) {
        let (handler, mut ctx) = self.context();
        handler.connection_lost(&mut ctx, reason);
    }

    fn read_connection_lost(&mut self) -> HalfClose {
        let (handler, mut ctx) = self.context();
        handler.read_connection_lost(&mut ctx)
    }
}

impl StringContext<'_> {
    /// The transport, once connected.
    pub fn transport(&self) -> Option<&Transport> {
        self.state.transport.as_ref()
    }

    /// Writes `data` after its length prefix, or refuses if the prefix
    /// cannot announce its length.
    pub fn send_string(&self, data: &[u8]) -> Result<(), StringTooLong> {
        self.state.send_string(data)
    }

    /// Closes the connection once what is written has been sent; no more
    /// strings are delivered.
    pub fn lose_connection(&self) {
        self.state.lose_connection()
    }

    /// The prefix size.
    pub fn prefix(&self) -> PrefixLength {
        self.state.prefix
    }

    /// The longest string accepted.
    pub fn max_length(&self) -> usize {
        self.state.max_length
    }

    /// True while paused.
    pub fn is_paused(&self) -> bool {
        self.state.paused
    }

    /// Stops delivery after this callback, buffering what arrives, and
    /// pauses reading; resume with [`IntNStringReceiver::resume_producing`].
    pub fn pause_producing(&mut self) {
        self.state.pause();
    }

    /// Resumes delivery (it goes on after this callback returns) and
    /// reading.
    pub fn resume_producing(&mut self) {
        self.state.resume();
    }
}

impl<H: fmt::Debug> fmt::Debug for IntNStringReceiver<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntNStringReceiver")
            .field("handler", &self.handler)
            .field("prefix", &self.state.prefix)
            .field("paused", &self.state.paused)
            .field("buffered", &(self.state.buffer.len() - self.state.start))
            .finish()
    }
}

impl fmt::Debug for StringContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StringContext")
            .field("prefix", &self.state.prefix)
            .field("paused", &self.state.paused)
            .finish()
    }
}

#[cfg(test)]
mod tests;
