//! The free-function forms of Deferreds made already fired, as Twisted
//! spells them: `succeed`, `fail` and `maybeDeferred`.

use crate::Failure;
use crate::failure::catch_panic;

use super::deferred::{Deferred, IntoDeferred};

/// A Deferred that has already succeeded with `value`.
pub fn succeed<T: 'static>(value: T) -> Deferred<T> {
    Deferred::succeed(value)
}

/// A Deferred that has already failed.
pub fn fail<T: 'static>(failure: impl Into<Failure>) -> Deferred<T> {
    Deferred::fail(failure)
}

/// Calls `f` now and makes its outcome a Deferred: a returned Deferred as
/// is, a `Result` as an already-fired Deferred, and a panic as a failed one
/// (Twisted's `maybeDeferred`).
pub fn maybe_deferred<R: IntoDeferred>(f: impl FnOnce() -> R) -> Deferred<R::Output> {
    match catch_panic(f) {
        Ok(outcome) => outcome.into_deferred(),
        Err(failure) => Deferred::fail(failure),
    }
}
