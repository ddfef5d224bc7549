//! The reactor's own executor for `!Send` futures (behind
//! [`Reactor::spawn`](crate::Reactor::spawn)).
//!
//! Tasks live in a slab; a task's `Waker` is thread-safe (std requires it)
//! and reports the task id through the reactor's cross-thread queue, which
//! also wakes the poll. Each turn polls the tasks woken since the last one.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Wake, Waker};

use slab::Slab;

use crate::defer::Resolver;
use crate::failure::catch_panic;
use crate::reactor::handle::Shared;
use crate::sync::Arc;
use crate::{Deferred, Failure};

/// A spawned future together with the resolver of its Deferred.
trait LocalTask {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()>;
    fn fail(&mut self, failure: Failure);
    /// Drops the future without firing the Deferred (it is being cancelled).
    fn disarm(&mut self);
}

struct Spawned<F, T: 'static> {
    future: Pin<Box<F>>,
    resolver: Option<Resolver<T>>,
}

impl<F, T, E> LocalTask for Spawned<F, T>
where
    F: Future<Output = Result<T, E>>,
    E: Into<Failure>,
    T: 'static,
{
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match self.future.as_mut().poll(cx) {
            Poll::Ready(result) => {
                if let Some(resolver) = self.resolver.take() {
                    resolver.complete(result.map_err(Into::into));
                }
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn fail(&mut self, failure: Failure) {
        if let Some(resolver) = self.resolver.take() {
            resolver.reject(failure);
        }
    }

    fn disarm(&mut self) {
        if let Some(resolver) = self.resolver.take() {
            resolver.disarm();
        }
    }
}

struct Slot {
    /// None while the task is being polled.
    task: Option<Box<dyn LocalTask>>,
    waker: Waker,
    /// Cancelled while being polled: drop it when the poll returns.
    cancelled: bool,
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
    polling: Cell<bool>,
}

impl Executor {
    /// Inserts a task and queues its first poll. `make` builds the task's
    /// Deferred given the slot key (for its canceller).
    pub(crate) fn spawn<F, T, E>(
        &self,
        shared: &Arc<Shared>,
        future: F,
        canceller: impl FnOnce(usize) -> Box<dyn FnOnce()>,
    ) -> Deferred<T>
    where
        F: Future<Output = Result<T, E>> + 'static,
        E: Into<Failure>,
        T: 'static,
    {
        let mut tasks = self.tasks.borrow_mut();
        let entry = tasks.vacant_entry();
        let id = entry.key();
        let (deferred, resolver) = Deferred::with_canceller(canceller(id));
        let waker = Waker::from(Arc::new(TaskWaker {
            id,
            shared: shared.clone(),
        }));
        entry.insert(Slot {
            task: Some(Box::new(Spawned {
                future: Box::pin(future),
                resolver: Some(resolver),
            })),
            waker: waker.clone(),
            cancelled: false,
        });
        drop(tasks);
        waker.wake();
        deferred
    }

    /// Drops a task's future without firing its Deferred (the Deferred is
    /// being cancelled and fails with `Cancelled` itself).
    pub(crate) fn cancel(&self, id: usize) {
        let removed = {
            let mut tasks = self.tasks.borrow_mut();
            match tasks.get_mut(id) {
                Some(slot) if slot.task.is_none() => {
                    slot.cancelled = true;
                    None
                }
                Some(_) => Some(tasks.remove(id)),
                None => None,
            }
        };
        if let Some(mut slot) = removed
            && let Some(task) = slot.task.as_mut()
        {
            task.disarm();
        }
    }

    /// Polls every task in `ids` once.
    pub(crate) fn poll_woken(&self, ids: &mut Vec<usize>) {
        self.polling.set(true);
        for id in ids.drain(..) {
            self.poll_one(id);
        }
        self.polling.set(false);
    }

    fn poll_one(&self, id: usize) {
        let (mut task, waker) = {
            let mut tasks = self.tasks.borrow_mut();
            let Some(slot) = tasks.get_mut(id) else {
                return;
            };
            let Some(task) = slot.task.take() else {
                return;
            };
            (task, slot.waker.clone())
        };
        let mut cx = Context::from_waker(&waker);
        let outcome = catch_panic(|| task.poll(&mut cx));
        let finished = match outcome {
            Ok(Poll::Pending) => false,
            Ok(Poll::Ready(())) => true,
            Err(failure) => {
                tracing::error!(%failure, what = "spawned task", "panic in a spawned task");
                task.fail(failure);
                true
            }
        };
        let mut tasks = self.tasks.borrow_mut();
        let cancelled = tasks.get(id).is_some_and(|slot| slot.cancelled);
        if finished || cancelled {
            tasks.remove(id);
            drop(tasks);
            if cancelled {
                task.disarm();
            }
            drop(task);
        } else if let Some(slot) = tasks.get_mut(id) {
            slot.task = Some(task);
        }
    }

    pub(crate) fn woken_buffer(&self) -> std::cell::RefMut<'_, Vec<usize>> {
        self.woken.borrow_mut()
    }

    pub(crate) fn len(&self) -> usize {
        self.tasks.borrow().len()
    }

    /// Drops every task (the reactor has finished).
    pub(crate) fn clear(&self) {
        let tasks = std::mem::take(&mut *self.tasks.borrow_mut());
        for (_, mut slot) in tasks {
            if let Some(task) = slot.task.as_mut() {
                task.fail(Failure::new(crate::error::ReactorError::Stopped));
            }
        }
    }
}
