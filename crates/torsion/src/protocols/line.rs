//! [`LineReceiver`]: lines split on a delimiter, with a raw mode
//! (Twisted's `basic.LineReceiver`).

use std::fmt;
use std::io::IoSlice;

use crate::Failure;
use crate::net::{HalfClose, Protocol, Transport};

/// The default line delimiter, `b"\r\n"`.
pub const DEFAULT_DELIMITER: &[u8] = b"\r\n";

/// The default longest line, in bytes, not counting the delimiter (Twisted's
/// `MAX_LENGTH`).
pub const DEFAULT_MAX_LINE_LENGTH: usize = 16384;

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

    /// The connection is closed; see [`Protocol::connection_lost`].
    fn connection_lost(&mut self, ctx: &mut LineContext<'_>, reason: Failure) {
        let _ = (ctx, reason);
    }

    /// The peer shut down its write side; see
    /// [`Protocol::read_connection_lost`].
    fn read_connection_lost(&mut self, ctx: &mut LineContext<'_>) -> HalfClose {
        let _ = ctx;
        HalfClose::Close
    }
}

/// A [`Protocol`] that splits what it receives into lines and hands them to
/// a [`LineHandler`] (Twisted's `LineReceiver`).
///
/// Lines end with the delimiter ([`DEFAULT_DELIMITER`] unless set with
/// [`with_delimiter`](LineReceiver::with_delimiter)) and are delivered
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
    handler: H,
    state: LineState,
}

/// Everything but the handler, so a context can borrow it while the handler
/// runs.
struct LineState {
    transport: Option<Transport>,
    delimiter: Vec<u8>,
    max_length: usize,
    /// Received bytes; those before `start` are consumed.
    buffer: Vec<u8>,
    start: usize,
    /// Where the next delimiter search starts (no delimiter begins between
    /// `start` and here).
    searched: usize,
    raw: bool,
    paused: bool,
    /// Set while the processing loop runs.
    busy: bool,
}

/// What a [`LineHandler`] callback can do: write lines, switch modes, pause,
/// clear the buffer, reach the transport.
pub struct LineContext<'a> {
    state: &'a mut LineState,
}

impl<H: LineHandler> LineReceiver<H> {
    /// A line receiver with the default delimiter and maximum length.
    pub fn new(handler: H) -> LineReceiver<H> {
        LineReceiver {
            handler,
            state: LineState {
                transport: None,
                delimiter: DEFAULT_DELIMITER.to_vec(),
                max_length: DEFAULT_MAX_LINE_LENGTH,
                buffer: Vec::new(),
                start: 0,
                searched: 0,
                raw: false,
                paused: false,
                busy: false,
            },
        }
    }

    /// Splits lines on `delimiter` instead.
    ///
    /// # Panics
    ///
    /// If `delimiter` is empty.
    pub fn with_delimiter(mut self, delimiter: &[u8]) -> LineReceiver<H> {
        assert!(!delimiter.is_empty(), "a line delimiter cannot be empty");
        self.state.delimiter = delimiter.to_vec();
        self.state.searched = self.state.start;
        self
    }

    /// Sets the longest line accepted, in bytes, not counting the delimiter.
    pub fn with_max_length(mut self, max_length: usize) -> LineReceiver<H> {
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

    /// Writes `line` followed by the delimiter (Twisted's `sendLine`).
    pub fn send_line(&self, line: &[u8]) {
        self.state.send_line(line)
    }

    /// True in raw mode.
    pub fn is_raw_mode(&self) -> bool {
        self.state.raw
    }

    /// Sends what arrives from now on to `raw_data_received`.
    pub fn set_raw_mode(&mut self) {
        self.state.raw = true;
    }

    /// Splits what arrives into lines again, starting with `extra`, which
    /// is parsed (and delivered) at once.
    pub fn set_line_mode(&mut self, extra: &[u8]) {
        self.state.raw = false;
        self.feed(extra);
    }

    /// Returns the buffered bytes not yet delivered and drops them
    /// (Twisted's `clearLineBuffer`).
    pub fn clear_line_buffer(&mut self) -> Vec<u8> {
        self.state.clear_buffer()
    }

    /// True while paused.
    pub fn is_paused(&self) -> bool {
        self.state.paused
    }

    /// Stops delivering lines and pauses reading from the transport; what
    /// arrives meanwhile is buffered (Twisted's `pauseProducing`).
    pub fn pause_producing(&mut self) {
        self.state.pause();
    }

    /// Resumes reading and delivers what was buffered (Twisted's
    /// `resumeProducing`).
    pub fn resume_producing(&mut self) {
        self.state.resume();
        self.feed(b"");
    }

    /// Pauses for good and closes the connection (Twisted's
    /// `stopProducing`).
    pub fn stop_producing(&mut self) {
        self.state.pause();
        self.state.lose_connection();
    }

    fn context(&mut self) -> (&mut H, LineContext<'_>) {
        (
            &mut self.handler,
            LineContext {
                state: &mut self.state,
            },
        )
    }

    /// Appends `data` and delivers what can be delivered.
    fn feed(&mut self, data: &[u8]) {
        self.state.buffer.extend_from_slice(data);
        if self.state.busy {
            return;
        }
        self.state.busy = true;
        self.process();
        self.state.busy = false;
        self.state.compact();
    }

    /// The delivery loop: the mode, the pause flag and the transport are
    /// checked again before every line or raw chunk.
    fn process(&mut self) {
        let mut line = Vec::new();
        loop {
            let state = &mut self.state;
            if state.start >= state.buffer.len() || state.paused || !state.transport_open() {
                return;
            }
            if state.raw {
                let data = state.take_rest();
                let (handler, mut ctx) = self.context();
                handler.raw_data_received(&mut ctx, &data);
                continue;
            }
            match state.find_delimiter() {
                Some(end) => {
                    let delimiter_len = state.delimiter.len();
                    if end - state.start > state.max_length {
                        let exceeded = state.take_rest();
                        let (handler, mut ctx) = self.context();
                        handler.line_length_exceeded(&mut ctx, &exceeded);
                        continue;
                    }
                    line.clear();
                    line.extend_from_slice(&state.buffer[state.start..end]);
                    state.start = end + delimiter_len;
                    state.searched = state.start;
                    let (handler, mut ctx) = self.context();
                    handler.line_received(&mut ctx, &line);
                }
                None => {
                    let pending = state.buffer.len() - state.start;
                    if pending < state.max_length + state.delimiter.len() {
                        return;
                    }
                    let exceeded = state.take_rest();
                    let (handler, mut ctx) = self.context();
                    handler.line_length_exceeded(&mut ctx, &exceeded);
                }
            }
        }
    }
}

impl LineState {
    fn transport_open(&self) -> bool {
        self.transport.as_ref().is_none_or(Transport::is_open)
    }

    fn send_line(&self, line: &[u8]) {
        if let Some(transport) = &self.transport {
            transport.write_vectored(&[IoSlice::new(line), IoSlice::new(&self.delimiter)]);
        }
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

    /// The index where the next delimiter begins, if one is buffered.
    fn find_delimiter(&mut self) -> Option<usize> {
        let from = self.searched.max(self.start);
        let found = find(&self.buffer[from..], &self.delimiter).map(|at| from + at);
        if found.is_none() {
            self.searched = self
                .buffer
                .len()
                .saturating_sub(self.delimiter.len() - 1)
                .max(self.start);
        }
        found
    }

    /// The unconsumed bytes, which are then dropped.
    fn take_rest(&mut self) -> Vec<u8> {
        let rest = if self.start == 0 {
            std::mem::take(&mut self.buffer)
        } else {
            let rest = self.buffer[self.start..].to_vec();
            self.buffer.clear();
            rest
        };
        self.start = 0;
        self.searched = 0;
        rest
    }

    fn clear_buffer(&mut self) -> Vec<u8> {
        self.take_rest()
    }

    /// Drops the consumed prefix.
    fn compact(&mut self) {
        if self.start > 0 {
            self.buffer.drain(..self.start);
            self.searched -= self.start.min(self.searched);
            self.start = 0;
        }
    }
}

/// The first index where `needle` (not empty) occurs in `haystack`.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut offset = 0;
    while let Some(at) = haystack[offset..].iter().position(|&b| b == first) {
        let begin = offset + at;
        let end = begin + needle.len();
        if end > haystack.len() {
            return None;
        }
        if &haystack[begin + 1..end] == rest {
            return Some(begin);
        }
        offset = begin + 1;
    }
    None
}

impl<'a> LineContext<'a> {
    /// The transport, once connected.
    pub fn transport(&self) -> Option<&Transport> {
        self.state.transport.as_ref()
    }

    /// Writes `data` as it is.
    pub fn write(&self, data: &[u8]) {
        if let Some(transport) = &self.state.transport {
            transport.write(data);
        }
    }

    /// Writes `line` followed by the delimiter.
    pub fn send_line(&self, line: &[u8]) {
        self.state.send_line(line)
    }

    /// Closes the connection once what is written has been sent; no more
    /// lines are delivered.
    pub fn lose_connection(&self) {
        self.state.lose_connection()
    }

    /// The delimiter lines are split on.
    pub fn delimiter(&self) -> &[u8] {
        &self.state.delimiter
    }

    /// The longest line accepted.
    pub fn max_length(&self) -> usize {
        self.state.max_length
    }

    /// True in raw mode.
    pub fn is_raw_mode(&self) -> bool {
        self.state.raw
    }

    /// Sends every byte from the next one on, including the rest of the
    /// current buffer, to `raw_data_received`.
    pub fn set_raw_mode(&mut self) {
        self.state.raw = true;
    }

    /// Splits bytes into lines again from the next one on; `extra` is
    /// appended to the buffer and parsed as lines first (when the buffer is
    /// empty, as it is in raw mode, it comes next).
    pub fn set_line_mode(&mut self, extra: &[u8]) {
        self.state.raw = false;
        self.state.buffer.extend_from_slice(extra);
    }

    /// Returns the buffered bytes not yet delivered and drops them.
    pub fn clear_line_buffer(&mut self) -> Vec<u8> {
        self.state.clear_buffer()
    }

    /// True while paused.
    pub fn is_paused(&self) -> bool {
        self.state.paused
    }

    /// Stops delivery after this callback, buffering what arrives, and
    /// pauses reading from the transport; resume with
    /// [`resume_producing`](LineContext::resume_producing) here or
    /// [`LineReceiver::resume_producing`] later.
    pub fn pause_producing(&mut self) {
        self.state.pause();
    }

    /// Resumes delivery (it goes on after this callback returns) and
    /// reading.
    pub fn resume_producing(&mut self) {
        self.state.resume();
    }
}

impl<H: LineHandler> Protocol for LineReceiver<H> {
    fn connection_made(&mut self, transport: &Transport) {
        self.state.transport = Some(transport.clone());
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
        let (handler, mut ctx) = self.context();
        handler.read_connection_lost(&mut ctx)
    }
}

impl<H: fmt::Debug> fmt::Debug for LineReceiver<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LineReceiver")
            .field("handler", &self.handler)
            .field("raw", &self.state.raw)
            .field("paused", &self.state.paused)
            .field("buffered", &(self.state.buffer.len() - self.state.start))
            .finish()
    }
}

impl fmt::Debug for LineContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LineContext")
            .field("raw", &self.state.raw)
            .field("paused", &self.state.paused)
            .finish()
    }
}

#[cfg(test)]
mod tests;
