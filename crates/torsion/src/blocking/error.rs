//! [`BridgeError`]: why a bridged call produced no value.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::Failure;

/// Why a bridged call produced no value.
///
/// Cheap to clone: a result can be waited for again and gives the same
/// error each time (crochet re-raises the same exception), so the
/// operation's [`Failure`] is shared.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum BridgeError {
    /// Neither [`setup`](super::setup) nor [`use_reactor`](super::use_reactor)
    /// was called.
    NotSetUp,
    /// [`use_reactor`](super::use_reactor) was called after the bridge was
    /// already set up.
    AlreadySetUp,
    /// The reactor has stopped (or stopped before the operation finished);
    /// it takes no more work.
    ReactorStopped,
    /// No result arrived within the timeout.
    TimedOut(Duration),
    /// A blocking call was made on the reactor thread itself, where it
    /// could only deadlock.
    OnReactorThread,
    /// The result was moved out by [`take`](super::EventualResult::take) or
    /// `.await`; only [`wait`](super::EventualResult::wait) leaves it in
    /// place.
    AlreadyRetrieved,
    /// The operation failed; this is its original failure.
    Failed(SharedFailure),
    /// The bridge's reactor thread did not start; the inner error says
    /// why.
    Start(Arc<StartError>),
}

/// Why [`Bridge::start`](super::Bridge::start) (or
/// [`setup`](super::setup)) could not start a reactor thread.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The system would not create the thread.
    #[error("the thread could not be spawned: {0}")]
    Spawn(#[source] std::io::Error),
    /// The thread could not create its reactor (out of descriptors, say).
    #[error("the reactor could not be created: {0}")]
    Reactor(#[source] std::io::Error),
    /// The thread ended before handing over the bridge: it panicked while
    /// setting the reactor up.
    #[error("the reactor thread ended before handing over its bridge")]
    ThreadEnded,
}

/// An operation's [`Failure`], shared by every copy of the
/// [`BridgeError`] that reports it. Dereferences to the `Failure`.
#[derive(Clone)]
pub struct SharedFailure(Arc<Failure>);

impl SharedFailure {
    pub(super) fn new(failure: Failure) -> SharedFailure {
        SharedFailure(Arc::new(failure))
    }

    /// The failure itself, when no other copy of it is alive; otherwise
    /// the shared one comes back.
    pub fn try_unwrap(self) -> Result<Failure, SharedFailure> {
        Arc::try_unwrap(self.0).map_err(SharedFailure)
    }
}

impl std::ops::Deref for SharedFailure {
    type Target = Failure;

    fn deref(&self) -> &Failure {
        &self.0
    }
}

impl fmt::Debug for SharedFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for SharedFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl StdError for SharedFailure {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(self.0.error())
    }
}

impl fmt::Display for BridgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BridgeError::NotSetUp => f.write_str(
                "the blocking bridge is not set up: call torsion::blocking::setup() \
                 (or use_reactor) first",
            ),
            BridgeError::AlreadySetUp => f.write_str("the blocking bridge is already set up"),
            BridgeError::ReactorStopped => f.write_str("the reactor has stopped"),
            BridgeError::TimedOut(timeout) => write!(f, "no result within {timeout:?}"),
            BridgeError::OnReactorThread => f.write_str(
                "a blocking wait on the reactor thread would deadlock; \
                 await the result or chain on the Deferred instead",
            ),
            BridgeError::AlreadyRetrieved => f.write_str("the result was already taken"),
            BridgeError::Failed(failure) => write!(f, "the operation failed: {failure}"),
            BridgeError::Start(error) => write!(f, "the bridge's reactor did not start: {error}"),
        }
    }
}

/// The source of an operation's failure is its original error, so
/// `source()` chains reach it directly.
impl StdError for BridgeError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            BridgeError::Failed(failure) => Some(failure.error()),
            BridgeError::Start(error) => Some(&**error),
            _ => None,
        }
    }
}

impl BridgeError {
    pub(super) fn failed(failure: Failure) -> BridgeError {
        BridgeError::Failed(SharedFailure::new(failure))
    }

    /// The operation's failure, if that is what this is.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            BridgeError::Failed(failure) => Some(failure),
            _ => None,
        }
    }

    /// The operation's failure, shared with the result it came from.
    pub fn into_failure(self) -> Option<SharedFailure> {
        match self {
            BridgeError::Failed(failure) => Some(failure),
            _ => None,
        }
    }

    /// True for [`BridgeError::TimedOut`].
    pub fn is_timeout(&self) -> bool {
        matches!(self, BridgeError::TimedOut(_))
    }

    /// True if the operation failed with
    /// [`Cancelled`](crate::error::Cancelled).
    pub fn is_cancelled(&self) -> bool {
        self.failure().is_some_and(Failure::is_cancelled)
    }

    /// True for [`BridgeError::ReactorStopped`].
    pub fn is_reactor_stopped(&self) -> bool {
        matches!(self, BridgeError::ReactorStopped)
    }
}
