//! The helpers that run a program and give what it wrote as a Deferred
//! (Twisted's `getProcessOutput` and `getProcessOutputAndValue`).

use std::ffi::OsStr;

use super::error::{KilledBySignal, ProcessTerminated, UnexpectedErrorOutput};
use super::{ProcessProtocol, ProcessTransport, SpawnOptions};
use crate::defer::Resolver;
use crate::{Deferred, Failure, Reactor};

/// What [`get_process_output`] does with what the child writes to stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StderrOutput {
    /// Anything on stderr fails the Deferred with
    /// [`UnexpectedErrorOutput`] at once, and the pipes are closed
    /// (Twisted's default, `errortoo=False`).
    #[default]
    Fail,
    /// Stderr is collected with stdout, in the order it arrives
    /// (`errortoo=True`).
    Merge,
}

/// Runs `program` with `args` and gives everything it wrote to stdout once
/// it has ended, whatever its exit status (Twisted's `getProcessOutput`).
/// The child's stdin is closed at once.
///
/// ```
/// use torsion::process::{SpawnOptions, StderrOutput, get_process_output};
/// use torsion::{Failure, Reactor};
///
/// let reactor = Reactor::new()?;
/// let r = reactor.clone();
/// let done = reactor.spawn(async move {
///     let out = get_process_output(&r, "echo", ["hello"], SpawnOptions::new(), StderrOutput::Fail).await?;
///     assert_eq!(out, b"hello\n");
///     r.stop().unwrap();
///     Ok::<(), Failure>(())
/// });
/// reactor.run()?;
/// # drop(done);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn get_process_output(
    reactor: &Reactor,
    program: impl AsRef<OsStr>,
    args: impl IntoIterator<Item = impl AsRef<OsStr>>,
    options: SpawnOptions,
    stderr: StderrOutput,
) -> Deferred<Vec<u8>> {
    let (deferred, resolver) = Deferred::new();
    let collector = OutputCollector {
        out: Vec::new(),
        stderr,
        resolver: Some(resolver),
        transport: None,
    };
    match reactor.spawn_process(collector, program, args, options) {
        Ok(_) => deferred,
        Err(error) => Deferred::fail(error),
    }
}

struct OutputCollector {
    out: Vec<u8>,
    stderr: StderrOutput,
    resolver: Option<Resolver<Vec<u8>>>,
    transport: Option<ProcessTransport>,
}

impl ProcessProtocol for OutputCollector {
    fn connection_made(&mut self, transport: &ProcessTransport) {
        transport.close_stdin();
        self.transport = Some(transport.clone());
    }

    fn out_received(&mut self, data: &[u8]) {
        self.out.extend_from_slice(data);
    }

    fn err_received(&mut self, data: &[u8]) {
        match self.stderr {
            StderrOutput::Merge => self.out.extend_from_slice(data),
            StderrOutput::Fail => {
                if let Some(resolver) = self.resolver.take() {
                    resolver.reject(UnexpectedErrorOutput {
                        stderr: data.to_vec(),
                    });
                    if let Some(transport) = &self.transport {
                        transport.lose_connection();
                    }
                }
            }
        }
    }

    fn process_ended(&mut self, _reason: Failure) {
        self.transport = None;
        if let Some(resolver) = self.resolver.take() {
            resolver.resolve(std::mem::take(&mut self.out));
        }
    }
}

/// Runs `program` with `args` and gives `(stdout, stderr, exit code)` once
/// it has ended (Twisted's `getProcessOutputAndValue`); fails with
/// [`KilledBySignal`], which carries what it wrote, if a signal killed it.
/// The child's stdin is closed at once.
///
/// ```
/// use torsion::process::{SpawnOptions, get_process_output_and_value};
/// use torsion::{Failure, Reactor};
///
/// let reactor = Reactor::new()?;
/// let r = reactor.clone();
/// let done = reactor.spawn(async move {
///     let (out, err, code) = get_process_output_and_value(
///         &r,
///         "sh",
///         ["-c", "echo out; echo err >&2; exit 3"],
///         SpawnOptions::new(),
///     )
///     .await?;
///     assert_eq!((out.as_slice(), err.as_slice(), code), (&b"out\n"[..], &b"err\n"[..], 3));
///     r.stop().unwrap();
///     Ok::<(), Failure>(())
/// });
/// reactor.run()?;
/// # drop(done);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn get_process_output_and_value(
    reactor: &Reactor,
    program: impl AsRef<OsStr>,
    args: impl IntoIterator<Item = impl AsRef<OsStr>>,
    options: SpawnOptions,
) -> Deferred<(Vec<u8>, Vec<u8>, i32)> {
    let (deferred, resolver) = Deferred::new();
    let collector = ValueCollector {
        out: Vec::new(),
        err: Vec::new(),
        resolver: Some(resolver),
    };
    match reactor.spawn_process(collector, program, args, options) {
        Ok(_) => deferred,
        Err(error) => Deferred::fail(error),
    }
}

/// stdout, stderr and the exit code.
type OutputAndValue = (Vec<u8>, Vec<u8>, i32);

struct ValueCollector {
    out: Vec<u8>,
    err: Vec<u8>,
    resolver: Option<Resolver<OutputAndValue>>,
}

impl ProcessProtocol for ValueCollector {
    fn connection_made(&mut self, transport: &ProcessTransport) {
        transport.close_stdin();
    }

    fn out_received(&mut self, data: &[u8]) {
        self.out.extend_from_slice(data);
    }

    fn err_received(&mut self, data: &[u8]) {
        self.err.extend_from_slice(data);
    }

    fn process_ended(&mut self, reason: Failure) {
        let Some(resolver) = self.resolver.take() else {
            return;
        };
        let out = std::mem::take(&mut self.out);
        let err = std::mem::take(&mut self.err);
        let terminated = reason.downcast_ref::<ProcessTerminated>().copied();
        match terminated {
            None => resolver.resolve((out, err, 0)),
            Some(ProcessTerminated {
                exit_code: Some(code),
                ..
            }) => resolver.resolve((out, err, code)),
            Some(ProcessTerminated {
                signal: Some(signal),
                ..
            }) => resolver.reject(KilledBySignal {
                stdout: out,
                stderr: err,
                signal,
            }),
            Some(unknown) => resolver.reject(unknown),
        }
    }
}
