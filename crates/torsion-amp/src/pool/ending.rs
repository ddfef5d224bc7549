//! How workers leave the pool: asked to exit (recycled, idle, or the
//! pool stopping), killed when they outstay the grace, and counted out
//! once their process has ended; and what the pool reports about them.

use std::time::Instant;

use torsion::time::DelayedCall;
use torsion::{Deferred, Failure};

use super::PoolError;
use super::core::{Job, Phase, PoolStats, RESTART_BACKOFF, Shared, Status, YOUNG};

impl Shared {
    /// Asks a worker to exit, killing it if it has not after the grace.
    pub(super) fn retire(&self, worker_id: u64) {
        let mut state = self.state.borrow_mut();
        let Some(worker) = state.workers.iter_mut().find(|w| w.id == worker_id) else {
            return;
        };
        if worker.stopping() {
            return;
        }
        let finishing = match &worker.status {
            Status::Busy { job, .. } => Some(*job),
            _ => None,
        };
        let kill = Some(self.kill_later(worker_id));
        let previous = std::mem::replace(&mut worker.status, Status::Stopping { kill, finishing });
        let (link, amp) = (worker.link.clone(), worker.amp.clone());
        drop(state);
        // Out of the borrow: both may call back into the pool.
        match previous {
            Status::Starting(connecting) => connecting.cancel(),
            // Closed once it has answered.
            Status::Busy { .. } => {}
            _ => link.close(&amp),
        }
    }

    /// Kills the worker if it is still there after the grace.
    pub(super) fn kill_later(&self, worker_id: u64) -> DelayedCall {
        let me = self.me.clone();
        self.reactor.call_later(self.options.stop_grace, move || {
            if let Some(pool) = me.upgrade() {
                pool.kill(worker_id);
            }
        })
    }

    fn kill(&self, worker_id: u64) {
        let state = self.state.borrow();
        let link = state
            .workers
            .iter()
            .find(|w| w.id == worker_id)
            .map(|w| w.link.clone());
        drop(state);
        if let Some(link) = link {
            tracing::warn!(pool = %self.options.name, pid = ?link.pid(), "a worker did not exit in time; killing it");
            link.kill(torsion::process::Signal::KILL);
        }
    }

    /// Stops idle workers above the minimum that have been idle for
    /// `max_idle` (the reaper's tick).
    pub(super) fn prune(&self) {
        let state = self.state.borrow();
        let mut live = state.workers.iter().filter(|w| !w.stopping()).count();
        let now = Instant::now();
        let mut idle: Vec<(Instant, u64)> = state
            .workers
            .iter()
            .filter_map(|w| match w.status {
                Status::Idle(since) if now.duration_since(since) >= self.options.max_idle => {
                    Some((since, w.id))
                }
                _ => None,
            })
            .collect();
        drop(state);
        idle.sort();
        for (_, id) in idle {
            if live <= self.options.min {
                break;
            }
            tracing::debug!(pool = %self.options.name, id, "stopping an idle worker");
            self.retire(id);
            live -= 1;
        }
    }

    /// A worker's process ended (or its connection was lost).
    pub(super) fn worker_ended(&self, id: u64, reason: &Failure) {
        let mut state = self.state.borrow_mut();
        let Some(index) = state.workers.iter().position(|w| w.id == id) else {
            return;
        };
        let worker = state.workers.remove(index);
        if let Status::Stopping {
            kill: Some(timer), ..
        } = &worker.status
        {
            let _ = timer.cancel();
        }
        if let Status::Busy {
            timer: Some(timer), ..
        } = &worker.status
        {
            let _ = timer.cancel();
        }
        // Died before it was given anything to do: likely a worker that
        // cannot run at all.
        let young = worker.started.elapsed() < YOUNG && worker.calls == 0 && !worker.stopping();
        if young {
            state.backoff_until = Some(Instant::now() + RESTART_BACKOFF);
        }
        let stopped = state.phase == Phase::Stopped;
        drop(state);
        if !worker.stopping() {
            tracing::warn!(pool = %self.options.name, pid = ?worker.link.pid(), %reason, "a worker ended unexpectedly");
        }
        if stopped {
            self.fire_stop_waiters();
        } else {
            if young {
                self.pump_after_backoff();
            }
            self.pump();
        }
    }

    pub(super) fn stop(&self) -> Deferred<()> {
        let mut state = self.state.borrow_mut();
        state.phase = Phase::Stopped;
        if let Some(reaper) = state.reaper.take() {
            reaper.stop();
        }
        let queued: Vec<Job> = state.queue.drain(..).collect();
        let ids: Vec<u64> = state.workers.iter().map(|w| w.id).collect();
        let (deferred, resolver) = Deferred::new();
        state.stop_waiters.push(resolver);
        drop(state);
        for job in queued {
            (job.fail)(Failure::new(PoolError::Stopped));
        }
        for id in ids {
            self.retire(id);
        }
        self.fire_stop_waiters();
        deferred
    }

    pub(super) fn fire_stop_waiters(&self) {
        let mut state = self.state.borrow_mut();
        if !state.workers.is_empty() || state.phase != Phase::Stopped {
            return;
        }
        let waiters = std::mem::take(&mut state.stop_waiters);
        drop(state);
        for waiter in waiters {
            waiter.resolve(());
        }
    }

    pub(super) fn stats(&self) -> PoolStats {
        let state = self.state.borrow();
        let mut stats = PoolStats {
            queued: state.queue.len(),
            ..PoolStats::default()
        };
        for worker in &state.workers {
            match worker.status {
                Status::Starting(_) => stats.starting += 1,
                Status::Idle(_) => stats.idle += 1,
                Status::Busy { .. } => stats.busy += 1,
                Status::Stopping { .. } => stats.stopping += 1,
            }
        }
        stats.workers = state.workers.len() - stats.stopping;
        stats
    }

    pub(super) fn pids(&self) -> Vec<u32> {
        let state = self.state.borrow();
        state
            .workers
            .iter()
            .filter(|w| !w.stopping())
            .filter_map(|w| w.link.pid())
            .collect()
    }
}
