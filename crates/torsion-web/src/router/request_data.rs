//! What a router leaves on a request for its handler: the path parameters
//! ([`PathParams`]), the application state, and the full path as the client
//! sent it ([`OriginalUri`]), all read through
//! [`RequestExt`](crate::RequestExt).
//!
//! Application state lives on the reactor thread and may be `!Send` (an
//! `Rc<RefCell<..>>` is fine), but a request's extensions only hold `Send +
//! Sync` values. So a router with state registers it in a table of its
//! thread, and the request carries only the key;
//! [`RequestExt::state`](crate::RequestExt::state) looks the key up. On
//! another thread (a blocking app's worker) the table is empty and `state`
//! says so.

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The parameters a route's pattern captured, in pattern order; in the
/// request's extensions. A mounted router adds its own after those of the
/// prefix it is mounted under.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathParams {
    pairs: Vec<(String, String)>,
}

impl PathParams {
    /// The percent-decoded value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Every (name, value) pair.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }

    pub(crate) fn extend(&mut self, pairs: Vec<(String, String)>) {
        self.pairs.extend(pairs);
    }
}

/// The request's URI as the client sent it, before mounted routers took
/// their prefix off the path; in the request's extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginalUri(pub http::Uri);

/// Keys of the states of the routers a request went through, innermost
/// last.
#[derive(Clone, Debug, Default)]
pub(crate) struct StateKeys(Vec<u64>);

impl StateKeys {
    pub(crate) fn push(&mut self, key: u64) {
        self.0.push(key);
    }

    /// The innermost state of type `S` among these keys, in this thread's
    /// table.
    pub(crate) fn find<S: 'static>(&self) -> Option<Rc<S>> {
        STATES.with(|states| {
            let states = states.borrow();
            self.0
                .iter()
                .rev()
                .filter_map(|key| states.get(key))
                .find_map(|state| state.clone().downcast::<S>().ok())
        })
    }
}

thread_local! {
    static STATES: RefCell<HashMap<u64, Rc<dyn Any>>> = RefCell::new(HashMap::new());
}

static NEXT_STATE_KEY: AtomicU64 = AtomicU64::new(1);

/// A state registered in this thread's table while the router that owns
/// it lives.
#[derive(Debug)]
pub(crate) struct StateSlot {
    key: u64,
}

impl StateSlot {
    pub(crate) fn register<S: 'static>(state: S) -> StateSlot {
        let key = NEXT_STATE_KEY.fetch_add(1, Ordering::Relaxed);
        STATES.with(|states| states.borrow_mut().insert(key, Rc::new(state)));
        StateSlot { key }
    }

    pub(crate) fn key(&self) -> u64 {
        self.key
    }
}

impl Drop for StateSlot {
    fn drop(&mut self) {
        // During thread teardown the table may be gone already.
        let _ = STATES.try_with(|states| states.borrow_mut().remove(&self.key));
    }
}
