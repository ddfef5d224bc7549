//! [`ThreadPool`]: a bounded set of named worker threads fed from one queue.
//!
//! ```text
//!   call_in_thread(job) --> [ queue (FIFO) ] --> worker name-1 --+
//!                                          \--> worker name-2 --+--> job()
//!                                           \-> ... up to max --+
//! ```
//!
//! Workers start on demand: a job that finds no idle worker starts a new
//! one, up to `max`; `min` workers start with the pool. An idle worker
//! waits on a condition variable and is never torn down for idling (as in
//! Twisted), except when [`adjust`](ThreadPool::adjust) lowers `max`
//! below the number of workers. A burst of jobs costs the submitting
//! thread one wake-up: the woken worker wakes the next while jobs remain.
//! A worker that empties the queue first spins for a few microseconds
//! (one worker at a time) before it sleeps, so jobs queued one by one at a
//! high rate are picked up without a wake-up each. [`stop`](ThreadPool::stop)
//! refuses new work, either finishes or drops the queue, and joins every
//! worker.

use std::collections::VecDeque;
use std::fmt;
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use crate::error::PoolStopped;
use crate::failure::catch_panic;
use crate::sync::{Arc, AtomicUsize, Condvar, Mutex, Ordering, lock};

/// A unit of work for a worker thread.
enum Job {
    /// A closure from [`ThreadPool::call_in_thread`].
    Call(Box<dyn FnOnce() + Send>),
    /// Shared state that runs itself and passes itself on (see [`Task`]).
    Task(Arc<dyn Task>),
}

/// A job that lives in shared state rather than in a box of its own, so
/// that running it frees nothing on the worker: the worker moves its
/// reference on (to a reactor's queue, for `defer_to_thread`) and the
/// memory is freed by the thread that allocated it.
pub(crate) trait Task: Send + Sync {
    /// Runs on a worker thread, once.
    fn run(self: Arc<Self>);

    /// The pool stopped without running it: drop what it would have run
    /// now, as a dropped closure would be, even if others still hold the
    /// task.
    fn discard(&self);
}

/// What [`ThreadPool::stop`] does with the work still queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// Workers run every queued job before they exit.
    FinishQueued,
    /// Queued jobs that no worker has started are dropped unrun; jobs
    /// already running finish.
    DropQueued,
}

/// A snapshot of a pool's counters (see [`ThreadPool::stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadPoolStats {
    /// Worker threads alive (idle or busy).
    pub workers: usize,
    /// Workers waiting for a job.
    pub idle: usize,
    /// Jobs waiting for a worker.
    pub queued: usize,
    /// Jobs that have run to the end (a panicking job counts too).
    pub completed: u64,
    /// The fewest workers the pool keeps.
    pub min: usize,
    /// The most workers the pool starts.
    pub max: usize,
}

struct State {
    queue: VecDeque<Job>,
    min: usize,
    max: usize,
    workers: usize,
    /// Workers waiting for a job and not yet sent a wake-up.
    idle: usize,
    /// Wake-ups sent to idle workers and not yet taken by one. Each wake-up
    /// stands for one queued job, so a burst of jobs wakes each idle worker
    /// once instead of signalling the condition variable for every job.
    notified: usize,
    /// Workers spinning on `queued` instead of sleeping (at most one).
    /// Jobs queued meanwhile wake nobody: the spinner takes them.
    spinning: usize,
    completed: u64,
    /// Numbers the next worker's name.
    started: u64,
    stopping: Option<StopMode>,
    handles: Vec<(ThreadId, JoinHandle<()>)>,
}

struct PoolInner {
    name: String,
    state: Mutex<State>,
    /// Signalled when a job is queued, or when workers should re-check
    /// whether to exit.
    work: Condvar,
    /// The queue's length, written under the lock, for a spinning worker
    /// to watch without taking it.
    queued: AtomicUsize,
}

/// Keeps the pool alive while any [`ThreadPool`] clone exists; the last one
/// dropped stops the pool.
struct Owner {
    inner: Arc<PoolInner>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        stop(&self.inner, StopMode::DropQueued);
    }
}

/// A pool of named worker threads running blocking jobs (Twisted's
/// `ThreadPool`).
///
/// Cheap to clone (all clones are the same pool), `Send` and `Sync`. Jobs
/// run in the order they were queued, each on whichever worker is free. A
/// panicking job is caught and logged; its worker carries on. Dropping the
/// last clone stops the pool with [`StopMode::DropQueued`] and joins its
/// threads.
///
/// ```
/// use std::sync::mpsc;
/// use torsion::threads::{StopMode, ThreadPool};
///
/// let pool = ThreadPool::new("hashers", 0, 4);
/// let (sender, receiver) = mpsc::channel();
/// for n in 0..8u64 {
///     let sender = sender.clone();
///     pool.call_in_thread(move || sender.send(n * n).unwrap())?;
/// }
/// let mut squares: Vec<u64> = receiver.iter().take(8).collect();
/// squares.sort();
/// assert_eq!(squares, [0, 1, 4, 9, 16, 25, 36, 49]);
/// pool.stop(StopMode::FinishQueued);
/// assert_eq!(pool.stats().workers, 0);
/// # Ok::<(), torsion::error::PoolStopped>(())
/// ```
#[derive(Clone)]
pub struct ThreadPool {
    owner: Arc<Owner>,
}

impl ThreadPool {
    /// A pool whose threads are named `name-1`, `name-2`, ..., keeping at
    /// least `min` and starting at most `max` workers. `max` is at least 1
    /// and `min` at most `max`. The `min` workers start now.
    pub fn new(name: impl Into<String>, min: usize, max: usize) -> ThreadPool {
        let (min, max) = normalize(min, max);
        let inner = Arc::new(PoolInner {
            name: name.into(),
            state: Mutex::new(State {
                queue: VecDeque::new(),
                min,
                max,
                workers: 0,
                idle: 0,
                notified: 0,
                spinning: 0,
                completed: 0,
                started: 0,
                stopping: None,
                handles: Vec::new(),
            }),
            work: Condvar::new(),
            queued: AtomicUsize::new(0),
        });
        {
            let mut state = lock(&inner.state);
            while state.workers < min {
                start_worker(&inner, &mut state, Born::Idle);
            }
        }
        ThreadPool {
            owner: Arc::new(Owner { inner }),
        }
    }

    /// The pool's name, the prefix of its threads' names.
    pub fn name(&self) -> &str {
        &self.owner.inner.name
    }

    /// Queues `job` to run on a worker thread (Twisted's `callInThread`),
    /// starting a worker if none is idle and fewer than `max` run. Fails
    /// with [`PoolStopped`] once [`stop`](ThreadPool::stop) was called.
    ///
    /// The caller's tracing span is entered around the job, so its log
    /// lines keep the caller's context.
    pub fn call_in_thread(&self, job: impl FnOnce() + Send + 'static) -> Result<(), PoolStopped> {
        let span = tracing::Span::current();
        self.submit(Job::Call(Box::new(move || span.in_scope(job))))
    }

    /// Queues `task` like [`call_in_thread`](ThreadPool::call_in_thread);
    /// entering the caller's span is up to the task.
    pub(crate) fn submit_task(&self, task: Arc<dyn Task>) -> Result<(), PoolStopped> {
        self.submit(Job::Task(task))
    }

    fn submit(&self, job: Job) -> Result<(), PoolStopped> {
        let inner = &self.owner.inner;
        let mut state = lock(&inner.state);
        if state.stopping.is_some() {
            return Err(PoolStopped);
        }
        state.queue.push_back(job);
        inner.queued.store(state.queue.len(), Ordering::Relaxed);
        // Otherwise a worker is on its way (or spinning), and wakes the
        // next one if it finds more jobs than its own.
        let wake = state.notified == 0 && state.spinning == 0 && wake_one(inner, &mut state);
        drop(state);
        if wake {
            inner.work.notify_one();
        }
        Ok(())
    }

    /// Changes the bounds (Twisted's `adjustPoolsize`): starts workers up to
    /// the new `min` (and for queued jobs, up to the new `max`); workers
    /// beyond the new `max` exit once their current job is done.
    pub fn adjust(&self, min: usize, max: usize) {
        let (min, max) = normalize(min, max);
        let inner = &self.owner.inner;
        let mut state = lock(&inner.state);
        state.min = min;
        state.max = max;
        if state.stopping.is_some() {
            return;
        }
        while state.workers < min {
            start_worker(inner, &mut state, Born::Idle);
        }
        // Jobs no worker is on the way to: a new worker each, up to max.
        let mut unclaimed = state
            .queue
            .len()
            .saturating_sub(state.idle + state.notified + state.spinning);
        while unclaimed > 0 && state.workers < state.max {
            start_worker(inner, &mut state, Born::ForAJob);
            unclaimed -= 1;
        }
        reap_finished(&mut state);
        drop(state);
        inner.work.notify_all();
    }

    /// The pool's counters right now.
    pub fn stats(&self) -> ThreadPoolStats {
        let state = lock(&self.owner.inner.state);
        ThreadPoolStats {
            workers: state.workers,
            idle: state.idle + state.spinning,
            queued: state.queue.len(),
            completed: state.completed,
            min: state.min,
            max: state.max,
        }
    }

    /// True once [`stop`](ThreadPool::stop) was called.
    pub fn is_stopped(&self) -> bool {
        lock(&self.owner.inner.state).stopping.is_some()
    }

    /// Refuses new work, finishes or drops the queued jobs as `mode` says,
    /// and joins every worker thread: when `stop` returns no thread of the
    /// pool is left (called from one of the pool's own workers, every other
    /// worker is joined and the caller exits after its job). Jobs already
    /// running are waited for. Stopping again does nothing more.
    pub fn stop(&self, mode: StopMode) {
        stop(&self.owner.inner, mode);
    }
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPool")
            .field("name", &self.name())
            .field("stats", &self.stats())
            .finish()
    }
}

fn normalize(min: usize, max: usize) -> (usize, usize) {
    let max = max.max(1);
    (min.min(max), max)
}

fn stop(inner: &Arc<PoolInner>, mode: StopMode) {
    let (dropped, handles) = {
        let mut state = lock(&inner.state);
        if state.stopping.is_none() {
            state.stopping = Some(mode);
        }
        let dropped = match mode {
            StopMode::DropQueued => std::mem::take(&mut state.queue),
            StopMode::FinishQueued => VecDeque::new(),
        };
        inner.queued.store(state.queue.len(), Ordering::Relaxed);
        (dropped, std::mem::take(&mut state.handles))
    };
    inner.work.notify_all();
    // Dropping a job may run its captures' destructors: outside the lock.
    for job in dropped {
        match job {
            Job::Call(call) => drop(call),
            Job::Task(task) => task.discard(),
        }
    }
    let me = std::thread::current().id();
    for (id, handle) in handles {
        if id == me {
            continue;
        }
        if handle.join().is_err() {
            tracing::error!(pool = %inner.name, "a worker thread panicked outside a job");
        }
    }
}

/// Joins the handles of workers that have already exited (after
/// [`ThreadPool::adjust`] lowered `max`), so they do not pile up.
fn reap_finished(state: &mut State) {
    let mut index = 0;
    while index < state.handles.len() {
        if state.handles[index].1.is_finished() {
            let (_, handle) = state.handles.swap_remove(index);
            let _ = handle.join();
        } else {
            index += 1;
        }
    }
}

/// Gets one more worker going for the queued jobs: books a wake-up for an
/// idle one (returning true: the caller signals `work` once it has
/// released the lock), or starts one if there are fewer than `max`; if
/// every worker is busy, the first one free takes the next job.
///
/// At most one wake-up is in flight from a burst of jobs: the worker that
/// takes a job wakes the next one while jobs remain queued, so the
/// submitting thread pays for one wake-up, not one per job. The signal is
/// sent after unlocking because the woken worker's first act is to take
/// the lock: signalled under it, the worker would often run only to sleep
/// again on the lock (and, on the waker's own CPU, preempt the holder).
fn wake_one(inner: &Arc<PoolInner>, state: &mut State) -> bool {
    if state.idle > 0 {
        state.idle -= 1;
        state.notified += 1;
        true
    } else {
        if state.workers < state.max {
            start_worker(inner, state, Born::ForAJob);
        }
        false
    }
}

/// How long a worker that emptied the queue watches for another job before
/// it sleeps: about what a sleep and a wake-up cost the submitter and the
/// worker, so spinning costs at most what it can save. A job queued
/// during the spin needs no wake-up system call from the submitter (a
/// reactor thread, often) and no context switch for the worker.
const SPIN: Duration = Duration::from_micros(10);

/// Watches `queued` for up to [`SPIN`].
fn spin_for_work(inner: &PoolInner) {
    let deadline = Instant::now() + SPIN;
    loop {
        for _ in 0..64 {
            if inner.queued.load(Ordering::Relaxed) > 0 {
                return;
            }
            std::hint::spin_loop();
        }
        if Instant::now() >= deadline {
            return;
        }
    }
}

/// What a new worker is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Born {
    /// To wait for work (the pool's `min`): counted in `idle`.
    Idle,
    /// For a job just queued: counted as already woken for it, so the next
    /// job does not count on this worker too.
    ForAJob,
}

fn start_worker(inner: &Arc<PoolInner>, state: &mut State, born: Born) {
    state.started += 1;
    let name = format!("{}-{}", inner.name, state.started);
    let worker = inner.clone();
    match std::thread::Builder::new()
        .name(name)
        .spawn(move || run_worker(&worker))
    {
        Ok(handle) => {
            state.workers += 1;
            match born {
                Born::Idle => state.idle += 1,
                Born::ForAJob => state.notified += 1,
            }
            let id = handle.thread().id();
            reap_finished(state);
            state.handles.push((id, handle));
        }
        Err(error) => {
            // Queued jobs still run on the workers there are; with none,
            // they wait for the next successful start.
            tracing::error!(pool = %inner.name, %error, "could not start a worker thread");
        }
    }
}

/// A worker's loop: wait (counted in `idle`) until woken for a job, run
/// jobs while there are any, and exit when the pool stops or has more
/// workers than `max`. A new worker starts out waiting, so jobs queued
/// while it starts do not start more workers.
fn run_worker(inner: &Arc<PoolInner>) {
    let mut state = lock(&inner.state);
    loop {
        loop {
            if state.notified > 0 {
                // The waker already took us off `idle`.
                state.notified -= 1;
                break;
            }
            if !state.queue.is_empty() || state.stopping.is_some() || state.workers > state.max {
                state.idle -= 1;
                break;
            }
            state = inner
                .work
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        loop {
            while let Some(job) = state.queue.pop_front() {
                inner.queued.store(state.queue.len(), Ordering::Relaxed);
                let wake = !state.queue.is_empty()
                    && state.notified == 0
                    && state.spinning == 0
                    && wake_one(inner, &mut state);
                drop(state);
                if wake {
                    inner.work.notify_one();
                }
                let ran = match job {
                    Job::Call(call) => catch_panic(call),
                    Job::Task(task) => catch_panic(|| task.run()),
                };
                if let Err(failure) = ran {
                    tracing::error!(pool = %inner.name, %failure, what = "thread pool job", "panic in a thread pool job");
                }
                state = lock(&inner.state);
                state.completed += 1;
            }
            if state.spinning > 0 || state.stopping.is_some() || state.workers > state.max {
                break;
            }
            state.spinning += 1;
            drop(state);
            spin_for_work(inner);
            state = lock(&inner.state);
            state.spinning -= 1;
            // Jobs queued while this worker spun woke nobody: they are
            // this worker's to run, whether or not the spin saw them.
            if state.queue.is_empty() {
                break;
            }
        }
        // Decided and counted under one lock, so that of several workers
        // over `max` only the excess exits.
        if state.stopping.is_some() || state.workers > state.max {
            break;
        }
        state.idle += 1;
    }
    state.workers -= 1;
}
