//! The state of one WebSocket connection: tungstenite's protocol machine
//! fed from the connection's buffer, and the close handshake around it.
//!
//! tungstenite reads and writes a `Read + Write` stream. Here that stream
//! is a [`Duplex`] in memory: bytes received from the socket are appended
//! to its input, and whatever tungstenite writes lands in its output, which
//! is handed to the transport straight away. An empty input is
//! `WouldBlock`, which tungstenite treats as "come back with more data", so
//! nothing ever blocks the reactor.
//!
//! ```text
//!   socket --read--> Duplex.incoming --tungstenite.read()--> Event --> protocol
//!   protocol --send--> tungstenite.send() --> Duplex.outgoing --> transport.write
//! ```

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::rc::Weak;
use std::task::{Context, Poll, Waker};

use bytes::{Buf, Bytes, BytesMut};
use torsion::Reactor;
use torsion::defer::Resolver;
use torsion::net::{AsyncStream, HIGH_WATER_MARK};
use torsion::time::DelayedCall;
use tungstenite::error::{Error, ProtocolError};
use tungstenite::protocol::{CloseFrame, Role, WebSocket as Machine};

use super::{CloseCode, CloseReason, Message, WebSocketError, WebSocketOptions};

/// The in-memory stream tungstenite reads from and writes to.
#[derive(Default)]
pub(crate) struct Duplex {
    incoming: BytesMut,
    eof: bool,
    outgoing: Vec<u8>,
}

impl Read for Duplex {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.incoming.is_empty() {
            return if self.eof {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        }
        let n = buf.len().min(self.incoming.len());
        buf[..n].copy_from_slice(&self.incoming[..n]);
        self.incoming.advance(n);
        Ok(n)
    }
}

impl Write for Duplex {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outgoing.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Where the connection is in its life.
#[derive(Clone, Debug)]
enum Phase {
    /// Messages flow; a close frame from either side is handled by
    /// tungstenite, which answers the peer's.
    Open,
    /// This side failed the connection (sent a close frame with an error
    /// code and ended its writing): input is discarded until the peer
    /// closes or the close timeout passes. Closing without reading on would
    /// make the kernel reset the connection, and the peer could lose the
    /// close frame.
    Failing(CloseReason),
    /// Over; the reason was reported.
    Done(CloseReason),
}

/// Which bound on the close handshake passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GaveUp {
    /// The connection's own close timeout.
    CloseTimeout,
    /// The shutdown timeout of the server that upgraded the connection.
    ServerShutdown,
}

/// What the connection has for its protocol next.
pub(crate) enum Event {
    Message(Message),
    Pong(Bytes),
    /// Nothing until more bytes arrive (or a timer fires).
    NeedInput,
    Finished(CloseReason),
}

/// One connection's state, shared by the [`WebSocket`](super::WebSocket)
/// handles and the task that drives it.
pub(crate) struct Connection {
    machine: Machine<Duplex>,
    pub(crate) stream: AsyncStream,
    reactor: Reactor,
    options: WebSocketOptions,
    phase: Phase,
    /// The peer's close frame, once it came.
    peer_close: Option<CloseReason>,
    /// The close frame this side sent, once sent.
    sent_close: Option<CloseReason>,
    pub(crate) paused: bool,
    /// Set by the handle when the driver has something new to look at.
    wakeup: bool,
    /// Set when a bound on the close handshake passed: the connection ends
    /// without waiting for more from the peer.
    gave_up: Option<GaveUp>,
    close_timer: Option<DelayedCall>,
    driver: Option<Waker>,
    write_waiters: Vec<Waker>,
    close_waiters: Vec<Resolver<CloseReason>>,
    read_error: Option<io::Error>,
    this: Weak<RefCell<Connection>>,
}

impl Connection {
    pub(crate) fn new(
        this: Weak<RefCell<Connection>>,
        reactor: &Reactor,
        stream: AsyncStream,
        already_read: Bytes,
        role: Role,
        options: WebSocketOptions,
    ) -> Connection {
        let duplex = Duplex {
            incoming: BytesMut::from(&already_read[..]),
            ..Duplex::default()
        };
        let config = options.tungstenite_config();
        stream.transport().set_protocol_name("websocket");
        Connection {
            machine: Machine::from_raw_socket(duplex, role, Some(config)),
            stream,
            reactor: reactor.clone(),
            options,
            phase: Phase::Open,
            peer_close: None,
            sent_close: None,
            paused: false,
            wakeup: false,
            gave_up: None,
            close_timer: None,
            driver: None,
            write_waiters: Vec::new(),
            close_waiters: Vec::new(),
            read_error: None,
            this,
        }
    }

    /// True while messages can be sent.
    pub(crate) fn can_send(&self) -> bool {
        matches!(self.phase, Phase::Open) && self.machine.can_write()
    }

    /// False while reading is paused and nothing else (a timeout, a
    /// failure) needs the driver's attention.
    pub(crate) fn wants_events(&self) -> bool {
        !self.paused || self.gave_up.is_some() || !matches!(self.phase, Phase::Open)
    }

    pub(crate) fn send(&mut self, message: tungstenite::Message) -> Result<(), WebSocketError> {
        if !self.can_send() {
            return Err(WebSocketError::Closed);
        }
        let result = self.machine.send(message);
        self.flush_out();
        result.map_err(|_| WebSocketError::Closed)
    }

    /// Starts the close handshake (once; later calls do nothing).
    pub(crate) fn close(&mut self, code: CloseCode, reason: &str) {
        if !self.can_send() {
            return;
        }
        let reason = close_reason_text(reason);
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = self.machine.close(Some(frame));
        self.flush_out();
        self.sent_close = Some(CloseReason {
            code,
            reason: reason.to_owned(),
            clean: false,
        });
        // The peer's answer has to be read, even by a paused reader.
        self.paused = false;
        self.start_close_timer();
        self.wake_driver();
    }

    /// Fails the connection: a close frame with `code`, then no more
    /// writing, and input discarded until the peer goes.
    pub(crate) fn fail(&mut self, code: CloseCode, reason: &str) {
        if !matches!(self.phase, Phase::Open) {
            return;
        }
        let reason = close_reason_text(reason);
        if self.machine.can_write() {
            let _ = self.machine.close(Some(CloseFrame {
                code,
                reason: reason.into(),
            }));
            self.flush_out();
        }
        self.stream.transport().lose_write_connection();
        self.phase = Phase::Failing(CloseReason {
            code,
            reason: reason.to_owned(),
            clean: false,
        });
        self.paused = false;
        self.start_close_timer();
        self.wake_driver();
    }

    pub(crate) fn abort(&mut self) {
        self.stream.transport().abort_connection();
        self.wake_driver();
    }

    /// Ends the connection now because the server's shutdown timeout
    /// passed: the connection is dropped, and the protocol hears of the
    /// close this side had started.
    pub(crate) fn cut(&mut self) {
        if matches!(self.phase, Phase::Done(_)) {
            return;
        }
        self.gave_up = Some(GaveUp::ServerShutdown);
        self.abort();
    }

    /// The next thing for the protocol, parsed from what has arrived.
    pub(crate) fn next_event(&mut self) -> Event {
        match &self.phase {
            Phase::Done(reason) => return Event::Finished(reason.clone()),
            Phase::Failing(reason) => {
                let duplex = self.machine.get_mut();
                duplex.incoming.clear();
                return if duplex.eof || self.gave_up.is_some() {
                    Event::Finished(reason.clone())
                } else {
                    Event::NeedInput
                };
            }
            Phase::Open => {}
        }
        if let Some(gave_up) = self.gave_up {
            return Event::Finished(self.gave_up_reason(gave_up));
        }
        loop {
            let result = self.machine.read();
            // Pongs and the answer to a close frame are written by read().
            self.flush_out();
            match result {
                Ok(tungstenite::Message::Text(text)) => {
                    return Event::Message(Message::Text(text.as_str().to_owned()));
                }
                Ok(tungstenite::Message::Binary(data)) => {
                    return Event::Message(Message::Binary(data));
                }
                Ok(tungstenite::Message::Pong(payload)) => return Event::Pong(payload),
                Ok(tungstenite::Message::Close(frame)) => {
                    self.peer_close = Some(match frame {
                        Some(frame) => CloseReason {
                            code: frame.code,
                            reason: frame.reason.as_str().to_owned(),
                            clean: true,
                        },
                        None => CloseReason {
                            code: CloseCode::Status,
                            reason: String::new(),
                            clean: true,
                        },
                    });
                    // A client waits for the server to end the connection.
                    self.start_close_timer();
                }
                Ok(tungstenite::Message::Ping(_) | tungstenite::Message::Frame(_)) => {}
                Err(Error::Io(error)) if error.kind() == io::ErrorKind::WouldBlock => {
                    return Event::NeedInput;
                }
                Err(Error::ConnectionClosed | Error::AlreadyClosed) => {
                    return Event::Finished(match &self.peer_close {
                        Some(reason) => reason.clone(),
                        None => self.lost_reason(),
                    });
                }
                Err(Error::Protocol(ProtocolError::ResetWithoutClosingHandshake)) => {
                    return Event::Finished(self.lost_reason());
                }
                Err(Error::Capacity(error)) => {
                    tracing::debug!(%error, "closing a WebSocket with 1009");
                    self.fail(CloseCode::Size, "message too big");
                    return self.next_event();
                }
                Err(Error::Utf8(error)) => {
                    tracing::debug!(%error, "closing a WebSocket with 1007");
                    self.fail(CloseCode::Invalid, "invalid UTF-8 in a text message");
                    return self.next_event();
                }
                Err(Error::Protocol(error)) => {
                    tracing::debug!(%error, "closing a WebSocket with 1002");
                    self.fail(CloseCode::Protocol, &format!("protocol error: {error}"));
                    return self.next_event();
                }
                Err(error) => return Event::Finished(CloseReason::abnormal(error.to_string())),
            }
        }
    }

    /// Reads what the socket has into tungstenite's input, or waits for it
    /// (or for the handle to ask for attention). Also passes the end of a
    /// write backlog on to the tasks waiting in [`WebSocket::ready`].
    ///
    /// [`WebSocket::ready`]: super::WebSocket::ready
    pub(crate) fn poll_input(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<()> {
        self.driver = Some(cx.waker().clone());
        if !self.write_waiters.is_empty()
            && futures_io::AsyncWrite::poll_write(Pin::new(&mut self.stream), cx, &[]).is_ready()
        {
            self.write_waiters.drain(..).for_each(Waker::wake);
        }
        if std::mem::take(&mut self.wakeup) || self.gave_up.is_some() {
            return Poll::Ready(());
        }
        if self.paused && matches!(self.phase, Phase::Open) {
            return Poll::Pending;
        }
        let read = futures_io::AsyncRead::poll_read(Pin::new(&mut self.stream), cx, buf);
        let duplex = self.machine.get_mut();
        match read {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(0)) => duplex.eof = true,
            Poll::Ready(Ok(n)) => duplex.incoming.extend_from_slice(&buf[..n]),
            Poll::Ready(Err(error)) => {
                duplex.eof = true;
                self.read_error = Some(error);
            }
        }
        Poll::Ready(())
    }

    /// Ready once the transport's write buffer is below its high-water mark.
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), WebSocketError>> {
        if !self.can_send() {
            return Poll::Ready(Err(WebSocketError::Closed));
        }
        if self.stream.transport().buffered() <= HIGH_WATER_MARK {
            return Poll::Ready(Ok(()));
        }
        if !self.write_waiters.iter().any(|w| w.will_wake(cx.waker())) {
            self.write_waiters.push(cx.waker().clone());
        }
        self.wake_driver();
        Poll::Pending
    }

    /// Ends the connection with `reason`; returns the close waiters to
    /// resolve once no borrow is held.
    pub(crate) fn finish(&mut self, reason: &CloseReason) -> Vec<Resolver<CloseReason>> {
        self.phase = Phase::Done(reason.clone());
        if let Some(timer) = self.close_timer.take() {
            let _ = timer.cancel();
        }
        self.stream.transport().lose_connection();
        self.write_waiters.drain(..).for_each(Waker::wake);
        std::mem::take(&mut self.close_waiters)
    }

    pub(crate) fn close_reason(&self) -> Option<CloseReason> {
        match &self.phase {
            Phase::Done(reason) => Some(reason.clone()),
            _ => None,
        }
    }

    pub(crate) fn add_close_waiter(&mut self, resolver: Resolver<CloseReason>) {
        match &self.phase {
            Phase::Done(reason) => resolver.resolve(reason.clone()),
            _ => self.close_waiters.push(resolver),
        }
    }

    pub(crate) fn wake_driver(&mut self) {
        self.wakeup = true;
        if let Some(waker) = self.driver.take() {
            waker.wake();
        }
    }

    /// Hands what tungstenite wrote to the transport.
    fn flush_out(&mut self) {
        let duplex = self.machine.get_mut();
        if !duplex.outgoing.is_empty() {
            self.stream.write_all_now(&duplex.outgoing);
            duplex.outgoing.clear();
        }
    }

    fn start_close_timer(&mut self) {
        if self.close_timer.is_some() {
            return;
        }
        let this = self.this.clone();
        let timer = self
            .reactor
            .call_later(self.options.close_timeout, move || {
                if let Some(connection) = this.upgrade() {
                    let mut connection = connection.borrow_mut();
                    connection.gave_up.get_or_insert(GaveUp::CloseTimeout);
                    connection.close_timer = None;
                    connection.wake_driver();
                }
            });
        self.close_timer = Some(timer);
    }

    /// Why the connection ended when a bound on the close handshake
    /// passed.
    fn gave_up_reason(&self, gave_up: GaveUp) -> CloseReason {
        if let Some(reason) = &self.peer_close {
            // Both close frames went; only the peer's end of the
            // connection was missing.
            return reason.clone();
        }
        let mut reason = self
            .sent_close
            .clone()
            .unwrap_or_else(|| CloseReason::abnormal(""));
        reason.reason = match gave_up {
            GaveUp::CloseTimeout => format!(
                "no answer to the close frame within {:?}",
                self.options.close_timeout
            ),
            GaveUp::ServerShutdown if self.sent_close.is_some() => {
                "no answer to the close frame within the server's shutdown timeout".to_owned()
            }
            GaveUp::ServerShutdown => "cut at the server's shutdown timeout".to_owned(),
        };
        reason
    }

    /// Why the connection ended when it dropped without a close handshake.
    fn lost_reason(&mut self) -> CloseReason {
        match self.read_error.take() {
            Some(error) => CloseReason::abnormal(format!("connection lost: {error}")),
            None => CloseReason::abnormal("connection closed without a close frame"),
        }
    }
}

/// A close frame's reason is at most 123 bytes; longer text is cut at a
/// character boundary.
fn close_reason_text(reason: &str) -> &str {
    const MAX: usize = 123;
    if reason.len() <= MAX {
        return reason;
    }
    let mut end = MAX;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_close_reason_is_cut_to_123_bytes_on_a_character_boundary() {
        assert_eq!(close_reason_text("bye"), "bye");
        let long = "é".repeat(100);
        let cut = close_reason_text(&long);
        assert!(cut.len() <= 123 && cut.len() >= 122, "{}", cut.len());
        assert!(long.starts_with(cut));
    }

    #[test]
    fn the_duplex_would_block_until_data_or_the_end_arrives() {
        let mut duplex = Duplex::default();
        let mut buf = [0u8; 4];
        assert_eq!(
            duplex.read(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        duplex.incoming.extend_from_slice(b"abcdef");
        assert_eq!(duplex.read(&mut buf).unwrap(), 4);
        assert_eq!(&buf, b"abcd");
        assert_eq!(duplex.read(&mut buf).unwrap(), 2);
        duplex.eof = true;
        assert_eq!(duplex.read(&mut buf).unwrap(), 0);
    }
}
