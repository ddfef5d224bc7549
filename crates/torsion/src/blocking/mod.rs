//! Blocking code calling into a reactor that runs behind it (crochet's
//! model): a plain `main`, a synchronous web framework or a CLI starts a
//! reactor on a background thread and hands it work, getting back an
//! [`EventualResult`] to wait on.
//!
//! ```
//! use std::time::Duration;
//! use torsion::blocking;
//! use torsion::time::defer_later;
//! use torsion::Failure;
//!
//! // Once, at the top of main; the reactor runs until the process exits.
//! blocking::setup()?;
//!
//! // Start an operation on the reactor thread and wait for it here.
//! let greeting = blocking::run_in_reactor(|reactor| {
//!     defer_later(&reactor, Duration::from_millis(10), || {
//!         Ok::<_, Failure>("hello from the reactor")
//!     })
//! });
//! println!("{}", greeting.wait(Duration::from_secs(5))?);
//!
//! // Or block with a timeout that also cancels the operation.
//! let too_slow = blocking::wait_for(Duration::from_millis(20), |reactor| {
//!     defer_later(&reactor, Duration::from_secs(60), || Ok::<_, Failure>("never"))
//! });
//! assert!(too_slow.unwrap_err().is_timeout());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The pieces:
//!
//! - [`setup`] starts the reactor on a background thread named
//!   `torsion-reactor` (once per process; later calls do nothing). It runs
//!   until the process exits or [`shutdown`] is called; at exit it stops,
//!   its shutdown triggers run and its thread is joined. Ctrl-C stops it
//!   cleanly and wakes every waiter with [`BridgeError::ReactorStopped`].
//! - [`use_reactor`] is for programs that run a reactor themselves: the
//!   bridge sends its work to that reactor instead of starting one.
//! - [`run_in_reactor`] runs a function on the reactor thread and returns
//!   an [`EventualResult`] at once; the function returns a
//!   [`Deferred`](crate::Deferred), a `Result`, or any future, such as an
//!   `async fn`'s (see [`IntoEventual`]).
//! - [`wait_for`] runs a function and blocks for its result; when the
//!   timeout passes the operation is cancelled.
//! - [`EventualResult::wait`] can be called again and returns the same
//!   result each time, as in crochet;
//!   [`original_failure`](EventualResult::original_failure) looks at a
//!   failure without using it up.
//! - [`EventualResult::stash`] and [`retrieve_result`] park a result under
//!   an id and collect it later, elsewhere, once.
//!
//! Every failure mode is an error value, never a hang: using the bridge
//! before it is set up is [`BridgeError::NotSetUp`]; waiting on the
//! reactor thread, which could never see its result, is
//! [`BridgeError::OnReactorThread`]; when the reactor stops, every result
//! still pending (including those of operations still queued) becomes
//! [`BridgeError::ReactorStopped`] and blocked waiters wake at once, and
//! later calls get that error straight away.
//!
//! The process-wide functions delegate to one global [`Bridge`]; a
//! `Bridge` can also be made on its own ([`Bridge::start`],
//! [`Bridge::for_reactor`]), for tests or for a program with several
//! reactors.

//!
//! The module's files: `global` (the process-wide functions), `bridge`
//! (one bridge and the jobs it queues), `operation` (what a bridged function
//! may return), `result` ([`EventualResult`]), `pending` (the reactor
//! thread's table of unfinished operations), `registry` (stashed results)
//! and `error`.

mod bridge;
mod error;
mod global;
mod operation;
mod pending;
mod registry;
mod result;
#[cfg(test)]
mod result_tests;
#[cfg(test)]
mod tests;

pub use bridge::Bridge;
pub use error::{BridgeError, SharedFailure, StartError};
pub use global::{
    EXIT_SHUTDOWN_TIMEOUT, global, run_in_reactor, setup, shutdown, use_reactor, wait_for,
};
pub use operation::{Awaited, Immediate, IntoEventual};
pub use registry::retrieve_result;
pub use result::EventualResult;
