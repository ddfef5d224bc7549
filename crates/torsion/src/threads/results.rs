//! Where a reactor keeps the resolvers of Deferreds waiting for a thread.
//!
//! A [`Resolver`] is `!Send`, so it stays on the reactor thread in a slot;
//! the worker gets only the slot's key (index and generation) and sends its
//! result back with `call_from_thread`, which looks the slot up again. The
//! generation makes a key from a cancelled call useless once its index is
//! reused.

use std::any::Any;
use std::cell::RefCell;

use slab::Slab;

use crate::Failure;
use crate::defer::Resolver;
use crate::error::ReactorError;

/// A resolver of any type, as a slot holds it.
trait Pending {
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
    fn stopped(self: Box<Self>);
    fn disarm(self: Box<Self>);
}

impl<T: 'static> Pending for Resolver<T> {
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }

    fn stopped(self: Box<Self>) {
        self.reject(ReactorError::Stopped);
    }

    fn disarm(self: Box<Self>) {
        Resolver::disarm(*self);
    }
}

/// Identifies one slot for its whole life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SlotKey {
    index: usize,
    generation: u64,
}

struct Slot {
    generation: u64,
    resolver: Box<dyn Pending>,
}

/// The reactor's table of Deferreds waiting for a worker thread.
#[derive(Default)]
pub(crate) struct ThreadResults {
    slots: RefCell<Slab<Slot>>,
    generation: std::cell::Cell<u64>,
}

impl ThreadResults {
    /// The key the next [`insert`](ThreadResults::insert) will use, so a
    /// canceller can be made before the resolver exists.
    pub(crate) fn next_key(&self) -> SlotKey {
        SlotKey {
            index: self.slots.borrow().vacant_key(),
            generation: self.generation.get() + 1,
        }
    }

    /// Stores `resolver` under `key`, which must come from the
    /// [`next_key`](ThreadResults::next_key) call just before.
    pub(crate) fn insert<T: 'static>(&self, key: SlotKey, resolver: Resolver<T>) {
        self.generation.set(key.generation);
        let index = self.slots.borrow_mut().insert(Slot {
            generation: key.generation,
            resolver: Box::new(resolver),
        });
        debug_assert_eq!(
            index, key.index,
            "a slot was taken between next_key and insert"
        );
    }

    fn take(&self, key: SlotKey) -> Option<Box<dyn Pending>> {
        let mut slots = self.slots.borrow_mut();
        match slots.get(key.index) {
            Some(slot) if slot.generation == key.generation => {
                Some(slots.remove(key.index).resolver)
            }
            _ => None,
        }
    }

    /// Fires the Deferred of `key` with `result`; a key whose Deferred was
    /// cancelled meanwhile finds nothing and the result is dropped.
    pub(crate) fn complete<T: 'static>(&self, key: SlotKey, result: Result<T, Failure>) {
        let Some(pending) = self.take(key) else {
            return;
        };
        match pending.into_any().downcast::<Resolver<T>>() {
            Ok(resolver) => resolver.complete(result),
            Err(_) => unreachable!("a thread result slot is completed with its own type"),
        }
    }

    /// Forgets the slot of a cancelled Deferred without firing it.
    pub(crate) fn cancel(&self, key: SlotKey) {
        if let Some(pending) = self.take(key) {
            pending.disarm();
        }
    }

    /// The reactor has finished: no result can arrive any more, so every
    /// waiting Deferred fails with [`ReactorError::Stopped`].
    pub(crate) fn stop_all(&self) {
        let slots = std::mem::take(&mut *self.slots.borrow_mut());
        for (_, slot) in slots {
            slot.resolver.stopped();
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.borrow().len()
    }
}
