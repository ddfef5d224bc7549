//! The reactor's own executor for `!Send` futures (behind
//! [`Reactor::spawn`](crate::Reactor::spawn)).
//!
//! Tasks live in a slab; a task's `Waker` is thread-safe (std requires it)
//! and reports the task id through the reactor's cross-thread queue, which
//! also wakes the poll. Each turn polls the tasks woken since the last one,
//! then, for a few rounds, the tasks those polls woke: a task awaiting
//! another's result goes on in the same turn, as a Deferred's callbacks
//! run at once. No task is polled twice in a turn, so a task that wakes
//! itself (a yield) waits for the next turn, after timers and I/O.
//!
//! Cancelling a task's Deferred cancels what the task awaits, as Twisted's
//! `ensureDeferred(...).cancel()` does: each task keeps an [`AwaitList`] of
//! the Deferreds it awaits; cancelling those fails them with `Cancelled`,
//! which wakes the task and raises the failure at its `.await`, and the
//! task's Deferred fires with whatever the task then returns. A task that
//! awaits no Deferred (a future of another kind) is dropped instead, and
//! its Deferred fails with `Cancelled`.
//!
//! ```text
//!   task Deferred.cancel()
//!     awaiting a pending Deferred  -> cancel it; the task resumes with Err(Cancelled)
//!     its awaited result is there  -> cancel what it awaits after its next poll
//!     being polled (self-cancel)   -> decide when the poll returns
//!     awaiting anything else       -> drop the future; fail with Cancelled
//! ```

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Wake, Waker};

use pin_project_lite::pin_project;
use slab::Slab;

use crate::defer::awaiting::{self, AwaitList};
use crate::defer::{AwaitState, CancelProgress, Resolver};
use crate::error::Cancelled;
use crate::failure::catch_panic;
use crate::reactor::handle::Shared;
use crate::reactor::woken_ids;
use crate::sync::Arc;
use crate::{Deferred, Failure};

/// A spawned future together with the resolver of its Deferred. The
/// future lives inside the task (pinned with it), so a task is one
/// allocation.
trait LocalTask {
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()>;
    fn fail(self: Pin<&mut Self>, failure: Failure);
    /// Drops the future without firing the Deferred (it is being cancelled).
    fn disarm(self: Pin<&mut Self>);
    /// The Deferreds the task has awaited.
    fn awaiting(&self) -> &AwaitList;
}

pin_project! {
    struct Spawned<F, T: 'static> {
        #[pin]
        future: F,
        resolver: Option<Resolver<T>>,
        awaiting: AwaitList,
    }
}

impl<F, T, E> LocalTask for Spawned<F, T>
where
    F: Future<Output = Result<T, E>>,
    E: Into<Failure>,
    T: 'static,
{
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let _awaiting = this.awaiting.enter();
        match this.future.poll(cx) {
            Poll::Ready(result) => {
                if let Some(resolver) = this.resolver.take() {
                    resolver.complete(result.map_err(Into::into));
                }
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn fail(self: Pin<&mut Self>, failure: Failure) {
        if let Some(resolver) = self.project().resolver.take() {
            resolver.reject(failure);
        }
    }

    fn disarm(self: Pin<&mut Self>) {
        if let Some(resolver) = self.project().resolver.take() {
            resolver.disarm();
        }
    }

    fn awaiting(&self) -> &AwaitList {
        &self.awaiting
    }
}

pin_project! {
    /// A spawned future nobody waits for: no Deferred to resolve or cancel.
    struct Detached<F> {
        #[pin]
        future: F,
        awaiting: AwaitList,
    }
}

impl<F: Future<Output = ()>> LocalTask for Detached<F> {
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let _awaiting = this.awaiting.enter();
        this.future.poll(cx)
    }

    /// A panic was logged already, and nobody is told.
    fn fail(self: Pin<&mut Self>, _failure: Failure) {}

    fn disarm(self: Pin<&mut Self>) {}

    fn awaiting(&self) -> &AwaitList {
        &self.awaiting
    }
}

struct Slot {
    /// None while the task is being polled: the poll has both.
    task: Option<Parked>,
    /// Cancelled while it was being polled, before its first poll, or while
    /// the result it awaited was there but not yet taken: cancel what it
    /// awaits once the next poll returns.
    cancel_requested: bool,
    /// Polled at least once. A task cancelled before that first runs to
    /// its first await, as Twisted's `ensureDeferred` has already started
    /// the coroutine when anyone can cancel it.
    started: bool,
    /// The turn it was last polled in (0: never).
    polled_in: u64,
}

/// A task between polls, with its waker: lent whole to each poll, which
/// saves the waker's reference count an increment and a decrement.
struct Parked {
    task: Pin<Box<dyn LocalTask>>,
    waker: Waker,
}

struct TaskWaker {
    id: usize,
    shared: Arc<Shared>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.shared.wake_task(self.id);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.shared.wake_task(self.id);
    }
}

#[derive(Default)]
pub(crate) struct Executor {
    tasks: RefCell<Slab<Slot>>,
    woken: RefCell<Vec<usize>>,
    /// Scratch space for putting woken ids in order.
    order_bits: RefCell<Vec<u64>>,
    polling: Cell<bool>,
    /// Counts the reactor's turns, so that a task is polled once in each.
    turn: Cell<u64>,
    /// Tasks woken again after their poll in this turn, for the next.
    later: RefCell<Vec<usize>>,
}

impl Executor {
    /// Inserts a task and queues its first poll. `make` builds the task's
    /// Deferred given the slot key (for its canceller).
    pub(crate) fn spawn<F, T, E>(
        &self,
        shared: &Arc<Shared>,
        future: F,
        canceller: impl FnOnce(usize) -> std::rc::Rc<dyn Fn() -> CancelProgress>,
    ) -> Deferred<T>
    where
        F: Future<Output = Result<T, E>> + 'static,
        E: Into<Failure>,
        T: 'static,
    {
        let mut deferred = None;
        self.insert(shared, |id| {
            let (made, resolver) = Deferred::with_reusable_canceller(canceller(id));
            deferred = Some(made);
            Box::pin(Spawned {
                future,
                resolver: Some(resolver),
                awaiting: AwaitList::default(),
            })
        });
        deferred.expect("insert makes the task")
    }

    /// Inserts a task nobody waits for and queues its first poll: no
    /// Deferred, so nothing is made for its result or its cancelling.
    pub(crate) fn spawn_detached<F>(&self, shared: &Arc<Shared>, future: F)
    where
        F: Future<Output = ()> + 'static,
    {
        self.insert(shared, |_| {
            Box::pin(Detached {
                future,
                awaiting: AwaitList::default(),
            })
        });
    }

    /// Puts the task `make` builds (given its slot key) in a slot, and
    /// queues its first poll.
    fn insert(&self, shared: &Arc<Shared>, make: impl FnOnce(usize) -> Pin<Box<dyn LocalTask>>) {
        let mut tasks = self.tasks.borrow_mut();
        let entry = tasks.vacant_entry();
        let id = entry.key();
        let waker = Waker::from(Arc::new(TaskWaker {
            id,
            shared: shared.clone(),
        }));
        entry.insert(Slot {
            task: Some(Parked {
                task: make(id),
                waker: waker.clone(),
            }),
            cancel_requested: false,
            started: false,
            polled_in: 0,
        });
        drop(tasks);
        waker.wake();
    }

    /// Cancels task `id` (its Deferred's canceller): cancels the Deferreds
    /// it awaits, or decides after its next poll, or drops its future.
    pub(crate) fn cancel(&self, id: usize) -> CancelProgress {
        let mut tasks = self.tasks.borrow_mut();
        let Some(slot) = tasks.get_mut(id) else {
            return CancelProgress::Stopped;
        };
        let Some(Parked { task, .. }) = slot.task.as_ref() else {
            slot.cancel_requested = true;
            return CancelProgress::StillRunning;
        };
        if !slot.started {
            // Its first poll is queued already; the cancel applies after it.
            slot.cancel_requested = true;
            return CancelProgress::StillRunning;
        }
        match task.awaiting().state() {
            AwaitState::Pending => {
                let pending = task.awaiting().pending();
                drop(tasks);
                // Their failures wake the task, which meets `Cancelled` at
                // its await point.
                awaiting::cancel_all(pending);
                CancelProgress::StillRunning
            }
            AwaitState::ReadyUnpolled => {
                slot.cancel_requested = true;
                CancelProgress::StillRunning
            }
            AwaitState::Done => {
                let mut slot = tasks.remove(id);
                drop(tasks);
                if let Some(parked) = slot.task.as_mut() {
                    parked.task.as_mut().disarm();
                }
                drop(slot);
                CancelProgress::Stopped
            }
        }
    }

    /// Sorts woken task ids and drops repeats, so that each task is
    /// polled once, in id order.
    pub(crate) fn order_woken(&self, ids: &mut Vec<usize>) {
        woken_ids::order(ids, &mut self.order_bits.borrow_mut());
    }

    /// A new turn: every task may be polled once more.
    pub(crate) fn begin_turn(&self) {
        self.turn.set(self.turn.get() + 1);
    }

    /// Polls every task in `ids` that was not polled in this turn yet;
    /// the others go to `later`, for the next turn.
    pub(crate) fn poll_woken(&self, ids: &mut Vec<usize>, later: &mut Vec<usize>) {
        self.polling.set(true);
        let turn = self.turn.get();
        for id in ids.drain(..) {
            if !self.poll_one(id, turn) {
                later.push(id);
            }
        }
        self.polling.set(false);
    }

    /// Polls task `id` unless it was polled in `turn` already (false).
    fn poll_one(&self, id: usize, turn: u64) -> bool {
        let Parked { mut task, waker } = {
            let mut tasks = self.tasks.borrow_mut();
            let Some(slot) = tasks.get_mut(id) else {
                return true;
            };
            if slot.polled_in == turn {
                return false;
            }
            let Some(parked) = slot.task.take() else {
                return true;
            };
            slot.started = true;
            slot.polled_in = turn;
            parked
        };
        let mut cx = Context::from_waker(&waker);
        let outcome = catch_panic(|| task.as_mut().poll(&mut cx));
        let finished = match outcome {
            Ok(Poll::Pending) => false,
            Ok(Poll::Ready(())) => true,
            Err(failure) => {
                tracing::error!(%failure, what = "spawned task", "panic in a spawned task");
                task.as_mut().fail(failure);
                true
            }
        };
        let mut tasks = self.tasks.borrow_mut();
        if finished {
            tasks.remove(id);
            drop(tasks);
            drop(task);
            return true;
        }
        let Some(slot) = tasks.get_mut(id) else {
            return true;
        };
        if !slot.cancel_requested {
            slot.task = Some(Parked { task, waker });
            return true;
        }
        match task.awaiting().state() {
            AwaitState::Pending => {
                let pending = task.awaiting().pending();
                slot.cancel_requested = false;
                slot.task = Some(Parked { task, waker });
                drop(tasks);
                awaiting::cancel_all(pending);
            }
            AwaitState::ReadyUnpolled => slot.task = Some(Parked { task, waker }),
            AwaitState::Done => {
                tasks.remove(id);
                drop(tasks);
                task.as_mut().fail(Failure::new(Cancelled));
                drop(task);
            }
        }
        true
    }

    pub(crate) fn woken_buffer(&self) -> std::cell::RefMut<'_, Vec<usize>> {
        self.woken.borrow_mut()
    }

    pub(crate) fn later_buffer(&self) -> std::cell::RefMut<'_, Vec<usize>> {
        self.later.borrow_mut()
    }

    pub(crate) fn len(&self) -> usize {
        self.tasks.borrow().len()
    }

    /// Drops every task (the reactor has finished).
    pub(crate) fn clear(&self) {
        let tasks = std::mem::take(&mut *self.tasks.borrow_mut());
        for (_, mut slot) in tasks {
            if let Some(parked) = slot.task.as_mut() {
                parked
                    .task
                    .as_mut()
                    .fail(Failure::new(crate::error::ReactorError::Stopped));
            }
        }
    }
}
