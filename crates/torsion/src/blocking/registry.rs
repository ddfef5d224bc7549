//! The process-wide store behind [`EventualResult::stash`] and
//! [`retrieve_result`] (crochet's `ResultStore`).

use std::any::Any;
use std::collections::BTreeMap;

use super::EventualResult;
// Plain std primitives: they live in statics, which loom's cannot, and
// the store is not part of the model-checked core.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// A stashed result, whatever its value type.
trait Stashed: Any + Send {
    fn bridge(&self) -> Option<u64>;
    fn report_unretrieved(&self);
}

impl<T: Send + 'static> Stashed for EventualResult<T> {
    fn bridge(&self) -> Option<u64> {
        self.core_bridge_id()
    }

    fn report_unretrieved(&self) {
        EventualResult::report_unretrieved(self);
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);
static STASH: Mutex<BTreeMap<u64, Box<dyn Stashed>>> = Mutex::new(BTreeMap::new());

fn stash() -> MutexGuard<'static, BTreeMap<u64, Box<dyn Stashed>>> {
    STASH
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Takes the result stashed under `id` by [`EventualResult::stash`], once:
/// a second call with the same id returns `None`, as does an id that was
/// never given or a `T` other than the stashed result's (which then stays
/// stashed). Works across bridges and before setup.
pub fn retrieve_result<T: Send + 'static>(id: u64) -> Option<EventualResult<T>> {
    take(id)
}

pub(super) fn put<T: Send + 'static>(result: EventualResult<T>) -> u64 {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    stash().insert(id, Box::new(result));
    id
}

/// Removes and returns the result stashed under `id`, if there is one of
/// type `EventualResult<T>`; a result of another type stays stashed.
fn take<T: Send + 'static>(id: u64) -> Option<EventualResult<T>> {
    let mut stash = stash();
    let entry: &dyn Any = &**stash.get(&id)?;
    if !entry.is::<EventualResult<T>>() {
        return None;
    }
    let entry: Box<dyn Any + Send> = stash.remove(&id)?;
    drop(stash);
    entry
        .downcast::<EventualResult<T>>()
        .ok()
        .map(|result| *result)
}

/// Logs the unretrieved failures among the results of `bridge` (they stay
/// stashed).
pub(super) fn report(bridge: u64) {
    for entry in stash().values() {
        if entry.bridge() == Some(bridge) {
            entry.report_unretrieved();
        }
    }
}
