//! The pool's state and its one scheduling rule: a queued call goes to
//! the idle worker that became idle last (so the others stay idle long
//! enough to be reaped), else a worker is started while the pool is
//! under its maximum, else the call waits.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use torsion::defer::Resolver;
use torsion::error::Cancelled;
use torsion::service::ServiceCore;
use torsion::time::{DelayedCall, LoopingCall};
use torsion::{Deferred, Failure, Reactor};

use super::PoolError;
use super::link::{self, Link};
use super::options::PoolOptions;
use crate::Amp;

/// How long after a failed start (or a worker that died young) the pool
/// waits before starting workers only to keep its minimum, so that a
/// worker that cannot run is not restarted in a tight loop.
pub(super) const RESTART_BACKOFF: Duration = Duration::from_secs(1);

/// A worker that dies sooner than this after its start counts as dying
/// young.
pub(super) const YOUNG: Duration = Duration::from_secs(1);

/// Sends a call on a worker's connection (given the worker's pid, for the
/// failure if it dies); the Deferred fires once the caller has its result.
pub(super) type Send = Box<dyn FnOnce(&Amp, Option<u32>) -> Deferred<()>>;

/// Fails a call (timeout, cancellation, stop) unless it already has its
/// result.
pub(super) type Fail = Rc<dyn Fn(Failure)>;

/// A call waiting for a worker.
pub(super) struct Job {
    pub(super) id: u64,
    pub(super) timeout: Option<Option<Duration>>,
    pub(super) deadline: Option<Instant>,
    pub(super) send: Send,
    pub(super) fail: Fail,
}

pub(super) enum Status {
    /// A remote worker whose connection is not up yet.
    Starting(Deferred<()>),
    Idle(Instant),
    Busy {
        job: u64,
        fail: Fail,
        timer: Option<DelayedCall>,
    },
    /// Asked to exit (or killed); gone once its process has ended. The
    /// kill after the grace, and the call whose answer is awaited before
    /// the worker's stdin is closed (an AMP connection that is closing
    /// delivers nothing more).
    Stopping {
        kill: Option<DelayedCall>,
        finishing: Option<u64>,
    },
}

pub(super) struct Worker {
    pub(super) id: u64,
    pub(super) starter: usize,
    pub(super) amp: Amp,
    pub(super) link: Link,
    pub(super) started: Instant,
    pub(super) calls: u64,
    pub(super) status: Status,
}

impl Worker {
    pub(super) fn stopping(&self) -> bool {
        matches!(self.status, Status::Stopping { .. })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    NotStarted,
    Running,
    Stopped,
}

pub(super) struct State {
    pub(super) phase: Phase,
    pub(super) workers: Vec<Worker>,
    pub(super) queue: VecDeque<Job>,
    pub(super) next_id: u64,
    pub(super) reaper: Option<LoopingCall>,
    pub(super) stop_waiters: Vec<Resolver<()>>,
    /// No starts only for the minimum before this.
    pub(super) backoff_until: Option<Instant>,
}

/// What the pool is: its settings, its reactor, and its state.
pub(crate) struct Shared {
    pub(super) core: ServiceCore,
    pub(super) reactor: Reactor,
    pub(super) options: PoolOptions,
    pub(super) state: RefCell<State>,
    pub(super) me: Weak<Shared>,
}

/// What `pump` decided, done once the state is no longer borrowed.
enum Step {
    Dispatch(u64, Job),
    Start(usize),
    Done,
}

/// How many workers the pool counts and what they are doing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Workers that count against the maximum (all but those stopping).
    pub workers: usize,
    /// Workers waiting for a call.
    pub idle: usize,
    /// Workers running a call.
    pub busy: usize,
    /// Remote workers whose connection is not up yet.
    pub starting: usize,
    /// Workers asked to exit or killed, not yet gone.
    pub stopping: usize,
    /// Calls waiting for a worker.
    pub queued: usize,
}

impl Shared {
    pub(super) fn new(reactor: &Reactor, options: PoolOptions) -> Rc<Shared> {
        Rc::new_cyclic(|me| Shared {
            core: ServiceCore::named(&options.name),
            reactor: reactor.clone(),
            options,
            state: RefCell::new(State {
                phase: Phase::NotStarted,
                workers: Vec::new(),
                queue: VecDeque::new(),
                next_id: 0,
                reaper: None,
                stop_waiters: Vec::new(),
                backoff_until: None,
            }),
            me: me.clone(),
        })
    }

    pub(super) fn next_id(&self) -> u64 {
        let mut state = self.state.borrow_mut();
        state.next_id += 1;
        state.next_id
    }

    pub(super) fn start(&self) {
        let mut state = self.state.borrow_mut();
        if state.phase == Phase::Running {
            return;
        }
        state.phase = Phase::Running;
        let me = self.me.clone();
        let reaper = LoopingCall::new(self.reactor.clone(), move || {
            if let Some(pool) = me.upgrade() {
                pool.prune();
            }
        });
        // `start` fails only for a loop already running.
        if let Ok(done) = reaper.start(self.options.max_idle.max(Duration::from_millis(1)), false) {
            drop(done);
        }
        state.reaper = Some(reaper);
        drop(state);
        self.pump();
    }

    /// Queues a call, or fails it when the pool is stopped.
    pub(super) fn submit(&self, job: Job) {
        let mut state = self.state.borrow_mut();
        if state.phase == Phase::Stopped {
            drop(state);
            (job.fail)(Failure::new(PoolError::Stopped));
            return;
        }
        if let Some(deadline) = job.deadline {
            let (me, id) = (self.me.clone(), job.id);
            let created = Instant::now();
            self.reactor
                .call_later(deadline.saturating_duration_since(created), move || {
                    if let Some(pool) = me.upgrade() {
                        pool.expired_in_queue(id, deadline - created);
                    }
                });
        }
        state.queue.push_back(job);
        drop(state);
        self.pump();
    }

    /// Hands queued calls to workers and starts workers, as far as the
    /// limits allow.
    pub(super) fn pump(&self) {
        let mut start_failed = false;
        loop {
            match self.next_step(start_failed) {
                Step::Done => return,
                Step::Dispatch(worker, job) => self.dispatch(worker, job),
                Step::Start(starter) => start_failed |= !self.start_worker(starter),
            }
        }
    }

    fn next_step(&self, start_failed: bool) -> Step {
        let mut state = self.state.borrow_mut();
        if state.phase == Phase::Stopped {
            return Step::Done;
        }
        if !state.queue.is_empty() {
            let idle = state
                .workers
                .iter()
                .filter(|w| !w.amp.is_closed())
                .filter_map(|w| match w.status {
                    Status::Idle(since) => Some((since, w.id)),
                    _ => None,
                })
                .max();
            if let Some((_, worker)) = idle {
                let job = state.queue.pop_front().expect("not empty");
                return Step::Dispatch(worker, job);
            }
        }
        if start_failed {
            return Step::Done;
        }
        let live = state.workers.iter().filter(|w| !w.stopping()).count();
        let starting = state
            .workers
            .iter()
            .filter(|w| matches!(w.status, Status::Starting(_)))
            .count();
        let for_queue = state.queue.len() > starting && live < self.options.max;
        let backing_off = state
            .backoff_until
            .is_some_and(|until| Instant::now() < until);
        let for_min = state.phase == Phase::Running
            && live < self.options.min.min(self.options.max)
            && !backing_off;
        if !(for_queue || for_min) {
            return Step::Done;
        }
        // The starter with the fewest live workers, the first on a tie.
        let starter = (0..self.options.starters.len())
            .min_by_key(|&i| {
                state
                    .workers
                    .iter()
                    .filter(|w| w.starter == i && !w.stopping())
                    .count()
            })
            .unwrap_or(0);
        Step::Start(starter)
    }

    /// Starts one worker; false when it could not be started.
    fn start_worker(&self, starter: usize) -> bool {
        let id = self.next_id();
        let started = link::start(
            &self.reactor,
            &self.options.starters[starter],
            self.options.responders.clone(),
            self.me.clone(),
            id,
        );
        let started = match started {
            Ok(started) => started,
            Err(failure) => {
                tracing::warn!(pool = %self.options.name, %failure, "cannot start a worker");
                self.start_failed(failure);
                return false;
            }
        };
        let status = match started.connecting {
            Some(connecting) => {
                let me = self.me.clone();
                Status::Starting(connecting.both(move |result| {
                    if let Some(pool) = me.upgrade() {
                        pool.connected(id, result);
                    }
                    Ok::<(), Failure>(())
                }))
            }
            None => Status::Idle(Instant::now()),
        };
        tracing::debug!(pool = %self.options.name, id, pid = ?started.link.pid(), "worker started");
        self.state.borrow_mut().workers.push(Worker {
            id,
            starter,
            amp: started.amp,
            link: started.link,
            started: Instant::now(),
            calls: 0,
            status,
        });
        true
    }

    /// A worker could not start: the call waiting longest fails, and
    /// starts for the minimum back off.
    pub(super) fn start_failed(&self, failure: Failure) {
        let mut state = self.state.borrow_mut();
        state.backoff_until = Some(Instant::now() + RESTART_BACKOFF);
        let job = state.queue.pop_front();
        drop(state);
        self.pump_after_backoff();
        if let Some(job) = job {
            (job.fail)(Failure::new(PoolError::StartFailed(failure)));
        }
    }

    pub(super) fn pump_after_backoff(&self) {
        let me = self.me.clone();
        self.reactor.call_later(RESTART_BACKOFF, move || {
            if let Some(pool) = me.upgrade() {
                pool.pump();
            }
        });
    }

    fn connected(&self, id: u64, result: Result<torsion::net::Transport, Failure>) {
        let mut state = self.state.borrow_mut();
        let Some(index) = state.workers.iter().position(|w| w.id == id) else {
            return;
        };
        match result {
            Ok(transport) => {
                let worker = &mut state.workers[index];
                worker.link = Link::Remote(Some(transport.clone()));
                if matches!(worker.status, Status::Starting(_)) {
                    worker.status = Status::Idle(Instant::now());
                } else {
                    // Stopped while connecting.
                    transport.lose_connection();
                }
                drop(state);
                self.pump();
            }
            Err(failure) => {
                state.workers.remove(index);
                let stopped = state.phase == Phase::Stopped;
                drop(state);
                if stopped {
                    self.fire_stop_waiters();
                } else {
                    tracing::warn!(pool = %self.options.name, %failure, "cannot reach a remote worker");
                    self.start_failed(failure);
                    self.pump();
                }
            }
        }
    }

    fn dispatch(&self, worker_id: u64, job: Job) {
        let limit = match job.timeout {
            Some(timeout) => timeout,
            None => self.options.timeout,
        };
        let limit = match job.deadline {
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                Some(limit.map_or(left, |limit| limit.min(left)))
            }
            None => limit,
        };
        let timer = limit.map(|after| {
            let (me, job_id) = (self.me.clone(), job.id);
            self.reactor.call_later(after, move || {
                if let Some(pool) = me.upgrade() {
                    pool.timed_out(worker_id, job_id, after);
                }
            })
        });
        let mut state = self.state.borrow_mut();
        let worker = state
            .workers
            .iter_mut()
            .find(|w| w.id == worker_id)
            .expect("dispatch picks a worker of the pool");
        worker.calls += 1;
        worker.status = Status::Busy {
            job: job.id,
            fail: job.fail.clone(),
            timer,
        };
        let (amp, pid) = (worker.amp.clone(), worker.link.pid());
        drop(state);
        let (me, job_id) = (self.me.clone(), job.id);
        let finished = (job.send)(&amp, pid);
        drop(finished.both(move |_| {
            if let Some(pool) = me.upgrade() {
                pool.call_finished(worker_id, job_id);
            }
            Ok::<(), Failure>(())
        }));
    }

    /// A worker answered (or its call failed): it takes the next call, or
    /// is recycled.
    fn call_finished(&self, worker_id: u64, job_id: u64) {
        let mut state = self.state.borrow_mut();
        let recycle_after = self.options.recycle_after;
        let Some(worker) = state.workers.iter_mut().find(|w| w.id == worker_id) else {
            drop(state);
            return self.pump();
        };
        if let Status::Stopping {
            finishing: Some(job),
            ..
        } = &worker.status
            && *job == job_id
        {
            // Answered: now the worker may be told to exit.
            let (link, amp) = (worker.link.clone(), worker.amp.clone());
            drop(state);
            return link.close(&amp);
        }
        let Status::Busy { job, timer, .. } = &worker.status else {
            drop(state);
            return self.pump();
        };
        if *job != job_id {
            return;
        }
        if let Some(timer) = timer {
            let _ = timer.cancel();
        }
        worker.status = Status::Idle(Instant::now());
        let recycle = recycle_after > 0 && worker.calls >= recycle_after;
        drop(state);
        if recycle {
            tracing::debug!(pool = %self.options.name, id = worker_id, "recycling a worker");
            self.retire(worker_id);
        }
        self.pump();
    }

    fn timed_out(&self, worker_id: u64, job_id: u64, after: Duration) {
        let mut state = self.state.borrow_mut();
        let Some(worker) = state.workers.iter_mut().find(|w| w.id == worker_id) else {
            return;
        };
        let Status::Busy { job, fail, .. } = &worker.status else {
            return;
        };
        if *job != job_id {
            return;
        }
        let fail = fail.clone();
        let pid = worker.link.pid();
        tracing::warn!(pool = %self.options.name, ?pid, ?after, "a call timed out; stopping its worker");
        worker.status = Status::Stopping {
            kill: Some(self.kill_later(worker_id)),
            finishing: None,
        };
        let link = worker.link.clone();
        drop(state);
        // Out of the borrow: losing a connection may call back.
        link.kill(self.options.timeout_signal);
        fail(Failure::new(PoolError::TimedOut { after, pid }));
        self.pump();
    }

    fn expired_in_queue(&self, job_id: u64, after: Duration) {
        let mut state = self.state.borrow_mut();
        let Some(index) = state.queue.iter().position(|job| job.id == job_id) else {
            return;
        };
        let job = state.queue.remove(index).expect("found");
        drop(state);
        (job.fail)(Failure::new(PoolError::TimedOut { after, pid: None }));
    }

    /// Removes a queued call (its Deferred was cancelled); a running call
    /// is left to finish on its worker.
    pub(super) fn cancel(&self, job_id: u64) {
        let Ok(mut state) = self.state.try_borrow_mut() else {
            return;
        };
        let Some(index) = state.queue.iter().position(|job| job.id == job_id) else {
            return;
        };
        let job = state.queue.remove(index).expect("found");
        drop(state);
        (job.fail)(Failure::new(Cancelled));
    }
}
