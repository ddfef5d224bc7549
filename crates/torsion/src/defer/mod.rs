//! Deferreds: results that are not there yet (SKELETON: bodies to be written).

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::Failure;
use crate::time::Scheduler;

/// A result that is not there yet, with a chain of what to do with it.
#[derive(Debug)]
pub struct Deferred<T> {
    _marker: PhantomData<std::rc::Rc<T>>,
}

/// The firing half of a [`Deferred`].
#[derive(Debug)]
pub struct Resolver<T> {
    _marker: PhantomData<std::rc::Rc<T>>,
}

/// What a callback may return: a `Result` or another `Deferred`.
pub trait IntoDeferred {
    /// The success type.
    type Output: 'static;
    /// Converts into a Deferred.
    fn into_deferred(self) -> Deferred<Self::Output>;
}

impl<T: 'static> IntoDeferred for Deferred<T> {
    type Output = T;
    fn into_deferred(self) -> Deferred<T> {
        self
    }
}

impl<T: 'static, E: Into<Failure>> IntoDeferred for Result<T, E> {
    type Output = T;
    fn into_deferred(self) -> Deferred<T> {
        todo!()
    }
}

impl<T: 'static> Deferred<T> {
    /// A pending Deferred and the resolver that fires it.
    pub fn new() -> (Deferred<T>, Resolver<T>) {
        todo!()
    }
    /// Like `new`, with a canceller run by `cancel()` while unfired.
    pub fn with_canceller(canceller: impl FnOnce() + 'static) -> (Deferred<T>, Resolver<T>) {
        let _ = canceller;
        todo!()
    }
    /// An already-succeeded Deferred.
    pub fn succeed(value: T) -> Deferred<T> {
        let _ = value;
        todo!()
    }
    /// An already-failed Deferred.
    pub fn fail(failure: impl Into<Failure>) -> Deferred<T> {
        let _ = failure.into();
        todo!()
    }
    /// Chains a callback returning a plain value.
    pub fn map<U: 'static>(self, f: impl FnOnce(T) -> U + 'static) -> Deferred<U> {
        let _ = f;
        todo!()
    }
    /// Chains a callback returning a Result or a Deferred.
    pub fn then<R: IntoDeferred>(self, f: impl FnOnce(T) -> R + 'static) -> Deferred<R::Output> {
        let _ = f;
        todo!()
    }
    /// Chains an errback that may recover.
    pub fn or_else<R: IntoDeferred<Output = T>>(self, f: impl FnOnce(Failure) -> R + 'static) -> Deferred<T> {
        let _ = f;
        todo!()
    }
    /// Chains a function run on success and failure alike.
    pub fn both<R: IntoDeferred>(self, f: impl FnOnce(Result<T, Failure>) -> R + 'static) -> Deferred<R::Output> {
        let _ = f;
        todo!()
    }
    /// Cancels the operation.
    pub fn cancel(&self) {
        todo!()
    }
    /// Pauses the chain.
    pub fn pause(&self) {
        todo!()
    }
    /// Unpauses the chain.
    pub fn unpause(&self) {
        todo!()
    }
    /// True once a result arrived.
    pub fn is_fired(&self) -> bool {
        todo!()
    }
    /// Fails with TimedOut after `timeout`.
    pub fn add_timeout<S: Scheduler + ?Sized>(self, timeout: Duration, scheduler: &S) -> Deferred<T> {
        let _ = (timeout, scheduler);
        todo!()
    }
}

impl<T: 'static> Resolver<T> {
    /// Fires with a value.
    pub fn resolve(self, value: T) {
        let _ = value;
        todo!()
    }
    /// Fires with a failure.
    pub fn reject(self, failure: impl Into<Failure>) {
        let _ = failure.into();
        todo!()
    }
    /// Fires with a result.
    pub fn complete(self, result: Result<T, Failure>) {
        let _ = result;
        todo!()
    }
    /// True if the Deferred was cancelled.
    pub fn is_cancelled(&self) -> bool {
        todo!()
    }
}

impl<T: 'static> Future for Deferred<T> {
    type Output = Result<T, Failure>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let _ = cx;
        todo!()
    }
}

/// An already-succeeded Deferred.
pub fn succeed<T: 'static>(value: T) -> Deferred<T> {
    Deferred::succeed(value)
}

/// An already-failed Deferred.
pub fn fail<T: 'static>(failure: impl Into<Failure>) -> Deferred<T> {
    Deferred::fail(failure)
}

/// Calls `f` now; errors and panics become a failed Deferred.
pub fn maybe_deferred<R: IntoDeferred>(f: impl FnOnce() -> R) -> Deferred<R::Output> {
    let _ = f;
    todo!()
}
