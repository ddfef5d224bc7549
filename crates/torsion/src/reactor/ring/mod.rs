//! The io_uring backend's ring: stream connections hand their writes to
//! the kernel as send operations, and the loop submits all of a turn's
//! sends with one `io_uring_enter` before it waits, instead of one `write`
//! system call each. Listening ports accept through it too: one multishot
//! accept per port, which the kernel answers with a completion per
//! connection, so accepting costs no system call of its own.
//!
//! The loop still waits on epoll (mio). Most sends complete as they are
//! submitted and are handed back at once; while one waits for room in its
//! socket, or while an accept is armed, epoll also watches the ring's
//! descriptor, so that a completion wakes the loop.
//!
//! The kernel reads a send's bytes until the operation completes, so the
//! ring owns them from submission to completion: a connection that closes
//! meanwhile asks for a cancel and forgets the operation, and its bytes are
//! dropped when the completion comes. An accepted descriptor is owned
//! ([`OwnedFd`]) from the moment the completion is taken off the queue, so
//! one that nobody takes (its port closed meanwhile) is closed, not leaked.

use std::io;
use std::os::fd::OwnedFd;

use mio::Token;

#[cfg(target_os = "linux")]
mod uring;
#[cfg(target_os = "linux")]
pub(crate) use uring::Ring;

/// Names a send under way, for the connection that made it: its
/// `user_data`, never 0, so that a connection's `Option<SendKey>` takes
/// four bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SendKey(pub(super) std::num::NonZeroU32);

/// A finished send, handed back to the connection (source) that made it.
#[derive(Debug)]
pub(crate) struct SendDone {
    pub(crate) key: SendKey,
    /// Bytes the kernel took, or why it took none.
    pub(crate) result: io::Result<usize>,
    /// The bytes, back from the kernel; the send covered `data[start..]`.
    pub(crate) data: Vec<u8>,
    pub(crate) start: usize,
}

/// Names a port's multishot accept, for the port that armed it: its
/// `user_data`, as for a [`SendKey`]. The ring keeps the number taken
/// until the kernel ends the accept, so a late completion never names a
/// newer operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AcceptKey(pub(super) std::num::NonZeroU32);

/// One answer of a multishot accept, handed back to the port that armed it.
#[derive(Debug)]
pub(crate) struct AcceptDone {
    pub(crate) key: AcceptKey,
    /// The accepted socket, non-blocking and close-on-exec as `accept4`
    /// makes them; or why the kernel accepted nothing (and so ended the
    /// accept). Dropping it closes the socket.
    pub(crate) result: io::Result<OwnedFd>,
    /// The kernel goes on accepting. False on its last completion (an
    /// error, a cancel, or no room left in the completion queue): the
    /// port must accept some other way or arm another.
    pub(crate) more: bool,
}

/// A finished ring operation, for the source that started it.
#[derive(Debug)]
pub(crate) enum OpDone {
    /// A connection's send.
    Sent(SendDone),
    /// A port's accept.
    Accepted(AcceptDone),
}

/// A finished operation and the source (connection, port) it goes back
/// to; a completion whose source has gone is dropped, closing any
/// descriptor it carries.
pub(crate) type Completion = (Token, OpDone);

/// No io_uring off Linux: a reactor there never has a ring.
#[cfg(not(target_os = "linux"))]
#[derive(Debug)]
pub(crate) enum Ring {}

#[cfg(not(target_os = "linux"))]
impl Ring {
    pub(crate) fn send(
        &self,
        _fd: std::os::fd::RawFd,
        _socket: bool,
        _token: Token,
        _data: Vec<u8>,
        _start: usize,
    ) -> io::Result<SendKey> {
        match *self {}
    }

    pub(crate) fn submit_before_wait(
        &self,
        _registry: &mio::Registry,
        _token: Token,
    ) -> io::Result<()> {
        match *self {}
    }

    pub(crate) fn cancel(&self, _key: SendKey) {
        match *self {}
    }

    pub(crate) fn can_accept(&self) -> bool {
        match *self {}
    }

    pub(crate) fn accept(&self, _fd: std::os::fd::RawFd, _token: Token) -> io::Result<AcceptKey> {
        match *self {}
    }

    pub(crate) fn stop_accepting(&self, _key: AcceptKey) {
        match *self {}
    }

    pub(crate) fn accepted(&self) -> u64 {
        match *self {}
    }

    pub(crate) fn submit_and_reap(&self, _out: &mut Vec<Completion>) -> io::Result<()> {
        match *self {}
    }
}
