//! torsion and tokio in one program (Twisted "cooperates with most
//! existing event loops"; in Rust the existing loop is tokio).
//!
//! Three doors, each passing results, failures and cancellation:
//!
//! - **torsion inside tokio**, on tokio's thread: [`run`] drives a
//!   [`Reactor`](torsion::Reactor) from a tokio runtime (its descriptor in
//!   tokio's I/O driver, its next timer in tokio's timer), so torsion's
//!   callbacks and tokio's tasks take turns on one thread;
//!   [`block_on_reactor`] builds the runtime and runs a reactor in it, a
//!   drop-in for `reactor.run()`.
//! - **tokio futures from torsion code**: [`from_future`] (the runtime
//!   hosting the reactor) and [`from_future_on`] (a runtime on threads of
//!   its own) run a future as a tokio task and return a
//!   [`Deferred`](torsion::Deferred) of its result; cancelling the
//!   Deferred drops the future, and a task aborted by tokio fails the
//!   Deferred with torsion's `Cancelled`.
//! - **torsion work from tokio code**, on any thread: a
//!   [`TorsionHandle`] starts work on the reactor and returns a
//!   [`JoinHandle`], a `Send` future of the Deferred's outcome; dropping
//!   it unfinished (or [`JoinHandle::abort`]) cancels the Deferred.
//!
//! ```
//! use std::time::Duration;
//! use torsion::time::defer_later;
//! use torsion::{Failure, Reactor};
//!
//! let reactor = Reactor::new()?;
//! let r = reactor.clone();
//! // torsion code that reads like blocking code, awaiting a torsion
//! // Deferred and a tokio future in turn (the green-thread style).
//! drop(reactor.spawn(async move {
//!     let first = defer_later(&r, Duration::from_millis(5), || Ok::<_, Failure>(20)).await?;
//!     let second = torsion_tokio::from_future(async {
//!         tokio::time::sleep(Duration::from_millis(5)).await;
//!         Ok::<_, Failure>(22)
//!     })
//!     .await?;
//!     assert_eq!(first + second, 42);
//!     r.stop()?;
//!     Ok::<(), Failure>(())
//! }));
//! torsion_tokio::block_on_reactor(&reactor)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The chapter "Mixing with other loops" (`docs/mixing-with-loops.md`)
//! explains the model, and the `green_threads` example runs it against
//! real sockets.
#![deny(missing_docs, missing_debug_implementations, unsafe_code)]

mod error;
mod future;
mod host;
mod join;

pub use error::Error;
pub use future::{from_future, from_future_on};
pub use host::{block_on_reactor, run};
pub use join::{JoinHandle, TorsionHandle};

/// docs/mixing-with-loops.md, compiled as doctests.
#[doc = include_str!("../../../docs/mixing-with-loops.md")]
#[cfg(doctest)]
pub struct MixingWithLoopsDoctests;
