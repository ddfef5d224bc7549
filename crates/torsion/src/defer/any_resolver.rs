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
    fn into_any(self: Rc<Self>) -> Rc<dyn Any>;
    fn reject(self: Rc<Self>, failure: Failure);
    /// Drops the reference as a `Resolver` would be dropped.
    fn drop_resolver(self: Rc<Self>);
}

impl<T: 'static> ErasedInner for RefCell<Inner<T>> {
    fn into_any(self: Rc<Self>) -> Rc<dyn Any> {
        self
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
    /// The typed resolver back, if `T` is its value type.
    pub(crate) fn downcast<T: 'static>(mut self) -> Option<Resolver<T>> {
        let inner = self.inner.take()?.into_any();
        inner
            .downcast::<RefCell<Inner<T>>>()
            .ok()
            .map(|inner| Resolver { inner: Some(inner) })
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
