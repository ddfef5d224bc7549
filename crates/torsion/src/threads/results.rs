//! How a worker's result gets back to the Deferred waiting for it.
//!
//! A [`Resolver`] is `!Send`, so it stays on the reactor thread in a slot.
//! The worker gets a [`ThreadJob`]: shared state, allocated on the reactor
//! thread, holding the function, then its result, and the slot's key
//! (index and generation). The worker stores the result there and hands the
//! job itself to the reactor's cross-thread queue, so the way back costs no
//! allocation and the job is freed on the thread that allocated it. On the
//! reactor thread the key finds the slot again; the generation makes a key
//! from a cancelled call useless once its index is reused.
//!
//! ```text
//!   reactor thread                       worker thread
//!   slot[key] = resolver
//!   Arc<ThreadJob{key, f}> --pool queue-->  f() -> result, stored in the job
//!   slot[key].complete(result) <--reactor queue-- the same Arc
//! ```

use std::cell::RefCell;

use slab::Slab;

use super::pool::Task;
use crate::defer::{AnyResolver, EntryKey, Resolver};
use crate::error::ReactorError;
use crate::reactor::Completion;
use crate::sync::{Arc, AtomicBool, Mutex, Ordering, lock};
use crate::{Failure, Reactor, ReactorHandle};

/// Identifies one slot for its whole life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SlotKey {
    index: usize,
    generation: u64,
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

/// A job as its slot sees it, without its types.
pub(crate) trait Cancellable {
    /// A worker that has not started the job yet drops it unrun.
    fn cancel(&self);
}

struct Slot {
    generation: u64,
    resolver: AnyResolver,
    job: Arc<dyn Cancellable>,
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

    /// Stores `resolver` and its `job` under `key`, which must come from
    /// the [`next_key`](ThreadResults::next_key) call just before.
    pub(crate) fn insert<T: 'static>(
        &self,
        key: SlotKey,
        resolver: Resolver<T>,
        job: Arc<dyn Cancellable>,
    ) {
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
        match slot.resolver.downcast::<T>() {
            Some(resolver) => resolver.complete(result),
            None => unreachable!("a thread result slot is completed with its own type"),
        }
    }

    /// Forgets the slot of a cancelled Deferred without firing it, and
    /// tells its job.
    pub(crate) fn cancel(&self, key: SlotKey) {
        if let Some(slot) = self.take(key) {
            slot.job.cancel();
            slot.resolver.disarm();
        }
    }

    /// The reactor has finished: no result can arrive any more, so every
    /// waiting Deferred fails with [`ReactorError::Stopped`].
    pub(crate) fn stop_all(&self) {
        let slots = std::mem::take(&mut *self.slots.borrow_mut());
        for (_, slot) in slots {
            slot.resolver.reject(ReactorError::Stopped);
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.borrow().len()
    }
}

/// Where a [`ThreadJob`] is in its life.
enum Stage<F, T> {
    Queued(F),
    Running,
    Done(Result<T, Failure>),
    Delivered,
}

/// A function for a pool worker whose result fires the Deferred in slot
/// `key` of the reactor behind `handle`.
pub(crate) struct ThreadJob<F, T> {
    key: SlotKey,
    /// Set by the Deferred's canceller: a worker that has not started the
    /// function yet drops it unrun.
    cancelled: AtomicBool,
    stage: Mutex<Stage<F, T>>,
    /// The span of the code that queued the job, entered around it.
    span: tracing::Span,
    handle: ReactorHandle,
}

impl<F, T> ThreadJob<F, T>
where
    F: FnOnce() -> Result<T, Failure> + Send + 'static,
    T: Send + 'static,
{
    pub(crate) fn new(key: SlotKey, f: F, handle: ReactorHandle) -> Arc<ThreadJob<F, T>> {
        Arc::new(ThreadJob {
            key,
            cancelled: AtomicBool::new(false),
            stage: Mutex::new(Stage::Queued(f)),
            span: tracing::Span::current(),
            handle,
        })
    }
}

impl<F: Send, T: Send> Cancellable for ThreadJob<F, T> {
    fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
    }
}

impl<F, T> Task for ThreadJob<F, T>
where
    F: FnOnce() -> Result<T, Failure> + Send + 'static,
    T: Send + 'static,
{
    fn run(self: Arc<Self>) {
        let Stage::Queued(f) = std::mem::replace(&mut *lock(&self.stage), Stage::Running) else {
            return;
        };
        if self.cancelled.load(Ordering::Acquire) {
            // Its captures are dropped here, on the worker, as if it ran.
            drop(f);
            return;
        }
        let result = self.span.in_scope(f);
        *lock(&self.stage) = Stage::Done(result);
        let completion: Arc<dyn Completion> = self.clone();
        // If the reactor has stopped the result has nowhere to go; its
        // Deferred fails with `ReactorError::Stopped` when the reactor
        // finishes.
        let _ = self.handle.post_completion(completion);
    }

    fn discard(&self) {
        let stage = std::mem::replace(&mut *lock(&self.stage), Stage::Delivered);
        drop(stage);
    }
}

impl<F, T> Completion for ThreadJob<F, T>
where
    F: Send,
    T: Send + 'static,
{
    fn complete(self: Arc<Self>, reactor: &Reactor) {
        let Stage::Done(result) = std::mem::replace(&mut *lock(&self.stage), Stage::Delivered)
        else {
            return;
        };
        super::ReactorThreads::of(reactor)
            .results()
            .complete(self.key, result);
    }
}

#[cfg(all(test, loom))]
mod loom_model;
