//! Who takes a Deferred's result when it comes.

use std::task::Waker;

use crate::Failure;

pub(super) type Continuation<T> = Box<dyn FnOnce(Result<T, Failure>)>;

/// Who takes the result: the next link of a chain, or a task awaiting the
/// Deferred. Never both, since chaining consumes the Deferred, so one field
/// holds either and a Deferred stays small.
pub(super) enum Consumer<T> {
    None,
    Continuation(Continuation<T>),
    Waker(Waker),
}

impl<T> Consumer<T> {
    pub(super) fn is_continuation(&self) -> bool {
        matches!(self, Consumer::Continuation(_))
    }

    pub(super) fn is_waker(&self) -> bool {
        matches!(self, Consumer::Waker(_))
    }
}
