//! Child processes (Twisted's `spawnProcess`, `ProcessProtocol` and
//! `twisted.internet.utils`): block somewhere else, in another program.
//!
//! [`Reactor::spawn_process`] starts a program with a
//! [`ProcessProtocol`] that hears what the child writes on each pipe,
//! each pipe's close, the child's exit and, last, the end of it all; the
//! [`ProcessTransport`] it is given writes to the child's stdin (with the
//! flow control of a socket), closes pipes and sends signals.
//! [`SpawnOptions`] say what the child starts with: environment, working
//! directory, a map of its descriptors ([`ChildFd`]) and a process group.
//!
//! ```text
//!   parent (reactor thread)                      child
//!   stdin pipe   --write / close_stdin-->        fd 0
//!   stdout pipe  <--child_data_received(1, ..)-- fd 1
//!   stderr pipe  <--child_data_received(2, ..)-- fd 2
//!   pidfd (or SIGCHLD) readable --> waitpid(pid, WNOHANG) --> process_exited
//!   exited and every pipe closed                          --> process_ended
//! ```
//!
//! For the common cases there are helpers returning Deferreds:
//! [`get_process_output`] (stdout, failing if anything comes on stderr),
//! [`get_process_output_and_value`] (stdout, stderr and the exit code),
//! and an async view, [`Reactor::spawn_child`], whose pipes are
//! [`AsyncStream`](crate::net::AsyncStream)s.
//!
//! Reaping never busy-waits and never takes another part of the program's
//! children: see [`Reaping`]. Children still running when the reactor
//! finishes are left running, and reaped by a thread when they exit.

mod core;
mod error;
mod options;
mod output;
mod protocol;
mod reap;
mod signal;
mod streams;
mod sys;
mod transport;

use std::ffi::OsStr;
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;

pub use error::{
    KilledBySignal, ProcessDone, ProcessExitedAlready, ProcessTerminated, UnexpectedErrorOutput,
};
pub use options::{ChildFd, SpawnOptions};
pub use output::{StderrOutput, get_process_output, get_process_output_and_value};
pub use protocol::ProcessProtocol;
pub use reap::Reaping;
pub use signal::{Signal, UnknownSignal};
pub use streams::ChildProcess;
pub use transport::ProcessTransport;

use self::core::{Pipe, PipeProtocol, ProcessCore};
use options::{ParentEnd, Prepared};
use reap::Reaper;

use crate::Reactor;

/// The parent's ends of a new child's pipes, by child descriptor.
type ParentEnds = Vec<(RawFd, ParentEnd)>;

/// Says how `reactor` learns that its children exited, for the children
/// it spawns from now on. [`Reaping::Auto`] (the default) uses a pidfd per
/// child where the kernel has them; [`Reaping::ChildSignal`] uses SIGCHLD,
/// as torsion does by itself on a kernel without pidfds (and as a test of
/// that path does).
pub fn set_reaping(reactor: &Reactor, reaping: Reaping) {
    reactor.extension::<Reaper>().set_mode(reaping);
}

/// Children of `reactor` that have not been reaped yet.
pub fn unreaped_children(reactor: &Reactor) -> usize {
    reactor.extension::<Reaper>().len()
}

impl Reactor {
    /// Starts `program` with `args` (not counting `argv[0]`, which is the
    /// program unless [`SpawnOptions::arg0`] says otherwise) and drives
    /// `protocol` with what happens to it (Twisted's `spawnProcess`).
    ///
    /// Fails if the program cannot be started (not found, not
    /// executable): the error comes from the spawn itself, as std's does.
    ///
    /// ```
    /// use torsion::process::{ProcessProtocol, ProcessTransport, SpawnOptions};
    /// use torsion::{Failure, Reactor};
    ///
    /// /// Sends a line to `tr`, collects the answer.
    /// #[derive(Default)]
    /// struct Upper {
    ///     out: Vec<u8>,
    /// }
    ///
    /// impl ProcessProtocol for Upper {
    ///     fn connection_made(&mut self, transport: &ProcessTransport) {
    ///         transport.write(b"hello child\n");
    ///         transport.close_stdin();
    ///     }
    ///     fn out_received(&mut self, data: &[u8]) {
    ///         self.out.extend_from_slice(data);
    ///     }
    ///     fn process_ended(&mut self, reason: Failure) {
    ///         assert!(reason.is::<torsion::process::ProcessDone>());
    ///         assert_eq!(self.out, b"HELLO CHILD\n");
    ///         Reactor::current().unwrap().stop().unwrap();
    ///     }
    /// }
    ///
    /// let reactor = Reactor::new()?;
    /// let transport = reactor.spawn_process(
    ///     Upper::default(),
    ///     "tr",
    ///     ["a-z", "A-Z"],
    ///     SpawnOptions::new(),
    /// )?;
    /// assert!(transport.pid().is_some());
    /// reactor.run()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn spawn_process(
        &self,
        protocol: impl ProcessProtocol,
        program: impl AsRef<OsStr>,
        args: impl IntoIterator<Item = impl AsRef<OsStr>>,
        options: SpawnOptions,
    ) -> io::Result<ProcessTransport> {
        let (core, pipes) =
            self.start_child(Box::new(protocol), program.as_ref(), args, options)?;
        for (fd, end) in pipes {
            let adapter = PipeProtocol {
                core: core.clone(),
                fd,
            };
            let attached = match end {
                ParentEnd::Writer(pipe) => self
                    .adopt_pipe_writer(pipe, adapter)
                    .map(|transport| (transport, true)),
                ParentEnd::Reader(pipe) => self
                    .adopt_pipe_reader(pipe, adapter)
                    .map(|transport| (transport, false)),
            };
            match attached {
                Ok((transport, writer)) => core.add_pipe(fd, Pipe { transport, writer }),
                Err(error) => return Err(self.abandon(&core, error)),
            }
        }
        let transport = core.transport();
        core.call(|protocol| protocol.connection_made(&transport));
        if let Err(error) = self.extension::<Reaper>().adopt(self, &core) {
            return Err(self.abandon(&core, error));
        }
        Ok(transport)
    }

    /// Spawns the child; its pipes' parent ends come back to be attached.
    fn start_child(
        &self,
        protocol: Box<dyn ProcessProtocol>,
        program: &OsStr,
        args: impl IntoIterator<Item = impl AsRef<OsStr>>,
        options: SpawnOptions,
    ) -> io::Result<(Rc<ProcessCore>, ParentEnds)> {
        let reaper = self.extension::<Reaper>();
        reaper.prepare(self)?;
        let group = options.group();
        let Prepared { mut command, pipes } = options.prepare(program, args)?;
        let child = command.spawn()?;
        // The child's ends of the pipes close here in the parent, or the
        // parent would never read end of file from them.
        drop(command);
        let core = Rc::new(ProcessCore::new(self, child, group, protocol));
        Ok((core, pipes.into_iter().collect()))
    }

    /// The child started but could not be watched: kill it, reap it in the
    /// background and give the error.
    fn abandon(&self, core: &Rc<ProcessCore>, error: io::Error) -> io::Error {
        let _ = core.signal(Signal::KILL);
        core.release_protocol();
        if let Some(mut child) = core.take_child() {
            std::thread::spawn(move || child.wait());
        }
        error
    }
}
