//! [`AnyResolver`]: a resolver whose value type only its user knows.

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;

use crate::Failure;

use super::Resolver;
use super::deferred::{Inner, fire};

/// A [`Resolver`] of a value type known only to whoever fires it, for a
/// table that keeps resolvers of many types together. It is the resolver's
/// own reference, without a box of its own; dropped unfired it behaves as
/// a dropped `Resolver`.
pub(crate) struct AnyResolver {
    inner: Option<Rc<dyn ErasedInner>>,
}

/// What an [`AnyResolver`] can do without knowing the value type.
trait ErasedInner {
    /// Fires with the result in `result`, an `Option<Result<T, Failure>>`
    /// of this Deferred's `T`: passing it by reference costs one type
    /// check, where turning the reference into an `Rc<dyn Any>` and back
    /// costs a conversion each way.
    fn resolve_from(self: Rc<Self>, result: &mut dyn Any);
    fn reject(self: Rc<Self>, failure: Failure);
    /// Drops the reference as a `Resolver` would be dropped.
    fn drop_resolver(self: Rc<Self>);
}

impl<T: 'static> ErasedInner for RefCell<Inner<T>> {
    fn resolve_from(self: Rc<Self>, result: &mut dyn Any) {
        match result.downcast_mut::<Option<Result<T, Failure>>>() {
            Some(result) => {
                if let Some(result) = result.take() {
                    fire(&self, result);
                }
            }
            None => unreachable!("a resolver is resolved with its own type"),
        }
    }

    fn reject(self: Rc<Self>, failure: Failure) {
        fire(&self, Err(failure));
    }

    fn drop_resolver(self: Rc<Self>) {
        drop(Resolver { inner: Some(self) });
    }
}

impl<T: 'static> From<Resolver<T>> for AnyResolver {
    fn from(mut resolver: Resolver<T>) -> AnyResolver {
        AnyResolver {
            inner: resolver
                .inner
                .take()
                .map(|inner| inner as Rc<dyn ErasedInner>),
        }
    }
}

impl AnyResolver {
    /// Fires the Deferred with `result`, whose `T` must be its value type
    /// (a different one panics).
    pub(crate) fn resolve<T: 'static>(mut self, result: Result<T, Failure>) {
        if let Some(inner) = self.inner.take() {
            inner.resolve_from(&mut Some(result));
        }
    }

    /// Fires the Deferred with a failure.
    pub(crate) fn reject(mut self, failure: impl Into<Failure>) {
        if let Some(inner) = self.inner.take() {
            inner.reject(failure.into());
        }
    }

    /// As [`Resolver::disarm`].
    pub(crate) fn disarm(mut self) {
        self.inner = None;
    }
}

impl Drop for AnyResolver {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            inner.drop_resolver();
        }
    }
}
