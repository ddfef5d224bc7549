//! The loop itself: starting, one turn at a time, and what a turn runs.

use std::time::{Duration, Instant};

use mio::Token;

use super::handle::Posted;
use super::io::{RING_TOKEN, Readiness, Ready, SIGNAL_TOKEN, WAKER_TOKEN};
use super::signals::Signals;
use super::triggers::{Phase, SystemEvent, run_trigger};
use super::{Reactor, RunState};
use crate::Deferred;
use crate::error::{ReactorError, SignalError};
use crate::failure::catch_panic;

impl Reactor {
    /// Runs the loop until [`stop`](Reactor::stop) and the whole shutdown
    /// event have run, stopping gracefully on SIGINT or SIGTERM as
    /// Twisted's `run()` does ([`Signals::StopGracefully`]). A reactor runs
    /// once: running it again fails with [`ReactorError::NotRestartable`],
    /// and while it runs with [`ReactorError::AlreadyRunning`].
    pub fn run(&self) -> Result<(), ReactorError> {
        self.run_with(Signals::StopGracefully)
    }

    /// [`run`](Reactor::run), saying what to do about SIGINT and SIGTERM.
    /// With [`Signals::StopGracefully`] the reactor takes each signal that
    /// nothing else handles yet (never one another reactor holds) for as
    /// long as it runs; with [`Signals::LeaveAlone`] it touches none.
    pub fn run_with(&self, signals: Signals) -> Result<(), ReactorError> {
        match self.inner.state.get() {
            RunState::NotStarted => {}
            RunState::Running | RunState::Stopping => return Err(ReactorError::AlreadyRunning),
            RunState::Finished => return Err(ReactorError::NotRestartable),
        }
        if signals == Signals::StopGracefully {
            match self.install_signal_handlers() {
                Ok(()) => {}
                Err(SignalError::AlreadyHandled) => {
                    tracing::debug!("SIGINT and SIGTERM are handled elsewhere; leaving them");
                }
                Err(error) => tracing::warn!(%error, "running without stop signals"),
            }
        }
        self.start()?;
        while !self.is_finished() {
            if let Err(error) = self.turn(None) {
                tracing::error!(%error, "polling for events failed");
                return Err(ReactorError::Stopped);
            }
        }
        Ok(())
    }

    /// Fires the startup event and marks the reactor running, for a host
    /// loop that then drives it with [`run_once`](Reactor::run_once). It
    /// leaves signals alone; see
    /// [`install_signal_handlers`](Reactor::install_signal_handlers).
    pub fn start(&self) -> Result<(), ReactorError> {
        match self.inner.state.get() {
            RunState::NotStarted => {}
            RunState::Running | RunState::Stopping => return Err(ReactorError::AlreadyRunning),
            RunState::Finished => return Err(ReactorError::NotRestartable),
        }
        self.make_current();
        self.run_phase(SystemEvent::Startup, Phase::Before);
        self.inner.state.set(RunState::Running);
        self.run_phase(SystemEvent::Startup, Phase::During);
        self.run_phase(SystemEvent::Startup, Phase::After);
        Ok(())
    }

    /// How long the reactor may sleep before it needs a turn: zero if work
    /// is ready (posted calls, woken tasks, a stop to begin, events a full
    /// poll left behind, or a finished shutdown wait), the time to the next
    /// timer or to the shutdown timeout, or `None` if only an event on the
    /// descriptor can wake it. For host loops driving the reactor with
    /// `run_once`; also zero once the reactor has finished, so a host
    /// checks [`is_finished`](Reactor::is_finished) to leave.
    pub fn next_timeout(&self) -> Option<Duration> {
        let inner = &*self.inner;
        // A stop asked for but not yet begun is work; once shutdown waits
        // for before-trigger Deferreds, only their firing (an event) or
        // the shutdown deadline below is.
        let stop_pending = inner.stop_requested.get() && inner.state.get() == RunState::Running;
        if stop_pending
            || inner.io_backlog.get()
            || inner.shared.has_work()
            || inner.state.get() == RunState::Finished
            || !inner.settles.borrow().is_empty()
        {
            return Some(Duration::ZERO);
        }
        let next_deadline = inner.timers.next_deadline();
        let shutdown = inner.shutdown.borrow();
        if next_deadline.is_none() && shutdown.is_none() {
            // Reading the clock is a good part of a short turn's cost.
            return None;
        }
        let now = Instant::now();
        let mut timeout = next_deadline.map(|deadline| deadline.saturating_duration_since(now));
        if let Some(wait) = &*shutdown {
            // Every Deferred fired (maybe by a callback late in the last
            // turn) or a second signal: the next turn finishes shutdown.
            let left = if inner.hurry.get() || wait.outstanding.get() == 0 {
                Duration::ZERO
            } else {
                wait.deadline.saturating_duration_since(now)
            };
            timeout = Some(timeout.map_or(left, |t| t.min(left)));
        }
        timeout
    }

    /// Runs one turn of the loop: due work, then one poll for I/O that waits
    /// at most `timeout` (and never past the next timer). A host loop
    /// passes `Some(Duration::ZERO)` and does its own waiting; see
    /// [embedding](crate::reactor#embedding-in-another-loop). On a finished
    /// reactor it does nothing.
    pub fn run_once(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        let mut turned = self.turn(timeout);
        // A host loop learns of work from the descriptor: posts and wakes
        // that skipped the wake-up write while the turn ran get it now.
        self.inner.shared.end_host_turn();
        // And the host sleeps on its own: sends the turn queued go in now,
        // not with a wait on the ring that `run` would make next.
        if let Some(ring) = &self.inner.ring {
            turned = turned.and_then(|()| {
                ring.submit_before_wait(self.inner.poll.borrow().registry(), RING_TOKEN)
            });
        }
        turned
    }

    /// One turn; `run` loops on it and, asking `next_timeout` before each
    /// poll, needs no wake-up write for tasks woken inside a turn.
    fn turn(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        if self.is_finished() {
            return Ok(());
        }
        self.make_current();
        let _turn = self.inner.shared.turn();
        let mut external = self.run_cross_thread_calls();
        self.run_due_timers();
        self.run_settles();
        external += self.poll_woken_tasks();
        self.flush_ring()?;
        self.inner.spin.woke(external > 0);
        self.advance_shutdown();
        if self.is_finished() {
            return Ok(());
        }
        let wait = match (self.next_timeout(), timeout) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let mut wait = self.spin_before_poll(external, wait);
        if wait != Some(Duration::ZERO) && !self.inner.shared.prepare_to_sleep() {
            // A call was posted since the queue was taken: no sleeping.
            wait = Some(Duration::ZERO);
        }
        self.poll_io(wait)
    }

    /// Runs the calls posted before this turn; returns how many of them a
    /// thread may be waiting on (awaited calls and completions), which is
    /// what spinning counts: a plain `call_from_thread` poster goes on.
    fn run_cross_thread_calls(&self) -> usize {
        let mut batch = std::mem::take(&mut *self.inner.call_batch.borrow_mut());
        self.inner.shared.take_calls(&mut batch);
        let mut awaited = 0;
        for posted in batch.drain(..) {
            let ran = match posted {
                Posted::Call(call) => catch_panic(|| call.call(self)),
                Posted::AwaitedCall(call) => {
                    awaited += 1;
                    catch_panic(|| call.call(self))
                }
                Posted::Completion(completion) => {
                    awaited += 1;
                    catch_panic(|| completion.complete(self))
                }
            };
            if let Err(failure) = ran {
                tracing::error!(%failure, what = "call from thread", "panic in a call from another thread");
            }
        }
        *self.inner.call_batch.borrow_mut() = batch;
        awaited
    }

    fn run_due_timers(&self) {
        let timers = &self.inner.timers;
        if timers.len() == 0 {
            return;
        }
        let barrier = timers.sequence_barrier();
        let now = Instant::now();
        while let Some(call) = timers.pop_due(now, barrier) {
            if let Err(failure) = catch_panic(|| call.run()) {
                tracing::error!(%failure, what = "timed call", "panic in a timed call");
            }
        }
    }

    /// Runs the settles asked for before this turn (see
    /// [`settle_later`](Reactor::settle_later)); those asked for meanwhile
    /// wait for the next turn, as a zero-delay timer would.
    fn run_settles(&self) {
        let inner = &*self.inner;
        if inner.settles.borrow().is_empty() {
            return;
        }
        let mut batch = std::mem::take(&mut *inner.settle_batch.borrow_mut());
        std::mem::swap(&mut *inner.settles.borrow_mut(), &mut batch);
        for token in batch.drain(..) {
            // Sources catch panics in the user code they call.
            if let Some(source) = self.source(token) {
                source.settle(self);
            }
        }
        *inner.settle_batch.borrow_mut() = batch;
    }

    /// Polls the woken tasks; returns how many were woken from outside a
    /// turn (none if any was woken inside one).
    fn poll_woken_tasks(&self) -> usize {
        // Rounds for the tasks the polls themselves wake (a task awaiting
        // one that just finished); those woken by the last round, and tasks
        // woken again after their own poll, wait for the next turn.
        const ROUNDS: usize = 4;
        let executor = &self.inner.executor;
        let shared = &self.inner.shared;
        executor.begin_turn();
        let mut woken = std::mem::take(&mut *executor.woken_buffer());
        let mut later = std::mem::take(&mut *executor.later_buffer());
        let external = shared.take_woken(&mut woken);
        let from_outside = if external { woken.len() } else { 0 };
        for round in 0..ROUNDS {
            if round > 0 {
                shared.take_woken(&mut woken);
            }
            if woken.is_empty() {
                break;
            }
            executor.order_woken(&mut woken);
            executor.poll_woken(&mut woken, &mut later);
        }
        if !later.is_empty() {
            shared.wake_later(&mut later);
        }
        *executor.woken_buffer() = woken;
        *executor.later_buffer() = later;
        from_outside
    }

    /// The io_uring backend's part of a turn, before the wait: submits
    /// the sends queued since the last one (one system call for all of
    /// them) and hands the finished operations back to their sources:
    /// sends to their connections, which may queue more (those go in too,
    /// a few rounds at most, and any left wait for the next turn), and
    /// accepted connections to their ports.
    pub(super) fn flush_ring(&self) -> std::io::Result<()> {
        const ROUNDS: usize = 4;
        let Some(ring) = &self.inner.ring else {
            return Ok(());
        };
        let mut completions = std::mem::take(&mut *self.inner.completions.borrow_mut());
        for _ in 0..ROUNDS {
            ring.submit_and_reap(&mut completions)?;
            if completions.is_empty() {
                break;
            }
            for (token, done) in completions.drain(..) {
                // A source gone meanwhile (a port closed after the kernel
                // accepted for it) drops `done`, closing what it carries.
                if let Some(source) = self.source(token) {
                    source.ring_done(self, done);
                }
            }
        }
        *self.inner.completions.borrow_mut() = completions;
        // Sends queued by the last round go in now; their completions
        // wake the poll through the ring's descriptor.
        ring.submit_before_wait(self.inner.poll.borrow().registry(), RING_TOKEN)
    }

    fn poll_io(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        let mut events = self.inner.events.borrow_mut();
        match self.inner.poll.borrow_mut().poll(&mut events, timeout) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => return Ok(()),
            Err(error) => return Err(error),
        }
        // Callbacks may poll again (a nested `run_once`), so copy the tokens
        // out of `events` before running any.
        let mut tokens = std::mem::take(&mut *self.inner.ready_tokens.borrow_mut());
        let mut ring_ready = false;
        tokens.extend(
            events
                .iter()
                .map(|event| (event.token(), Readiness::of(event))),
        );
        // A full buffer may have left events in the poller. `run` polls
        // again next turn anyway; a host loop watching the descriptor
        // edge-triggered (tokio's AsyncFd) would not hear of them again,
        // so next_timeout says to turn at once.
        self.inner.io_backlog.set(tokens.len() >= events.capacity());
        drop(events);
        for (token, readiness) in tokens.drain(..) {
            match token {
                WAKER_TOKEN => {}
                RING_TOKEN => ring_ready = true,
                SIGNAL_TOKEN => self.handle_signals(),
                token => self.run_watch(token, readiness),
            }
        }
        *self.inner.ready_tokens.borrow_mut() = tokens;
        // Operations completed since this turn's flush, whose wake-up
        // this poll took: a host loop would not hear of them again (an
        // accepted connection would wait for some other event), so they
        // are handed over now rather than next turn.
        if ring_ready {
            self.flush_ring()?;
        }
        Ok(())
    }

    fn run_watch(&self, token: Token, readiness: Readiness) {
        let ready = self.inner.watches.borrow_mut().take_ready(token);
        let mut callback = match ready {
            None => return,
            Some(Ready::Source(source)) => {
                // Sources catch panics in the user code they call and
                // close only the connection concerned.
                source.ready(self, readiness);
                return;
            }
            Some(Ready::Callback(callback)) => callback,
        };
        if let Err(failure) = catch_panic(|| callback(self)) {
            tracing::error!(%failure, what = "readiness callback", "panic in a readiness callback");
        }
        let dropped = self.inner.watches.borrow_mut().restore(token, callback);
        drop(dropped);
    }

    pub(super) fn run_phase(&self, event: SystemEvent, phase: Phase) -> Vec<Deferred<()>> {
        let mut waits = Vec::new();
        loop {
            let next = self.inner.triggers.borrow_mut().pop(event, phase);
            let Some(trigger) = next else { break };
            waits.extend(run_trigger(trigger, event, phase));
        }
        waits
    }
}
