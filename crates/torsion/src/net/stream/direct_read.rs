//! Reads taken by the consumer: a connection whose single reader is a task
//! (an [`AsyncStream`](crate::net::AsyncStream) under hyper, say) lets that
//! task read the socket straight into its own buffer, in its own poll, as
//! tokio's sockets do. The loop then only notes readiness and wakes the
//! task: no copy into a queue on the way, and the task reads, answers and
//! writes one connection at a time instead of after every connection of
//! the turn has been read.
//!
//! Readiness is edge-triggered, so the connection remembers that the
//! socket may hold bytes (`READ_PENDING`) until a read says it is drained:
//! `WouldBlock`, or a short read, except once the peer's end of file or an
//! error was reported (`HUP_SEEN`), after which only a read of 0 or an
//! error ends it, since no new edge would come for what is left.

use std::io;
use std::task::{Context, Poll};

use crate::reactor::Readiness;

use super::{Reason, StreamConn, flag};

impl StreamConn {
    /// Hands reading to the consumer, which then calls
    /// [`poll_read_now`](Self::poll_read_now); the loop stops calling
    /// `data_received`. A TLS connection keeps its reads (the session must
    /// see every byte first) and says no.
    pub(super) fn take_reads(&self) -> bool {
        if self.has(flag::TLS | flag::CLOSED) {
            return false;
        }
        self.set(flag::READER_DRIVEN);
        true
    }

    /// Gives reading back to the loop (TLS starting): what the socket holds
    /// is read at the next settle, and a reader waiting here is woken to
    /// wait on the protocol instead.
    pub(super) fn give_back_reads(&self) {
        if !self.has(flag::READER_DRIVEN) {
            return;
        }
        self.clear(flag::READER_DRIVEN | flag::HUP_SEEN);
        self.wake_direct_reader();
        if self.has(flag::READ_PENDING) {
            self.request_settle();
        }
    }

    /// The loop's side: the socket has something for the reader.
    pub(super) fn direct_readable(&self, readiness: Readiness) {
        self.set(flag::READ_PENDING);
        if readiness.read_closed || readiness.error {
            self.set(flag::HUP_SEEN);
        }
        self.wake_direct_reader();
    }

    pub(super) fn wake_direct_reader(&self) {
        let waker = self
            .extras
            .borrow_mut()
            .as_mut()
            .and_then(|extras| extras.direct_reader.take());
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Reads into `buf` now: bytes, 0 at the end of the stream, or pending
    /// until the socket is readable again. `None` when the loop reads this
    /// connection (reads not taken, or given back for TLS).
    ///
    /// The end of the stream and errors reach the protocol as they do in
    /// the loop's reads, but after the caller's poll returns, since no
    /// transport call calls its protocol back from inside itself.
    pub(super) fn poll_read_now(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Option<Poll<io::Result<usize>>> {
        if !self.has(flag::READER_DRIVEN) {
            return None;
        }
        if self.has(flag::CLOSED | flag::READ_EOF) {
            return Some(Poll::Ready(Ok(0)));
        }
        if self.has(flag::DISCONNECTING) || !self.has(flag::READ_PENDING) {
            // Closing wakes the reader; so does the next edge.
            self.extras().direct_reader = Some(cx.waker().clone());
            return Some(Poll::Pending);
        }
        if buf.is_empty() {
            // Only asked whether a read would wait (`AsyncStream::readable`):
            // the flag stays until a real read finds the socket drained.
            return Some(Poll::Ready(Ok(0)));
        }
        loop {
            let result = match &*self.socket.borrow() {
                Some(socket) => socket.read(buf),
                None => Ok(0),
            };
            return Some(match result {
                Ok(0) if !buf.is_empty() => {
                    self.set(flag::READ_EOF | flag::EOF_UNTOLD);
                    self.clear(flag::READ_PENDING);
                    self.request_settle();
                    Poll::Ready(Ok(0))
                }
                Ok(n) => {
                    if n < buf.len() && !self.has(flag::HUP_SEEN) {
                        // A short read drained the socket; new data brings
                        // a new edge.
                        self.clear(flag::READ_PENDING);
                    }
                    Poll::Ready(Ok(n))
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.clear(flag::READ_PENDING);
                    self.extras().direct_reader = Some(cx.waker().clone());
                    Poll::Pending
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    let kind = error.kind();
                    let message = error.to_string();
                    self.fail(Reason::lost(error));
                    Poll::Ready(Err(io::Error::new(kind, message)))
                }
            });
        }
    }
}
