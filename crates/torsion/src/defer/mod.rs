//! Deferreds: results that are not there yet.
//!
//! A [`Deferred<T>`] stands for the outcome of an operation that has already
//! started: a value of type `T`, or a [`Failure`](crate::Failure). Code that wants the
//! outcome chains callbacks onto it; code that produces it holds the other
//! half, a [`Resolver<T>`], and fires it once. This is Twisted's `Deferred`
//! with Rust's types: the two halves make firing twice a compile error, each
//! link of a chain has its own value type, and a Deferred is a [`Future`],
//! so the same operation can be consumed with callbacks or with `.await`.
//!
//! ```text
//!   producer                         consumer
//!   Resolver<T> --resolve(v)-->  Deferred<T> --map--> Deferred<U> --or_else--> Deferred<U>
//!                                 (value path: map/then run, or_else skipped)
//!              --reject(f)-->    (failure path: map/then skipped, or_else may recover)
//! ```
//!
//! Callbacks:
//!
//! ```
//! use torsion::{Deferred, Failure};
//!
//! let (deferred, resolver) = Deferred::<String>::new();
//! let length = deferred
//!     .map(|text| text.len())
//!     .or_else(|failure: Failure| -> Result<usize, Failure> {
//!         eprintln!("no text: {failure}");
//!         Ok(0)
//!     });
//! resolver.resolve("hello".to_owned());
//! # drop(length);
//! ```
//!
//! The same with `async`/`await` (on a reactor this runs under
//! `Reactor::spawn`; here a no-op waker polls it by hand):
//!
//! ```
//! use std::future::Future;
//! use std::pin::pin;
//! use std::task::{Context, Poll, Waker};
//! use torsion::{Deferred, Failure};
//!
//! let (deferred, resolver) = Deferred::<String>::new();
//! let mut length = pin!(async move {
//!     let text = deferred.await?;
//!     Ok::<usize, Failure>(text.len())
//! });
//! let mut cx = Context::from_waker(Waker::noop());
//! assert!(length.as_mut().poll(&mut cx).is_pending());
//! resolver.resolve("hello".to_owned());
//! assert!(matches!(length.as_mut().poll(&mut cx), Poll::Ready(Ok(5))));
//! ```
//!
//! Cancellation goes upstream: cancelling a link cancels the Deferred it
//! waits on, down to the operation's canceller, and the chain then fails
//! with [`Cancelled`](crate::error::Cancelled) unless the canceller fired it.
//! A failure that is dropped without anyone looking at it is logged once,
//! as Twisted's "Unhandled error in Deferred".
//!
//! Continuations run at once when the result is there, nested up to a
//! fixed depth; deeper chains continue iteratively, so chains of any length
//! resolve without exhausting the stack.

mod any_resolver;
pub(crate) mod awaiting;
mod cancel;
mod combinators;
mod consumer;
mod deferred;
mod fired;
mod flags;
mod lock;
mod queue;
mod shared;
mod trampoline;
mod unfired;
mod waiters;

#[cfg(test)]
mod cancel_tests;
#[cfg(test)]
mod combinator_order_tests;
#[cfg(test)]
mod combinator_tests;
#[cfg(test)]
mod shared_tests;
#[cfg(test)]
mod tests;

pub(crate) use any_resolver::AnyResolver;
pub use cancel::CancelHandle;
pub(crate) use cancel::{AwaitState, CancelEntry, CancelProgress, EntryKey};
pub use combinators::{DeferredList, gather, race};
pub use deferred::{Deferred, IntoDeferred, Outcome, Resolver};
pub use fired::{fail, maybe_deferred, succeed};
pub use lock::{DeferredLock, DeferredSemaphore, Permit};
pub use queue::DeferredQueue;
pub use shared::SharedDeferred;
pub use unfired::pending_deferreds;
