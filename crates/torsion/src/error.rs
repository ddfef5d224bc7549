//! The well-known errors of torsion, in one place.
//!
//! Each is its own small type so that an errback can ask for exactly the one
//! it handles (`failure.trap::<Cancelled>()`), the way Twisted code traps
//! `CancelledError` or `ConnectionDone`. Display texts are for people and may
//! change; match on the types.

use std::error::Error as StdError;
use std::fmt;

use crate::Failure;

/// A Deferred was cancelled (Twisted's `CancelledError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operation was cancelled")]
pub struct Cancelled;

/// An operation did not finish in the time it was given (Twisted's
/// `defer.TimeoutError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operation timed out after {0:?}")]
pub struct TimedOut(pub std::time::Duration);

/// The firing half of a Deferred was dropped without firing it, so no result
/// will ever arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the Deferred's resolver was dropped before it fired")]
pub struct ResolverDropped;

/// User code panicked; the panic was caught and became this failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("panicked: {message}")]
pub struct Panicked {
    /// The panic message, or a note that the payload was not a string.
    pub message: String,
}

/// Why a [`DelayedCall`](crate::time::DelayedCall) could not be cancelled,
/// reset or delayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DelayedCallError {
    /// The call already ran (it may be running right now).
    #[error("the delayed call has already been called")]
    AlreadyCalled,
    /// The call was cancelled earlier.
    #[error("the delayed call has already been cancelled")]
    AlreadyCancelled,
}

/// The connection was closed cleanly (Twisted's `ConnectionDone`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the connection was closed cleanly")]
pub struct ConnectionDone;

/// The connection was lost in a non-clean fashion (Twisted's `ConnectionLost::new()`),
/// with the socket error that ended it when there was one.
#[derive(Debug, thiserror::Error)]
#[error("the connection was lost in a non-clean fashion")]
pub struct ConnectionLost {
    #[source]
    cause: Option<std::io::Error>,
}

impl ConnectionLost {
    /// A loss with no further detail.
    pub fn new() -> ConnectionLost {
        ConnectionLost { cause: None }
    }

    /// The socket error behind the loss, if any.
    pub fn cause(&self) -> Option<&std::io::Error> {
        self.cause.as_ref()
    }
}

impl Default for ConnectionLost {
    fn default() -> Self {
        ConnectionLost::new()
    }
}

impl From<std::io::Error> for ConnectionLost {
    fn from(cause: std::io::Error) -> Self {
        ConnectionLost { cause: Some(cause) }
    }
}

/// The peer refused the connection (Twisted's `ConnectionRefusedError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the connection was refused by the other side")]
pub struct ConnectionRefused;

/// The connection was aborted locally (Twisted's `ConnectionAborted`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the connection was aborted locally")]
pub struct ConnectionAborted;

/// Errors from the reactor's life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReactorError {
    /// `run` was called while the reactor is already running.
    #[error("the reactor is already running")]
    AlreadyRunning,
    /// `run` was called on a reactor that has already run and stopped; a
    /// reactor runs once.
    #[error("the reactor cannot be restarted")]
    NotRestartable,
    /// `stop` was called on a reactor that is not running (or already
    /// stopping).
    #[error("the reactor is not running")]
    NotRunning,
    /// The reactor has stopped and its thread no longer takes calls.
    #[error("the reactor has stopped")]
    Stopped,
    /// The system event trigger id is unknown or was already removed.
    #[error("no such system event trigger")]
    NoSuchTrigger,
}

/// Work was offered to a [`ThreadPool`](crate::threads::ThreadPool) that
/// has been stopped (or to the reactor's pool after its shutdown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the thread pool has stopped")]
pub struct PoolStopped;

/// A call that blocks until the reactor answers was made on the reactor's
/// own thread, where it could only deadlock; it fails at once instead (see
/// [`blocking_call_from_thread`](crate::threads::blocking_call_from_thread)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a blocking call was made on the reactor thread, where it would deadlock")]
pub struct OnReactorThread;

/// One member of a [`gather`](crate::defer::gather) failed; carries that
/// member's failure and its index (Twisted's `FirstError`).
#[derive(Debug)]
pub struct FirstError {
    /// The failure of the member that failed first.
    pub failure: Failure,
    /// The position of that member in the input.
    pub index: usize,
}

impl fmt::Display for FirstError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The member's failure is the source: a report that walks the
        // chain (as `Failure`'s Display does) shows it once, after this.
        write!(f, "member {} failed", self.index)
    }
}

impl StdError for FirstError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(self.failure.error())
    }
}

/// Every member of a [`race`](crate::defer::race) failed; the failures are in
/// input order (Twisted's `FailureGroup`).
#[derive(Debug)]
pub struct FailureGroup {
    /// One failure per member, in input order.
    pub failures: Vec<Failure>,
}

impl fmt::Display for FailureGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "all {} members failed", self.failures.len())?;
        for (index, failure) in self.failures.iter().enumerate() {
            write!(f, "; [{index}] {failure}")?;
        }
        Ok(())
    }
}

impl StdError for FailureGroup {}

/// A `put` on a full [`DeferredQueue`](crate::defer::DeferredQueue).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the queue is full")]
pub struct QueueOverflow;

/// A `get` on a [`DeferredQueue`](crate::defer::DeferredQueue) whose backlog
/// of waiting getters is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many pending gets on the queue")]
pub struct QueueUnderflow;

/// Why a [`LoopingCall`](crate::time::LoopingCall) could not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LoopingCallError {
    /// The loop is already running (or waiting on its function's Deferred).
    #[error("the looping call is already running")]
    AlreadyRunning,
}

/// How a cooperative task ended, when asked to do something it no longer can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// The task was stopped with `stop()`.
    #[error("the cooperative task was stopped")]
    Stopped,
    /// The task's iterator is exhausted.
    #[error("the cooperative task is done")]
    Done,
    /// A step of the task failed.
    #[error("the cooperative task failed")]
    Failed,
    /// The cooperator running the task was stopped.
    #[error("the cooperator was stopped")]
    SchedulerStopped,
    /// `resume` was called on a task that is not paused.
    #[error("the cooperative task is not paused")]
    NotPaused,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_error_names_the_index_and_chains_the_failure() {
        let error = FirstError {
            failure: Failure::new(Cancelled),
            index: 1,
        };
        assert_eq!(error.to_string(), "member 1 failed");
        assert!(error.source().unwrap().is::<Cancelled>());
    }

    #[test]
    fn a_first_error_report_shows_the_inner_error_once() {
        let failure = Failure::new(FirstError {
            failure: Failure::new(ConnectionLost::new()),
            index: 0,
        });
        let text = failure.to_string();
        assert_eq!(text.matches("the connection was lost").count(), 1, "{text}");
        assert!(text.starts_with("member 0 failed: "), "{text}");
    }

    #[test]
    fn failure_group_lists_every_failure() {
        let group = FailureGroup {
            failures: vec![Failure::new(Cancelled), Failure::new(ConnectionLost::new())],
        };
        let text = group.to_string();
        assert!(text.starts_with("all 2 members failed"));
        assert!(text.contains("[1] the connection was lost"));
    }
}
