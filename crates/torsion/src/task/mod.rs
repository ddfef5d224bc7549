//! Cooperative CPU work: long jobs split into steps that share the reactor
//! (Twisted's `Cooperator`, `cooperate` and `coiterate`).
//!
//! A job that would hold the reactor for a second is written as an iterator
//! whose `next()` does a small piece of it. A [`Cooperator`] runs the steps
//! of all its tasks round-robin for one *time slice*, then yields to the
//! reactor (timers, I/O, other calls) with a zero-delay call, and carries on
//! in the next turn. A step may yield a Deferred instead of finishing at
//! once; its task then waits for that Deferred while the others go on.
//!
//! The default slice is 1 ms, shorter than Twisted's 10 ms: a timer due
//! while a slice runs is late by at most one slice, and a turn of the
//! reactor costs microseconds, so the shorter slice keeps timers on time at
//! a cost of about a tenth of a percent.
//!
//! ```
//! use std::time::Duration;
//! use torsion::Reactor;
//! use torsion::task::{Cooperator, Step};
//!
//! let reactor = Reactor::new()?;
//! let cooperator = Cooperator::new(reactor.clone());
//! let mut total = 0u64;
//! let job = (0..10_000u64).map(move |n| {
//!     total += n; // one small piece of a long computation
//!     Step::Continue
//! });
//! let stopper = reactor.clone();
//! drop(cooperator.coiterate(job).map(move |()| stopper.stop().unwrap()));
//! reactor.run()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::defer::Resolver;
use crate::error::TaskError;
use crate::failure::catch_panic;
use crate::time::{DelayedCall, Scheduler};
use crate::{Deferred, Failure};

/// The default time slice a cooperator runs steps for before yielding.
pub const DEFAULT_SLICE: Duration = Duration::from_millis(1);

/// What one step of a cooperative task produced.
#[derive(Debug)]
pub enum Step {
    /// The step is done; run the next one when the task's turn comes.
    Continue,
    /// Wait for this Deferred before the next step; a failure ends the task.
    Wait(Deferred<()>),
}

impl From<()> for Step {
    fn from((): ()) -> Step {
        Step::Continue
    }
}

impl<T: 'static> From<Deferred<T>> for Step {
    fn from(deferred: Deferred<T>) -> Step {
        Step::Wait(deferred.map(|_| ()))
    }
}

/// Decides when a slice is over; made fresh for every slice.
type SliceFactory = Box<dyn FnMut() -> Box<dyn FnMut() -> bool>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TaskState {
    Running,
    Done,
    Stopped,
    Failed,
    SchedulerStopped,
}

struct TaskInner {
    steps: RefCell<Option<Box<dyn Iterator<Item = Step>>>>,
    state: Cell<TaskState>,
    pauses: Cell<u32>,
    waiting: Cell<bool>,
    /// The failure that ended the task, handed to the first `when_done`
    /// waiters (later ones get a `TaskError::Failed`).
    failure: RefCell<Option<Failure>>,
    waiters: RefCell<Vec<Resolver<()>>>,
    /// Strong: a task keeps its cooperator alive while it may still run.
    cooperator: Rc<CooperatorInner>,
}

struct CooperatorInner {
    scheduler: Rc<dyn Scheduler>,
    runnable: RefCell<VecDeque<Rc<TaskInner>>>,
    slice: RefCell<SliceFactory>,
    next_tick: RefCell<Option<DelayedCall>>,
    stopped: Cell<bool>,
}

/// Runs cooperative tasks in time slices on a scheduler (usually the
/// reactor). Cheap to clone.
#[derive(Clone)]
pub struct Cooperator {
    inner: Rc<CooperatorInner>,
}

/// A task running on a [`Cooperator`]: pause, resume, stop it, or wait for
/// it to finish.
#[derive(Clone)]
pub struct CooperativeTask {
    inner: Rc<TaskInner>,
}

impl Cooperator {
    /// A cooperator yielding to `scheduler` between slices of
    /// [`DEFAULT_SLICE`].
    pub fn new<S: Scheduler + 'static>(scheduler: S) -> Cooperator {
        Cooperator::with_slice(scheduler, DEFAULT_SLICE)
    }

    /// A cooperator with slices of `slice` (measured on the monotonic clock).
    pub fn with_slice<S: Scheduler + 'static>(scheduler: S, slice: Duration) -> Cooperator {
        Cooperator::with_terminator(scheduler, move || {
            let end = Instant::now() + slice;
            move || Instant::now() >= end
        })
    }

    /// A cooperator whose slices end when the predicate made by `terminator`
    /// (one per slice) returns true; tests use a step counter.
    pub fn with_terminator<S, P>(
        scheduler: S,
        mut terminator: impl FnMut() -> P + 'static,
    ) -> Cooperator
    where
        S: Scheduler + 'static,
        P: FnMut() -> bool + 'static,
    {
        Cooperator {
            inner: Rc::new(CooperatorInner {
                scheduler: Rc::new(scheduler),
                runnable: RefCell::new(VecDeque::new()),
                slice: RefCell::new(Box::new(move || Box::new(terminator()))),
                next_tick: RefCell::new(None),
                stopped: Cell::new(false),
            }),
        }
    }

    /// Adds a task running `steps`, one step per turn of the round-robin.
    pub fn cooperate<I>(&self, steps: I) -> CooperativeTask
    where
        I: IntoIterator + 'static,
        I::Item: Into<Step>,
    {
        let task = Rc::new(TaskInner {
            steps: RefCell::new(Some(Box::new(steps.into_iter().map(Into::into)))),
            state: Cell::new(TaskState::Running),
            pauses: Cell::new(0),
            waiting: Cell::new(false),
            failure: RefCell::new(None),
            waiters: RefCell::new(Vec::new()),
            cooperator: self.inner.clone(),
        });
        if self.inner.stopped.get() {
            finish(&task, TaskState::SchedulerStopped, None);
        } else {
            self.inner.runnable.borrow_mut().push_back(task.clone());
            self.inner.schedule_tick();
        }
        CooperativeTask { inner: task }
    }

    /// Runs `steps` to the end and fires when they are exhausted, or fails
    /// with the failure that ended them.
    pub fn coiterate<I>(&self, steps: I) -> Deferred<()>
    where
        I: IntoIterator + 'static,
        I::Item: Into<Step>,
    {
        self.cooperate(steps).when_done()
    }

    /// Stops every task (their `when_done` fails with
    /// [`TaskError::SchedulerStopped`]); tasks added later end the same way
    /// at once.
    pub fn stop(&self) {
        self.inner.stopped.set(true);
        if let Some(call) = self.inner.next_tick.borrow_mut().take() {
            let _ = call.cancel();
        }
        let tasks: Vec<_> = self.inner.runnable.borrow_mut().drain(..).collect();
        for task in tasks {
            finish(&task, TaskState::SchedulerStopped, None);
        }
    }

    /// True until [`stop`](Cooperator::stop).
    pub fn running(&self) -> bool {
        !self.inner.stopped.get()
    }
}

impl CooperatorInner {
    fn schedule_tick(self: &Rc<Self>) {
        if self.next_tick.borrow().is_some() || self.runnable.borrow().is_empty() {
            return;
        }
        // Strong: a cooperator with work stays alive until that work is done.
        let inner = self.clone();
        let call = self.scheduler.call_later_boxed(
            Duration::ZERO,
            Box::new(move || {
                inner.next_tick.borrow_mut().take();
                inner.tick();
            }),
        );
        *self.next_tick.borrow_mut() = Some(call);
    }

    /// One slice: a step of each runnable task in turn until the slice ends
    /// or no task is runnable.
    fn tick(self: &Rc<Self>) {
        let mut slice_over = (self.slice.borrow_mut())();
        loop {
            let next = self.runnable.borrow_mut().pop_front();
            let Some(task) = next else { break };
            if task.runs_step() {
                self.runnable.borrow_mut().push_back(task);
            }
            if slice_over() {
                break;
            }
        }
        self.schedule_tick();
    }
}

impl TaskInner {
    /// Runs one step; true if the task stays runnable.
    fn runs_step(self: &Rc<Self>) -> bool {
        if self.state.get() != TaskState::Running || self.pauses.get() > 0 || self.waiting.get() {
            return false;
        }
        let step = {
            let mut steps = self.steps.borrow_mut();
            let Some(iterator) = steps.as_mut() else {
                return false;
            };
            catch_panic(|| iterator.next())
        };
        match step {
            Ok(Some(Step::Continue)) => true,
            Ok(None) => {
                finish(self, TaskState::Done, None);
                false
            }
            Ok(Some(Step::Wait(deferred))) => {
                self.waiting.set(true);
                let task = self.clone();
                drop(deferred.both(move |result| {
                    task.waiting.set(false);
                    match result {
                        Err(failure) => finish(&task, TaskState::Failed, Some(failure)),
                        Ok(()) => task.make_runnable(),
                    }
                    Ok::<(), Failure>(())
                }));
                false
            }
            Err(failure) => {
                tracing::error!(%failure, what = "cooperative step", "panic in a cooperative task's step");
                finish(self, TaskState::Failed, Some(failure));
                false
            }
        }
    }

    fn make_runnable(self: &Rc<Self>) {
        if self.state.get() != TaskState::Running || self.pauses.get() > 0 || self.waiting.get() {
            return;
        }
        let cooperator = &self.cooperator;
        let already = cooperator
            .runnable
            .borrow()
            .iter()
            .any(|task| Rc::ptr_eq(task, self));
        if !already {
            cooperator.runnable.borrow_mut().push_back(self.clone());
        }
        cooperator.schedule_tick();
    }

    fn remove_from_runnable(self: &Rc<Self>) {
        self.cooperator
            .runnable
            .borrow_mut()
            .retain(|task| !Rc::ptr_eq(task, self));
    }

    fn end_error(&self) -> Option<TaskError> {
        match self.state.get() {
            TaskState::Running => None,
            TaskState::Done => Some(TaskError::Done),
            TaskState::Stopped => Some(TaskError::Stopped),
            TaskState::Failed => Some(TaskError::Failed),
            TaskState::SchedulerStopped => Some(TaskError::SchedulerStopped),
        }
    }
}

/// Ends a task: drops its iterator and fires its `when_done` waiters.
fn finish(task: &Rc<TaskInner>, state: TaskState, failure: Option<Failure>) {
    if task.state.get() != TaskState::Running {
        return;
    }
    task.state.set(state);
    task.remove_from_runnable();
    let steps = task.steps.borrow_mut().take();
    drop(steps);
    *task.failure.borrow_mut() = failure;
    let waiters = std::mem::take(&mut *task.waiters.borrow_mut());
    for waiter in waiters {
        waiter.complete(outcome(task));
    }
}

/// The outcome `when_done` reports for a finished task.
fn outcome(task: &TaskInner) -> Result<(), Failure> {
    match task.state.get() {
        TaskState::Done => Ok(()),
        TaskState::Failed => Err(task
            .failure
            .borrow_mut()
            .take()
            .unwrap_or_else(|| Failure::new(TaskError::Failed))),
        _ => Err(Failure::new(task.end_error().expect("task has ended"))),
    }
}

impl CooperativeTask {
    /// A Deferred firing when the task ends: with `()` when its steps are
    /// exhausted, otherwise failing with why it ended ([`TaskError::Stopped`],
    /// [`TaskError::SchedulerStopped`], or the failure of a step). May be
    /// called any number of times, before or after the end.
    pub fn when_done(&self) -> Deferred<()> {
        if self.inner.state.get() == TaskState::Running {
            let (deferred, resolver) = Deferred::new();
            self.inner.waiters.borrow_mut().push(resolver);
            deferred
        } else {
            match outcome(&self.inner) {
                Ok(()) => Deferred::succeed(()),
                Err(failure) => Deferred::fail(failure),
            }
        }
    }

    /// Pauses the task (pauses nest). Fails with how it ended if it has.
    pub fn pause(&self) -> Result<(), TaskError> {
        if let Some(error) = self.inner.end_error() {
            return Err(error);
        }
        self.inner.pauses.set(self.inner.pauses.get() + 1);
        self.inner.remove_from_runnable();
        Ok(())
    }

    /// Undoes one [`pause`](CooperativeTask::pause).
    pub fn resume(&self) -> Result<(), TaskError> {
        if let Some(error) = self.inner.end_error() {
            return Err(error);
        }
        let pauses = self.inner.pauses.get();
        if pauses == 0 {
            return Err(TaskError::NotPaused);
        }
        self.inner.pauses.set(pauses - 1);
        self.inner.make_runnable();
        Ok(())
    }

    /// Stops the task: no further steps run and `when_done` fails with
    /// [`TaskError::Stopped`]. Fails with how it ended if it already has.
    pub fn stop(&self) -> Result<(), TaskError> {
        if let Some(error) = self.inner.end_error() {
            return Err(error);
        }
        finish(&self.inner, TaskState::Stopped, None);
        Ok(())
    }
}

impl fmt::Debug for Cooperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cooperator")
            .field("running", &self.running())
            .field("runnable", &self.inner.runnable.borrow().len())
            .finish()
    }
}

impl fmt::Debug for CooperativeTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CooperativeTask")
            .field("state", &self.inner.state.get())
            .field("pauses", &self.inner.pauses.get())
            .finish()
    }
}

/// Runs `steps` cooperatively on a new [`Cooperator`] over `scheduler`.
pub fn cooperate<S, I>(scheduler: S, steps: I) -> CooperativeTask
where
    S: Scheduler + 'static,
    I: IntoIterator + 'static,
    I::Item: Into<Step>,
{
    Cooperator::new(scheduler).cooperate(steps)
}

/// Runs `steps` cooperatively on a new [`Cooperator`] over `scheduler` and
/// fires when they are exhausted.
pub fn coiterate<S, I>(scheduler: S, steps: I) -> Deferred<()>
where
    S: Scheduler + 'static,
    I: IntoIterator + 'static,
    I::Item: Into<Step>,
{
    cooperate(scheduler, steps).when_done()
}

#[cfg(test)]
mod tests;
