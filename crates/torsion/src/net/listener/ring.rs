//! A port on the io_uring backend: the kernel accepts its connections
//! through one multishot accept, each coming back as a completion with
//! the new socket, instead of a readiness event and an `accept4` per
//! connection (and a last `accept4` that finds nothing).
//!
//! Only one path accepts at a time. While the accept is armed, epoll does
//! not watch the listener (the ring's descriptor wakes the loop instead);
//! when the kernel ends it, the listener goes back into epoll and the
//! port accepts by readiness, with its handling of exhaustion, until a
//! batch empties the backlog with nothing failing, which arms the ring
//! again:
//!
//! ```text
//!   Unarmed --(a batch drains the backlog)--> Armed --(last completion,
//!      ^        epoll stops watching           |     with a connection)--+
//!      |                                       |                         |
//!      |  (an accept by readiness succeeds)    +--(last completion,      |
//!   Failed <------------------------------------   with an error)        |
//!      ^--- epoll watches again in both cases; Unarmed <-----------------+
//!   closing any: Unavailable, with the accept cancelled first
//! ```
//!
//! After an error the ring waits for an accept by readiness to succeed:
//! an error the kernel's accept meets and `accept4` does not would
//! otherwise make the port go back and forth between the two paths.

use std::os::fd::AsRawFd;

use super::PortSource;
use crate::Reactor;
use crate::net::sys;
use crate::reactor::{AcceptDone, AcceptKey};

/// Who accepts a port's connections at the moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RingAccept {
    /// Readiness only: the epoll backend, a kernel without multishot
    /// accept, or a closed port.
    Unavailable,
    /// Readiness for now; the ring takes over again once a batch drains
    /// the backlog.
    Unarmed,
    /// Readiness after the kernel ended the accept with an error; the
    /// port is `Unarmed` again once an accept by readiness succeeds.
    Failed,
    /// The kernel, through the ring; epoll does not watch the listener.
    Armed(AcceptKey),
}

impl RingAccept {
    /// Where a new port of `reactor` starts.
    pub(super) fn for_reactor(reactor: &Reactor) -> RingAccept {
        match reactor.ring() {
            Some(ring) if ring.can_accept() => RingAccept::Unarmed,
            _ => RingAccept::Unavailable,
        }
    }

    pub(super) fn is_armed(self) -> bool {
        matches!(self, RingAccept::Armed(_))
    }
}

impl PortSource {
    /// Hands accepting to the ring, if the port may use it and accepting
    /// works: not while paused or in an episode of exhaustion, where the
    /// kernel would end the accept again at once and the port would spin
    /// between the two paths.
    pub(super) fn arm_ring_accept(&self, reactor: &Reactor) {
        if self.ring_accept.get() != RingAccept::Unarmed
            || self.paused.get()
            || self.exhaustion.get().is_some()
        {
            return;
        }
        let Some(ring) = reactor.ring() else {
            return;
        };
        let listener = self.listener.borrow();
        let Some(fd) = listener.as_ref().map(AsRawFd::as_raw_fd) else {
            return;
        };
        if let Err(error) = reactor.unwatch(fd) {
            tracing::debug!(%error, address = %self.address, "listener stays with readiness");
            return;
        }
        match ring.accept(fd, self.token) {
            Ok(key) => self.ring_accept.set(RingAccept::Armed(key)),
            Err(error) => {
                tracing::debug!(%error, address = %self.address, "cannot arm an io_uring accept");
                drop(listener);
                self.watch_again(reactor);
            }
        }
    }

    /// A connection the kernel accepted, or the end of the port's accept.
    pub(super) fn ring_accepted(&self, reactor: &Reactor, done: AcceptDone) {
        let AcceptDone { key, result, more } = done;
        if self.ring_accept.get() != RingAccept::Armed(key) {
            // An accept this port stopped (it closed): dropping `result`
            // closes the socket.
            return;
        }
        if !more {
            let next = match &result {
                Ok(_) => RingAccept::Unarmed,
                Err(_) => RingAccept::Failed,
            };
            self.ring_accept.set(next);
        }
        let error = match result {
            Ok(fd) => {
                let socket = self.listener.borrow().as_ref().map(|l| l.socket_from(fd));
                if let Some(socket) = socket {
                    self.end_exhaustion();
                    self.route(reactor, socket);
                }
                None
            }
            Err(error) => Some(error),
        };
        // Serving may have closed the port (a factory stopping it), or a
        // nested turn armed it again; and while armed, nothing changes.
        let fell_back = matches!(
            self.ring_accept.get(),
            RingAccept::Unarmed | RingAccept::Failed
        );
        if more || !fell_back {
            return;
        }
        if let Some(error) = &error {
            if sys::is_invalid_argument(error) {
                // Linux 5.5 to 5.18 know accept but not its multishot
                // form, and refuse it so.
                tracing::debug!(%error, address = %self.address, "no multishot accept here; accepting by readiness");
                self.ring_accept.set(RingAccept::Unavailable);
            } else {
                tracing::debug!(%error, address = %self.address, "io_uring accept ended; accepting by readiness");
            }
        }
        // Whatever ended it (running out of descriptors above all) is the
        // readiness path's to meet, as on epoll: it tries at once, and
        // arms the ring again once accepting works.
        self.watch_again(reactor);
        self.accept_batch(reactor);
    }

    /// An accept by readiness succeeded: after an error, the ring may
    /// take over again.
    pub(super) fn ring_accept_works(&self) {
        if self.ring_accept.get() == RingAccept::Failed {
            self.ring_accept.set(RingAccept::Unarmed);
        }
    }

    /// Cancels the port's accept, if armed. The caller is about to close
    /// the listener, and the ring submits the cancel before returning, so
    /// the kernel lets go of the socket before its number can name
    /// another one, and the close refuses later connections at once.
    pub(super) fn stop_ring_accept(&self, reactor: &Reactor) {
        let state = self.ring_accept.replace(RingAccept::Unavailable);
        if let (RingAccept::Armed(key), Some(ring)) = (state, reactor.ring()) {
            ring.stop_accepting(key);
        }
    }

    /// Puts the listener back into epoll, which reports at once the
    /// connections that queued while it was out.
    fn watch_again(&self, reactor: &Reactor) {
        let Some(fd) = self.listener.borrow().as_ref().map(AsRawFd::as_raw_fd) else {
            return;
        };
        if let Err(error) = reactor.watch_readable(self.token, fd) {
            tracing::error!(%error, address = %self.address, "cannot watch the listener again; it accepts no more");
        }
    }
}
