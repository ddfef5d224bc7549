//! [`ProcessTransport`]: a process protocol's handle on its child.

use std::fmt;
use std::io::IoSlice;
use std::os::fd::RawFd;
use std::rc::Rc;

use super::Signal;
use super::core::ProcessCore;
use crate::Failure;
use crate::net::{Producer, ProducerError, PushProducer, Transport};

/// A protocol's handle on its child process (Twisted's
/// `IProcessTransport`): writes to the child's stdin (or any pipe the
/// parent writes), closes pipes, signals the child and gives its pid.
///
/// Each pipe is a stream connection like a socket's: writes never block
/// (what the pipe does not take is buffered), and a producer registered on
/// stdin is paused above the high-water mark and resumed below the low
/// one. Cheap to clone.
#[derive(Clone)]
pub struct ProcessTransport {
    core: Rc<ProcessCore>,
}

impl ProcessTransport {
    pub(crate) fn new(core: Rc<ProcessCore>) -> ProcessTransport {
        ProcessTransport { core }
    }

    /// The child's pid while it has not been reaped; `None` once it has
    /// exited and been reaped (the number may belong to another process
    /// by then).
    pub fn pid(&self) -> Option<u32> {
        (!self.core.is_reaped()).then(|| self.core.pid())
    }

    /// Writes to the child's stdin; dropped if stdin is not a pipe or is
    /// closed.
    pub fn write(&self, data: &[u8]) {
        self.write_to_child(0, data);
    }

    /// Writes several buffers to the child's stdin, in order.
    pub fn write_vectored(&self, data: &[IoSlice<'_>]) {
        if let Some(stdin) = self.writer(0) {
            stdin.write_vectored(data);
        }
    }

    /// Writes to the pipe at the child's descriptor `fd` (one the parent
    /// writes); dropped otherwise.
    pub fn write_to_child(&self, fd: RawFd, data: &[u8]) {
        if let Some(pipe) = self.writer(fd) {
            pipe.write(data);
        }
    }

    /// Closes the child's stdin once what was written has gone out: the
    /// child reads end of file.
    pub fn close_stdin(&self) {
        self.close_child_fd(0);
    }

    /// Closes the pipe at the child's descriptor `fd` (after flushing, for
    /// one the parent writes); the protocol hears `child_connection_lost`.
    pub fn close_child_fd(&self, fd: RawFd) {
        if let Some((pipe, _)) = self.core.pipe(fd) {
            pipe.lose_connection();
        }
    }

    /// Closes every pipe to the child (Twisted's `loseConnection`); the
    /// child itself is not signalled.
    pub fn lose_connection(&self) {
        for (pipe, _) in self.core.pipes() {
            pipe.lose_connection();
        }
    }

    /// Sends `signal` to the child (Twisted's `signalProcess`): fails with
    /// [`ProcessExitedAlready`](super::ProcessExitedAlready) once the child
    /// has been reaped. Uses the child's pidfd where there is one, so the
    /// signal cannot reach another process.
    pub fn signal_process(&self, signal: Signal) -> Result<(), Failure> {
        self.core.signal(signal)
    }

    /// Sends `signal` to the child's whole process group, for a child
    /// started with [`SpawnOptions::process_group`](super::SpawnOptions::process_group)
    /// (a shell and everything it started, say).
    pub fn signal_group(&self, signal: Signal) -> Result<(), Failure> {
        self.core.signal_group(signal)
    }

    /// The child's stdin pipe as a transport (for
    /// [`register_producer`](Transport::register_producer), or to hand to
    /// code that writes to any transport), while it is open.
    pub fn stdin(&self) -> Option<Transport> {
        self.writer(0)
    }

    /// The pipe at the child's descriptor `fd` as a transport, while it is
    /// open.
    pub fn pipe(&self, fd: RawFd) -> Option<Transport> {
        self.core.pipe(fd).map(|(pipe, _)| pipe)
    }

    /// Registers a producer feeding the child's stdin (flow control as on
    /// a socket). Without a stdin pipe the producer is stopped at once.
    pub fn register_producer(&self, producer: Producer) -> Result<(), ProducerError> {
        match self.writer(0) {
            Some(stdin) => stdin.register_producer(producer),
            None => {
                producer.stop();
                Ok(())
            }
        }
    }

    /// Unregisters stdin's producer.
    pub fn unregister_producer(&self) {
        if let Some(stdin) = self.writer(0) {
            stdin.unregister_producer();
        }
    }

    /// Bytes written to stdin that the pipe has not taken yet.
    pub fn buffered(&self) -> usize {
        self.writer(0).map_or(0, |stdin| stdin.buffered())
    }

    /// Stops reading every pipe from the child; once the pipes fill, the
    /// child blocks on its writes.
    pub fn pause_reading(&self) {
        for (pipe, writer) in self.core.pipes() {
            if !writer {
                pipe.pause_reading();
            }
        }
    }

    /// Reads the child's pipes again after
    /// [`pause_reading`](ProcessTransport::pause_reading).
    pub fn resume_reading(&self) {
        for (pipe, writer) in self.core.pipes() {
            if !writer {
                pipe.resume_reading();
            }
        }
    }

    fn writer(&self, fd: RawFd) -> Option<Transport> {
        match self.core.pipe(fd) {
            Some((pipe, true)) => Some(pipe),
            _ => None,
        }
    }
}

/// A child process is a push producer of what it writes (Twisted's process
/// transport is an `IPushProducer`): register its transport as the
/// producer of a slower consumer (another child's stdin, a socket), and
/// its pipes stop being read while that consumer's buffer is full.
impl PushProducer for ProcessTransport {
    fn pause_producing(&self) {
        self.pause_reading();
    }

    fn resume_producing(&self) {
        self.resume_reading();
    }

    fn stop_producing(&self) {
        self.lose_connection();
    }
}

impl fmt::Debug for ProcessTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessTransport")
            .field("pid", &self.core.pid())
            .field("reaped", &self.core.is_reaped())
            .finish()
    }
}
