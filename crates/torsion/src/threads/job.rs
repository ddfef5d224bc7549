//! A pool job whose result fires a Deferred on the reactor thread.
//!
//! The Deferred waits in a slot of the reactor's
//! [`ThreadResults`](crate::reactor::ThreadResults) table. The worker gets
//! a [`ThreadJob`]: shared state, allocated on the reactor thread, holding
//! the function, then its result, and the slot's key. The worker stores
//! the result there and hands the job itself to the reactor's cross-thread
//! queue, so the way back costs no allocation and the job is freed on the
//! thread that allocated it.
//!
//! ```text
//!   reactor thread                       worker thread
//!   slot[key] = resolver
//!   Arc<ThreadJob{key, f}> --pool queue-->  f() -> result, stored in the job
//!   slot[key].complete(result) <--reactor queue-- the same Arc
//! ```

use super::pool::Task;
use crate::reactor::{Cancellable, Completion, SlotKey};
use crate::sync::{Arc, AtomicBool, Mutex, Ordering, lock};
use crate::{Failure, Reactor, ReactorHandle};

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
            span: current_span(),
            handle,
        })
    }
}

/// The span to enter around a job. Without any subscriber listening no
/// span can be recorded, and asking which span is current costs more than
/// the rest of a small job's trip, so that case skips the question.
#[inline]
fn current_span() -> tracing::Span {
    if tracing::level_filters::LevelFilter::current() == tracing::level_filters::LevelFilter::OFF {
        tracing::Span::none()
    } else {
        tracing::Span::current()
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
        reactor.thread_results().complete(self.key, result);
    }
}

#[cfg(all(test, loom))]
mod loom_model;
