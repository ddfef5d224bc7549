//! Deferreds that another thread's work fires: the reactor-thread half of a
//! [`Completion`](super::Completion).
//!
//! A [`Resolver`] is `!Send`, so it stays on the reactor thread in a slot
//! of this table. The other thread gets shared state of its own (a thread
//! pool's job, say) that carries the slot's key (index and generation) and,
//! once done, the result; it posts that state back as a completion, and on
//! the reactor thread the key finds the slot again. The generation makes a
//! key from a cancelled call useless once its index is reused.
//!
//! ```text
//!   reactor thread                       other thread
//!   slot[key] = resolver
//!   job{key, f} ------------------------>  f() -> result, stored in the job
//!   slot[key].complete(result) <--reactor queue-- the same job
//! ```
//!
//! The table belongs to the reactor rather than to the thread pools so that
//! the way back costs no lookup: a completion reaches it straight from the
//! `&Reactor` it is given.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use slab::Slab;

use crate::defer::{AnyResolver, CancelEntry, EntryKey, Resolver};
use crate::error::ReactorError;
use crate::sync::Arc;
use crate::{Deferred, Failure};

/// Identifies one slot for its whole life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SlotKey {
    pub(crate) index: usize,
    pub(crate) generation: u64,
}

impl From<SlotKey> for EntryKey {
    fn from(key: SlotKey) -> EntryKey {
        (key.index, key.generation)
    }
}

impl From<EntryKey> for SlotKey {
    fn from((index, generation): EntryKey) -> SlotKey {
        SlotKey { index, generation }
    }
}

/// The other thread's work as its slot sees it, without its types.
pub(crate) trait Cancellable {
    /// Work that has not started yet is dropped unrun.
    fn cancel(&self);
}

struct Slot {
    generation: u64,
    resolver: AnyResolver,
    job: Arc<dyn Cancellable>,
}

/// The reactor's table of Deferreds waiting for another thread.
#[derive(Default)]
pub(crate) struct ThreadResults {
    slots: RefCell<Slab<Slot>>,
    generation: Cell<u64>,
}

impl ThreadResults {
    /// The key the next [`pending`](ThreadResults::pending) call will use,
    /// so the other thread's state can carry it from the start.
    pub(crate) fn next_key(&self) -> SlotKey {
        SlotKey {
            index: self.slots.borrow().vacant_key(),
            generation: self.generation.get() + 1,
        }
    }

    /// A Deferred waiting in slot `key` (from the
    /// [`next_key`](ThreadResults::next_key) call just before) for `job`;
    /// cancelling it forgets the slot and tells `job`.
    pub(crate) fn pending<T: 'static>(
        self: &Rc<Self>,
        key: SlotKey,
        job: Arc<dyn Cancellable>,
    ) -> Deferred<T> {
        let table: Weak<dyn CancelEntry> = Rc::downgrade(self) as Weak<dyn CancelEntry>;
        let (deferred, resolver) = Deferred::with_entry_canceller(table, key.into());
        self.insert(key, resolver, job);
        deferred
    }

    fn insert<T: 'static>(&self, key: SlotKey, resolver: Resolver<T>, job: Arc<dyn Cancellable>) {
        self.generation.set(key.generation);
        let index = self.slots.borrow_mut().insert(Slot {
            generation: key.generation,
            resolver: resolver.into(),
            job,
        });
        debug_assert_eq!(
            index, key.index,
            "a slot was taken between next_key and insert"
        );
    }

    fn take(&self, key: SlotKey) -> Option<Slot> {
        let mut slots = self.slots.borrow_mut();
        match slots.get(key.index) {
            Some(slot) if slot.generation == key.generation => Some(slots.remove(key.index)),
            _ => None,
        }
    }

    /// Fires the Deferred of `key` with `result`; a key whose Deferred was
    /// cancelled meanwhile finds nothing and the result is dropped.
    pub(crate) fn complete<T: 'static>(&self, key: SlotKey, result: Result<T, Failure>) {
        let Some(slot) = self.take(key) else {
            return;
        };
        drop(slot.job);
        slot.resolver.resolve(result);
    }

    /// The reactor has finished: no result can arrive any more, so every
    /// waiting Deferred fails with [`ReactorError::Stopped`].
    pub(crate) fn stop_all(&self) {
        let slots = std::mem::take(&mut *self.slots.borrow_mut());
        for (_, slot) in slots {
            slot.resolver.reject(ReactorError::Stopped);
        }
    }

    /// Deferreds waiting for their thread's result.
    pub(crate) fn len(&self) -> usize {
        self.slots.borrow().len()
    }
}

/// Cancelling a waiting Deferred reaches the table weakly, so a pending
/// Deferred does not keep the reactor's state alive.
impl CancelEntry for ThreadResults {
    fn cancel_entry(&self, key: EntryKey) {
        if let Some(slot) = self.take(key.into()) {
            slot.job.cancel();
            slot.resolver.disarm();
        }
    }
}
