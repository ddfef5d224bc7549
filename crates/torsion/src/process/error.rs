//! The errors of child processes: how one ended, and what the helpers
//! fail with.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use super::Signal;

/// The child exited with status 0 (Twisted's `ProcessDone`): the reason
/// [`process_exited`](super::ProcessProtocol::process_exited) and
/// [`process_ended`](super::ProcessProtocol::process_ended) get for a
/// success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the process exited with status 0")]
pub struct ProcessDone;

/// The child exited with a non-zero status or was killed by a signal
/// (Twisted's `ProcessTerminated`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(self))]
pub struct ProcessTerminated {
    /// The exit status it gave, `None` when a signal ended it.
    pub exit_code: Option<i32>,
    /// The signal that ended it, `None` when it exited.
    pub signal: Option<Signal>,
    /// The raw wait status, `None` when somebody else reaped the child
    /// (SIGCHLD set to be ignored, or a `waitpid(-1)` elsewhere in the
    /// program) and its status is lost.
    pub status: Option<i32>,
}

fn describe(terminated: &ProcessTerminated) -> String {
    match (terminated.exit_code, terminated.signal) {
        (Some(code), _) => format!("the process exited with status {code}"),
        (None, Some(signal)) => format!("the process was killed by {signal}"),
        (None, None) => "the process ended; somebody else collected its status".to_owned(),
    }
}

impl ProcessTerminated {
    pub(crate) fn from_status(status: ExitStatus) -> ProcessTerminated {
        ProcessTerminated {
            exit_code: status.code(),
            signal: status.signal().map(Signal::from_raw),
            status: Some(status.into_raw()),
        }
    }

    /// A child whose status was collected by somebody else.
    pub(crate) fn unknown() -> ProcessTerminated {
        ProcessTerminated {
            exit_code: None,
            signal: None,
            status: None,
        }
    }
}

/// The process has already been reaped, so it cannot be signalled (its
/// pid may belong to another process by now); Twisted's
/// `ProcessExitedAlready`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the process has already exited")]
pub struct ProcessExitedAlready;

/// [`get_process_output`](super::get_process_output) failed because the
/// child wrote to its stderr (Twisted's `_UnexpectedErrorOutput`): the
/// first bytes it wrote there. The pipes are closed at once; the child
/// gets SIGPIPE or end of file on its next write or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the process wrote to stderr: {}", String::from_utf8_lossy(.stderr))]
pub struct UnexpectedErrorOutput {
    /// What arrived on stderr.
    pub stderr: Vec<u8>,
}

/// [`get_process_output_and_value`](super::get_process_output_and_value)
/// failed because a signal killed the child: what it wrote until then,
/// and the signal (Twisted errbacks with the tuple
/// `(out, err, signalNum)`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the process was killed by {signal}")]
pub struct KilledBySignal {
    /// What arrived on stdout.
    pub stdout: Vec<u8>,
    /// What arrived on stderr.
    pub stderr: Vec<u8>,
    /// The signal that killed it.
    pub signal: Signal,
}
