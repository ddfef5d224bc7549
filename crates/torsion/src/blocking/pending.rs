//! The reactor thread's table of operations whose Deferred has not fired
//! (crochet's result registry): how to cancel each, and its result to fire
//! with "reactor stopped" at shutdown. Only the reactor thread touches it,
//! so it needs no lock.

use std::cell::RefCell;
use std::collections::HashMap;

use super::result::Pending;
use crate::Reactor;
use crate::defer::CancelHandle;
use crate::reactor::Extension;
use crate::reactor::introspect::{BridgeInfo, Snapshot};
use crate::sync::Arc;

pub(super) struct Entry {
    pub(super) bridge: u64,
    pub(super) cancel: CancelHandle,
    pub(super) result: Arc<dyn Pending>,
}

thread_local! {
    static PENDING: RefCell<HashMap<u64, Entry>> = RefCell::new(HashMap::new());
}

pub(super) fn track(id: u64, entry: Entry) {
    let _ = PENDING.try_with(|pending| pending.borrow_mut().insert(id, entry));
}

pub(super) fn untrack(id: u64) {
    let _ = PENDING.try_with(|pending| pending.borrow_mut().remove(&id));
}

pub(super) fn cancel(id: u64) {
    let handle = PENDING
        .try_with(|pending| pending.borrow().get(&id).map(|entry| entry.cancel.clone()))
        .ok()
        .flatten();
    // Cancelling runs user code (the canceller, the callbacks), which
    // may start or cancel other operations: no borrow is held.
    if let Some(handle) = handle {
        handle.cancel();
    }
}

pub(super) fn stop_all(bridge: u64) {
    let stopped: Vec<Arc<dyn Pending>> = PENDING
        .try_with(|pending| {
            pending
                .borrow_mut()
                .extract_if(|_, entry| entry.bridge == bridge)
                .map(|(_, entry)| entry.result)
                .collect()
        })
        .unwrap_or_default();
    for result in stopped {
        result.reactor_stopped();
    }
}

/// Operations of any bridge on this thread whose Deferred has not fired.
pub(super) fn len() -> usize {
    PENDING
        .try_with(|pending| pending.borrow().len())
        .unwrap_or(0)
}

/// Kept on a reactor that a bridge drives, so that its
/// [snapshot](crate::Reactor::snapshot) carries the bridge's figures.
#[derive(Default)]
pub(super) struct BridgeFigures;

impl Extension for BridgeFigures {
    fn introspect(&self, _reactor: &Reactor, snapshot: &mut Snapshot) {
        snapshot.bridge = Some(BridgeInfo::new(len()));
    }
}
