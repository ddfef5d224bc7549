//! [`ProcessProtocol`]: what a child process's events are delivered to.

use std::os::fd::RawFd;

use super::ProcessTransport;
use crate::Failure;

/// Reacts to one child process's events (Twisted's `ProcessProtocol`).
///
/// Every method has a default: [`child_data_received`] sends fd 1 to
/// [`out_received`] and fd 2 to [`err_received`], and
/// [`child_connection_lost`] sends 0, 1 and 2 to the `in_`, `out_` and
/// `err_connection_lost` methods, so a protocol overrides the level it
/// likes. The order is always: [`connection_made`], then data and each
/// pipe's close, with [`process_exited`] somewhere among them (a child may
/// exit before its pipes are drained, or close them long before it exits),
/// and [`process_ended`] last, once the child has exited *and* every pipe
/// has closed. The reason is a [`ProcessDone`](super::ProcessDone) for an
/// exit status of 0, else a [`ProcessTerminated`](super::ProcessTerminated)
/// with the status or the signal.
///
/// [`child_data_received`]: ProcessProtocol::child_data_received
/// [`out_received`]: ProcessProtocol::out_received
/// [`err_received`]: ProcessProtocol::err_received
/// [`child_connection_lost`]: ProcessProtocol::child_connection_lost
/// [`connection_made`]: ProcessProtocol::connection_made
/// [`process_exited`]: ProcessProtocol::process_exited
/// [`process_ended`]: ProcessProtocol::process_ended
pub trait ProcessProtocol: 'static {
    /// The child has started; `transport` writes to it, closes its pipes
    /// and signals it.
    fn connection_made(&mut self, transport: &ProcessTransport) {
        let _ = transport;
    }

    /// The child wrote `data` to descriptor `fd` (a [`Read`](super::ChildFd::Read)
    /// pipe).
    fn child_data_received(&mut self, fd: RawFd, data: &[u8]) {
        match fd {
            1 => self.out_received(data),
            2 => self.err_received(data),
            _ => {}
        }
    }

    /// The child wrote to its stdout.
    fn out_received(&mut self, data: &[u8]) {
        let _ = data;
    }

    /// The child wrote to its stderr.
    fn err_received(&mut self, data: &[u8]) {
        let _ = data;
    }

    /// The pipe at the child's descriptor `fd` has closed: the child closed
    /// it (or exited), or the parent did.
    fn child_connection_lost(&mut self, fd: RawFd) {
        match fd {
            0 => self.in_connection_lost(),
            1 => self.out_connection_lost(),
            2 => self.err_connection_lost(),
            _ => {}
        }
    }

    /// The pipe to the child's stdin has closed.
    fn in_connection_lost(&mut self) {}

    /// The pipe from the child's stdout has closed.
    fn out_connection_lost(&mut self) {}

    /// The pipe from the child's stderr has closed.
    fn err_connection_lost(&mut self) {}

    /// The child has exited (its pipes may still be open, held by a
    /// process it started).
    fn process_exited(&mut self, reason: Failure) {
        let _ = reason;
    }

    /// The child has exited and every pipe to it has closed: the last
    /// call this protocol gets.
    fn process_ended(&mut self, reason: Failure) {
        let _ = reason;
    }
}
