//! The io_uring backend's ring: stream connections hand their writes to
//! the kernel as send operations, and the loop submits all of a turn's
//! sends with one `io_uring_enter` before it waits, instead of one `write`
//! system call each.
//!
//! The loop still waits on epoll (mio). Most sends complete as they are
//! submitted and are handed back at once; while one waits for room in its
//! socket, epoll also watches the ring's descriptor, so that its
//! completion wakes the loop.
//!
//! The kernel reads a send's bytes until the operation completes, so the
//! ring owns them from submission to completion: a connection that closes
//! meanwhile asks for a cancel and forgets the operation, and its bytes are
//! dropped when the completion comes.

use std::io;

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

/// A finished send and the source (connection) it goes back to.
pub(crate) type Completion = (Token, SendDone);

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

    pub(crate) fn submit_and_reap(&self, _out: &mut Vec<Completion>) -> io::Result<()> {
        match *self {}
    }
}
