//! The async view of a child process: its pipes as [`AsyncStream`]s and
//! its exit as a Deferred, for code written with `.await` (and for crates
//! that read and write through futures-io's or tokio's traits).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::os::fd::RawFd;
use std::process::ExitStatus;

use super::options::ParentEnd;
use super::reap::Reaper;
use super::{ProcessProtocol, ProcessTransport, Signal, SpawnOptions};
use crate::defer::SharedDeferred;
use crate::net::{AsyncStream, pipe_reader_stream, pipe_writer_stream};
use crate::{Deferred, Failure, Reactor};

/// A child process started with [`Reactor::spawn_child`]: each pipe is an
/// [`AsyncStream`] to take, and [`wait`](ChildProcess::wait) gives its exit
/// status.
///
/// ```
/// use torsion::process::SpawnOptions;
/// use torsion::{Failure, Reactor};
///
/// let reactor = Reactor::new()?;
/// let r = reactor.clone();
/// let done = reactor.spawn(async move {
///     let mut child = r.spawn_child("cat", [] as [&str; 0], SpawnOptions::new())?;
///     let stdin = child.take_stdin().unwrap();
///     let stdout = child.take_stdout().unwrap();
///     stdin.write_all_now(b"round trip");
///     drop(stdin); // closes the pipe once written: cat reads end of file
///     let mut echoed = [0u8; 10];
///     stdout.read_exact(&mut echoed).await?;
///     assert_eq!(&echoed, b"round trip");
///     assert!(child.wait().await?.success());
///     r.stop().unwrap();
///     Ok::<(), Failure>(())
/// });
/// reactor.run()?;
/// # drop(done);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ChildProcess {
    transport: ProcessTransport,
    pipes: BTreeMap<RawFd, AsyncStream>,
    exit: SharedDeferred<ExitStatus>,
}

impl ChildProcess {
    /// The child's pid until it has been reaped.
    pub fn pid(&self) -> Option<u32> {
        self.transport.pid()
    }

    /// Takes the stream writing to the child's stdin (once). Dropping it,
    /// or shutting its writing down, closes the pipe after what was
    /// written: the child reads end of file.
    pub fn take_stdin(&mut self) -> Option<AsyncStream> {
        self.take_pipe(0)
    }

    /// Takes the stream reading the child's stdout (once).
    pub fn take_stdout(&mut self) -> Option<AsyncStream> {
        self.take_pipe(1)
    }

    /// Takes the stream reading the child's stderr (once).
    pub fn take_stderr(&mut self) -> Option<AsyncStream> {
        self.take_pipe(2)
    }

    /// Takes the stream on the pipe at the child's descriptor `fd`.
    pub fn take_pipe(&mut self, fd: RawFd) -> Option<AsyncStream> {
        self.pipes.remove(&fd)
    }

    /// Sends `signal` to the child (see
    /// [`ProcessTransport::signal_process`]).
    pub fn signal(&self, signal: Signal) -> Result<(), Failure> {
        self.transport.signal_process(signal)
    }

    /// The child's exit status once it has exited (a signal that killed it
    /// is in [`ExitStatusExt::signal`](std::os::unix::process::ExitStatusExt::signal)).
    /// Fails with [`ProcessTerminated`](super::ProcessTerminated) if
    /// somebody else collected the status. Any number of callers may wait.
    pub fn wait(&self) -> Deferred<ExitStatus> {
        self.exit.get()
    }
}

impl fmt::Debug for ChildProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildProcess")
            .field("transport", &self.transport)
            .field("pipes", &self.pipes.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The protocol of a child whose pipes are streams: it only waits.
struct Unheard;

impl ProcessProtocol for Unheard {}

impl Reactor {
    /// Starts `program` as [`spawn_process`](Reactor::spawn_process) does,
    /// with its pipes as [`AsyncStream`]s instead of protocol callbacks
    /// (the async view of a child, like tokio's `Child`).
    pub fn spawn_child(
        &self,
        program: impl AsRef<OsStr>,
        args: impl IntoIterator<Item = impl AsRef<OsStr>>,
        options: SpawnOptions,
    ) -> io::Result<ChildProcess> {
        let (core, ends) = self.start_child(Box::new(Unheard), program.as_ref(), args, options)?;
        let (exit, resolver) = Deferred::new();
        core.set_on_exit(move |exit| resolver.complete(exit));
        let mut pipes = BTreeMap::new();
        for (fd, end) in ends {
            let stream = match end {
                ParentEnd::Writer(pipe) => pipe_writer_stream(self, pipe),
                ParentEnd::Reader(pipe) => pipe_reader_stream(self, pipe),
            };
            match stream {
                Ok(stream) => drop(pipes.insert(fd, stream)),
                Err(error) => return Err(self.abandon(&core, error)),
            }
        }
        if let Err(error) = self.extension::<Reaper>().adopt(self, &core) {
            return Err(self.abandon(&core, error));
        }
        Ok(ChildProcess {
            transport: core.transport(),
            pipes,
            exit: SharedDeferred::new(exit),
        })
    }
}
