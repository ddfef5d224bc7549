//! [`PoolError`]: how a call through a [`ProcessPool`](super::ProcessPool)
//! fails for reasons of the pool rather than of the command.

use std::time::Duration;

use torsion::Failure;
use torsion::process::{ProcessTerminated, Signal};

/// Why a call through the pool failed, when the command itself did not
/// answer with an error. A command's declared errors reach the caller as
/// the command's own error type, and the peer's other AMP errors as
/// [`AmpError`](crate::AmpError), exactly as from
/// [`Amp::call_remote`](crate::Amp::call_remote).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError {
    /// The call ran past its timeout (or deadline): the worker running it
    /// was sent the pool's timeout signal (a remote worker's connection
    /// was aborted) and is replaced. `after` is how long the call had.
    #[error("the call timed out after {after:?}; its worker (pid {pid:?}) was stopped")]
    TimedOut {
        /// The time the call was given.
        after: Duration,
        /// The worker's process id (`None` for a remote worker).
        pid: Option<u32>,
    },
    /// The worker running the call died (or its connection was lost)
    /// before answering. Only the calls that worker was running fail; the
    /// pool starts another worker.
    #[error("the worker (pid {pid:?}) died during the call: {reason}")]
    WorkerDied {
        /// The worker's process id (`None` for a remote worker).
        pid: Option<u32>,
        /// Its exit status, when it exited.
        exit_code: Option<i32>,
        /// The signal that killed it, when one did.
        signal: Option<Signal>,
        /// The process's end (`ProcessTerminated`, `ProcessDone`) or the
        /// connection's loss, as the AMP connection reported it.
        reason: Failure,
    },
    /// A worker could not be started (the program is missing, a remote
    /// worker refused the connection). The call that was waiting longest
    /// fails with this, so that a broken starter does not leave callers
    /// waiting forever.
    #[error("a worker could not be started: {0}")]
    StartFailed(Failure),
    /// The pool was stopped before the call ran, or is stopped.
    #[error("the process pool is stopped")]
    Stopped,
}

impl PoolError {
    /// True for [`PoolError::TimedOut`].
    pub fn is_timed_out(&self) -> bool {
        matches!(self, PoolError::TimedOut { .. })
    }

    /// True for [`PoolError::WorkerDied`].
    pub fn is_worker_died(&self) -> bool {
        matches!(self, PoolError::WorkerDied { .. })
    }

    /// True for [`PoolError::Stopped`].
    pub fn is_stopped(&self) -> bool {
        matches!(self, PoolError::Stopped)
    }

    /// A worker's death during a call, from the connection's loss reason.
    pub(super) fn died(pid: Option<u32>, reason: Failure) -> PoolError {
        let terminated = reason.find::<ProcessTerminated>().copied();
        PoolError::WorkerDied {
            pid,
            exit_code: terminated
                .and_then(|t| t.exit_code)
                .or_else(|| reason.find::<torsion::process::ProcessDone>().map(|_| 0)),
            signal: terminated.and_then(|t| t.signal),
            reason,
        }
    }
}
