//! Recording where a Deferred chain ends up, for tests.

use std::cell::RefCell;
use std::rc::Rc;

use crate::{Deferred, Failure};

/// Where [`record`] stores a Deferred's outcome once it arrives.
pub(crate) type Slot<T> = Rc<RefCell<Option<Result<T, Failure>>>>;

/// Ends `deferred`'s chain with a step that stores its outcome.
pub(crate) fn record<T: 'static>(deferred: Deferred<T>) -> Slot<T> {
    let slot: Slot<T> = Rc::new(RefCell::new(None));
    let into = slot.clone();
    drop(deferred.both(move |result| {
        *into.borrow_mut() = Some(result);
        Ok::<(), Failure>(())
    }));
    slot
}
