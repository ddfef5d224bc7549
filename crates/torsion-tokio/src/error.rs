//! [`Error`]: why torsion could not run inside tokio, or a tokio future
//! could not be started from torsion code.

use std::io;

use torsion::error::ReactorError;

/// Why hosting a reactor in tokio, or handing a future to tokio, failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The reactor refused to start or run (already running, already
    /// finished, or its poller failed).
    #[error(transparent)]
    Reactor(#[from] ReactorError),
    /// No tokio runtime is current on this thread: the call is not inside
    /// a runtime's `block_on`, a task, or a `Handle::enter` guard.
    #[error("no tokio runtime is running on this thread: {0}")]
    NoRuntime(#[from] tokio::runtime::TryCurrentError),
    /// [`block_on_reactor`](crate::block_on_reactor) was called inside a
    /// tokio runtime, which cannot block its own thread on another: await
    /// [`run`](crate::run) there instead.
    #[error("block_on_reactor called inside a tokio runtime; await torsion_tokio::run instead")]
    InsideRuntime,
    /// No torsion reactor was made on this thread, so there is nowhere
    /// for a Deferred's callbacks to run.
    #[error("no torsion reactor on this thread")]
    NoReactor,
    /// A system call failed: building the runtime, watching the reactor's
    /// descriptor, or polling it.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The system's error.
        #[source]
        source: io::Error,
    },
}

impl Error {
    pub(crate) fn io(what: &'static str) -> impl FnOnce(io::Error) -> Error {
        move |source| Error::Io { what, source }
    }

    /// True if the reactor itself refused (see [`ReactorError`]).
    pub fn is_reactor(&self) -> bool {
        matches!(self, Error::Reactor(_))
    }

    /// True if there was no tokio runtime to use.
    pub fn is_no_runtime(&self) -> bool {
        matches!(self, Error::NoRuntime(_))
    }
}
