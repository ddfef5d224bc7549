//! The reactor: one thread's event loop.
//!
//! A [`Reactor`] waits for events (a readable or writable descriptor, a due
//! timer, a call posted from another thread, a woken task) and runs the code
//! interested in them, one turn at a time:
//!
//! ```text
//!   +--> 1. calls posted from other threads (the batch present now)
//!   |    2. due timers (not those scheduled during this pass)
//!   |    3. woken tasks (futures spawned with Reactor::spawn)
//!   |    4. shutdown progress, if stopping
//!   +--- 5. poll I/O, blocking until the next timer at most
//!           and run readiness callbacks
//! ```
//!
//! Everything on the loop is `!Send`; other threads reach it through a
//! [`ReactorHandle`]. A panic in anything the loop runs is caught and logged
//! with what was running, and the loop goes on.
//!
//! ```
//! use std::time::Duration;
//! use torsion::Reactor;
//! use torsion::time::Scheduler;
//!
//! let reactor = Reactor::new()?;
//! let stopper = reactor.clone();
//! reactor.call_later(Duration::from_millis(5), move || {
//!     println!("tick");
//!     stopper.stop().unwrap();
//! });
//! reactor.run()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Another event loop can drive a reactor instead of [`Reactor::run`]: it
//! watches the descriptor from [`AsRawFd`], calls [`Reactor::start`] once and
//! [`Reactor::run_once`] whenever the descriptor is readable or
//! [`Reactor::next_timeout`] has passed.

mod executor;
mod handle;
mod io;
mod triggers;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use crate::defer::{CancelEntry, EntryKey};
use crate::error::ReactorError;
use crate::failure::catch_panic;
use crate::sync::Arc;
use crate::time::queue::{TimeSource, TimerQueue};
use crate::time::{DelayedCall, Scheduler};
use crate::{Deferred, Failure};

pub use handle::ReactorHandle;
pub use io::WatchId;
pub use triggers::{Phase, SystemEvent, TriggerId, TriggerOutput};

pub(crate) use handle::Completion;
// The thread pool's loom model drives the queue directly.
#[cfg(all(test, loom))]
pub(crate) use handle::{Posted, Shared};
#[cfg(not(all(test, loom)))]
use handle::{Posted, Shared};
pub(crate) use io::{IoSource, Readiness};
use io::{Ready, SIGNAL_TOKEN, SignalPipe, WAKER_TOKEN, Watches};
use triggers::{Triggers, run_trigger};

/// How long shutdown waits, by default, for the Deferreds of before-shutdown
/// triggers.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

const EVENTS_CAPACITY: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunState {
    NotStarted,
    Running,
    Stopping,
    Finished,
}

/// Shutdown waiting for before-trigger Deferreds.
struct ShutdownWait {
    outstanding: Rc<Cell<usize>>,
    deadline: Instant,
}

struct Inner {
    poll: RefCell<Poll>,
    events: RefCell<Events>,
    timers: TimerQueue,
    shared: Arc<Shared>,
    state: Cell<RunState>,
    stop_requested: Cell<bool>,
    shutdown: RefCell<Option<ShutdownWait>>,
    shutdown_timeout: Cell<Duration>,
    triggers: RefCell<Triggers>,
    executor: executor::Executor,
    watches: RefCell<Watches>,
    signals: RefCell<Option<SignalPipe>>,
    /// Reused buffers, so a turn allocates nothing.
    call_batch: RefCell<Vec<Posted>>,
    ready_tokens: RefCell<Vec<(Token, Readiness)>>,
    /// The one buffer every connection reads into.
    read_buffer: RefCell<Vec<u8>>,
    /// The default thread pool and the Deferreds waiting for threads.
    threads: crate::threads::ReactorThreads,
}

/// A reactor: the event loop of one thread (Twisted's reactor).
///
/// Cloning is cheap and gives another handle to the same loop; the reactor
/// is `!Send` and is used on the thread that made it. See the
/// [module documentation](self) for the loop.
#[derive(Clone)]
pub struct Reactor {
    inner: Rc<Inner>,
}

impl Reactor {
    /// A new reactor, not yet running.
    pub fn new() -> std::io::Result<Reactor> {
        let poll = Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), WAKER_TOKEN)?;
        let reactor = Reactor {
            inner: Rc::new(Inner {
                poll: RefCell::new(poll),
                events: RefCell::new(Events::with_capacity(EVENTS_CAPACITY)),
                timers: TimerQueue::new(TimeSource::Monotonic),
                shared: Arc::new(Shared::new(waker)),
                state: Cell::new(RunState::NotStarted),
                stop_requested: Cell::new(false),
                shutdown: RefCell::new(None),
                shutdown_timeout: Cell::new(DEFAULT_SHUTDOWN_TIMEOUT),
                triggers: RefCell::new(Triggers::default()),
                executor: executor::Executor::default(),
                watches: RefCell::new(Watches::default()),
                signals: RefCell::new(None),
                call_batch: RefCell::new(Vec::new()),
                ready_tokens: RefCell::new(Vec::with_capacity(EVENTS_CAPACITY)),
                read_buffer: RefCell::new(Vec::new()),
                threads: crate::threads::ReactorThreads::default(),
            }),
        };
        reactor.make_current();
        Ok(reactor)
    }

    /// The reactor of this thread: the one turning now, or else the one made
    /// here last and still alive. Code handed to libraries that cannot carry
    /// a `Reactor` (hyper's `Send` timers, for one) finds its loop this way.
    ///
    /// ```
    /// use torsion::Reactor;
    ///
    /// let reactor = Reactor::new()?;
    /// assert!(Reactor::current().unwrap().same_reactor(&reactor));
    /// std::thread::spawn(|| assert!(Reactor::current().is_none())).join().unwrap();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn current() -> Option<Reactor> {
        CURRENT
            .with(|current| current.borrow().upgrade())
            .map(|inner| Reactor { inner })
    }

    /// True if both handles are the same loop.
    pub fn same_reactor(&self, other: &Reactor) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }

    fn make_current(&self) {
        CURRENT.with(|current| {
            let mut current = current.borrow_mut();
            if current.as_ptr() != Rc::as_ptr(&self.inner) {
                *current = Rc::downgrade(&self.inner);
            }
        });
    }

    /// A thread-safe handle for posting calls and stopping the reactor.
    pub fn handle(&self) -> ReactorHandle {
        ReactorHandle::new(self.inner.shared.clone())
    }

    /// Runs the loop until [`stop`](Reactor::stop) and the whole shutdown
    /// event have run. A reactor runs once: running it again fails with
    /// [`ReactorError::NotRestartable`], and while it runs with
    /// [`ReactorError::AlreadyRunning`].
    pub fn run(&self) -> Result<(), ReactorError> {
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
    /// loop that then drives it with [`run_once`](Reactor::run_once).
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

    /// Asks the reactor to stop: at the end of the current turn the shutdown
    /// event starts. Fails with [`ReactorError::NotRunning`] if the reactor
    /// is not running or already stopping.
    pub fn stop(&self) -> Result<(), ReactorError> {
        if self.inner.state.get() != RunState::Running || self.inner.stop_requested.get() {
            return Err(ReactorError::NotRunning);
        }
        self.inner.stop_requested.set(true);
        Ok(())
    }

    /// True between startup and the start of shutdown.
    pub fn is_running(&self) -> bool {
        self.inner.state.get() == RunState::Running && !self.inner.stop_requested.get()
    }

    /// True once shutdown has completed; the reactor does nothing more.
    pub fn is_finished(&self) -> bool {
        self.inner.state.get() == RunState::Finished
    }

    /// Runs `f` once the reactor is running: at once if it already is
    /// (returning `None`), otherwise as an after-startup trigger.
    pub fn call_when_running(&self, f: impl FnOnce() + 'static) -> Option<TriggerId> {
        if self.inner.state.get() == RunState::Running {
            f();
            None
        } else {
            Some(self.add_system_event_trigger(Phase::After, SystemEvent::Startup, f))
        }
    }

    /// Registers `f` to run in `phase` of `event`. A before-shutdown trigger
    /// may return a Deferred: the during and after phases wait for it (at
    /// most the [shutdown timeout](Reactor::set_shutdown_timeout)).
    pub fn add_system_event_trigger<R: TriggerOutput>(
        &self,
        phase: Phase,
        event: SystemEvent,
        f: impl FnOnce() -> R + 'static,
    ) -> TriggerId {
        self.inner
            .triggers
            .borrow_mut()
            .add(phase, event, Box::new(move || f().into_wait()))
    }

    /// Removes a trigger that has not run yet.
    pub fn remove_system_event_trigger(&self, id: TriggerId) -> Result<(), ReactorError> {
        self.inner.triggers.borrow_mut().remove(id)
    }

    /// Bounds how long shutdown waits for before-shutdown Deferreds
    /// (default [`DEFAULT_SHUTDOWN_TIMEOUT`]).
    pub fn set_shutdown_timeout(&self, timeout: Duration) {
        self.inner.shutdown_timeout.set(timeout);
    }

    /// Makes SIGINT and SIGTERM stop the reactor gracefully (shutdown
    /// triggers run). Handlers are process-wide; install them from one
    /// reactor only.
    pub fn install_signal_handlers(&self) -> std::io::Result<()> {
        let pipe = SignalPipe::install(self.inner.poll.borrow().registry())?;
        *self.inner.signals.borrow_mut() = Some(pipe);
        Ok(())
    }

    /// Runs a `!Send` future on this reactor and returns a Deferred of its
    /// result (Twisted's `ensureDeferred`: async/await is torsion's
    /// `inlineCallbacks`). Cancelling the Deferred drops the future. A panic
    /// in the future fails the Deferred and is logged.
    pub fn spawn<F, T, E>(&self, future: F) -> Deferred<T>
    where
        F: Future<Output = Result<T, E>> + 'static,
        E: Into<Failure>,
        T: 'static,
    {
        let weak: Weak<Inner> = Rc::downgrade(&self.inner);
        self.inner
            .executor
            .spawn(&self.inner.shared, future, move |id| {
                Box::new(move || {
                    if let Some(inner) = weak.upgrade() {
                        inner.executor.cancel(id);
                    }
                })
            })
    }

    /// Calls `callback` whenever `fd` becomes readable. Readiness is
    /// edge-triggered: the callback must read until `WouldBlock`, or it will
    /// not be called again for data that was already there. The descriptor
    /// must stay open until the watch is removed.
    pub fn add_reader(
        &self,
        fd: RawFd,
        callback: impl FnMut(&Reactor) + 'static,
    ) -> std::io::Result<WatchId> {
        self.add_watch(fd, Interest::READABLE, Box::new(callback))
    }

    /// Calls `callback` whenever `fd` becomes writable (edge-triggered, as
    /// for [`add_reader`](Reactor::add_reader)).
    pub fn add_writer(
        &self,
        fd: RawFd,
        callback: impl FnMut(&Reactor) + 'static,
    ) -> std::io::Result<WatchId> {
        self.add_watch(fd, Interest::WRITABLE, Box::new(callback))
    }

    fn add_watch(
        &self,
        fd: RawFd,
        interest: Interest,
        callback: io::ReadyCallback,
    ) -> std::io::Result<WatchId> {
        let poll = self.inner.poll.borrow();
        self.inner
            .watches
            .borrow_mut()
            .add(poll.registry(), fd, interest, callback)
    }

    /// Stops watching a descriptor added with `add_reader` or `add_writer`.
    pub fn remove_watch(&self, id: WatchId) -> std::io::Result<()> {
        let removed = {
            let poll = self.inner.poll.borrow();
            self.inner
                .watches
                .borrow_mut()
                .remove(poll.registry(), id)?
        };
        drop(removed);
        Ok(())
    }

    /// How long the reactor may sleep before it needs a turn: zero if work
    /// is ready, the time to the next timer, or `None` if only an event can
    /// wake it. For host loops driving the reactor with `run_once`.
    pub fn next_timeout(&self) -> Option<Duration> {
        let inner = &*self.inner;
        if inner.stop_requested.get()
            || inner.shared.has_work()
            || inner.state.get() == RunState::Finished
        {
            return Some(Duration::ZERO);
        }
        let now = Instant::now();
        let mut timeout = inner
            .timers
            .next_deadline()
            .map(|deadline| deadline.saturating_duration_since(now));
        if let Some(wait) = &*inner.shutdown.borrow() {
            let left = wait.deadline.saturating_duration_since(now);
            timeout = Some(timeout.map_or(left, |t| t.min(left)));
        }
        timeout
    }

    /// Runs one turn of the loop: due work, then one poll for I/O that waits
    /// at most `timeout` (and never past the next timer).
    pub fn run_once(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        let turned = self.turn(timeout);
        // A host loop learns of work from the descriptor: a task woken
        // inside the turn, which skipped the wake-up write, gets it now.
        self.inner.shared.announce_turn_wakes();
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
        self.run_cross_thread_calls();
        self.run_due_timers();
        self.poll_woken_tasks();
        self.advance_shutdown();
        if self.is_finished() {
            return Ok(());
        }
        let wait = match (self.next_timeout(), timeout) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.poll_io(wait)
    }

    fn run_cross_thread_calls(&self) {
        let mut batch = std::mem::take(&mut *self.inner.call_batch.borrow_mut());
        self.inner.shared.take_calls(&mut batch);
        for posted in batch.drain(..) {
            let ran = match posted {
                Posted::Call(call) => catch_panic(|| call(self)),
                Posted::Completion(completion) => catch_panic(|| completion.complete(self)),
            };
            if let Err(failure) = ran {
                tracing::error!(%failure, what = "call from thread", "panic in a call from another thread");
            }
        }
        *self.inner.call_batch.borrow_mut() = batch;
    }

    fn run_due_timers(&self) {
        let timers = &self.inner.timers;
        let barrier = timers.sequence_barrier();
        let now = Instant::now();
        while let Some(call) = timers.pop_due(now, barrier) {
            if let Err(failure) = catch_panic(|| call.run()) {
                tracing::error!(%failure, what = "timed call", "panic in a timed call");
            }
        }
    }

    fn poll_woken_tasks(&self) {
        let executor = &self.inner.executor;
        let mut woken = std::mem::take(&mut *executor.woken_buffer());
        self.inner.shared.take_woken(&mut woken);
        woken.sort_unstable();
        woken.dedup();
        executor.poll_woken(&mut woken);
        *executor.woken_buffer() = woken;
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
        tokens.extend(
            events
                .iter()
                .map(|event| (event.token(), Readiness::of(event))),
        );
        drop(events);
        for (token, readiness) in tokens.drain(..) {
            match token {
                WAKER_TOKEN => {}
                SIGNAL_TOKEN => self.handle_signal(),
                token => self.run_watch(token, readiness),
            }
        }
        *self.inner.ready_tokens.borrow_mut() = tokens;
        Ok(())
    }

    fn handle_signal(&self) {
        let signalled = self
            .inner
            .signals
            .borrow_mut()
            .as_mut()
            .is_some_and(SignalPipe::drain);
        if signalled {
            tracing::info!("received a stop signal; shutting down");
            let _ = self.stop();
        }
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

    fn run_phase(&self, event: SystemEvent, phase: Phase) -> Vec<Deferred<()>> {
        let mut waits = Vec::new();
        loop {
            let next = self.inner.triggers.borrow_mut().pop(event, phase);
            let Some(trigger) = next else { break };
            waits.extend(run_trigger(trigger, event, phase));
        }
        waits
    }

    /// Starts shutdown if it was asked for, and finishes it once the
    /// before-shutdown Deferreds have fired or the timeout has passed.
    fn advance_shutdown(&self) {
        let inner = &*self.inner;
        if inner.stop_requested.get() && inner.state.get() == RunState::Running {
            inner.state.set(RunState::Stopping);
            let waits = self.run_phase(SystemEvent::Shutdown, Phase::Before);
            let outstanding = Rc::new(Cell::new(waits.len()));
            for wait in waits {
                let counter = outstanding.clone();
                drop(wait.map(move |()| counter.set(counter.get() - 1)));
            }
            *inner.shutdown.borrow_mut() = Some(ShutdownWait {
                outstanding,
                deadline: Instant::now() + inner.shutdown_timeout.get(),
            });
        }
        let ready = match &*inner.shutdown.borrow() {
            None => return,
            Some(wait) if wait.outstanding.get() == 0 => true,
            Some(wait) if Instant::now() >= wait.deadline => {
                tracing::warn!(
                    outstanding = wait.outstanding.get(),
                    "shutdown timed out waiting for before-shutdown triggers"
                );
                true
            }
            Some(_) => false,
        };
        if ready {
            *inner.shutdown.borrow_mut() = None;
            self.run_phase(SystemEvent::Shutdown, Phase::During);
            self.run_phase(SystemEvent::Shutdown, Phase::After);
            self.finish();
        }
    }

    /// The reactor is done: refuse further cross-thread calls and drop what
    /// can never run now (which also breaks reference cycles through it).
    fn finish(&self) {
        let inner = &*self.inner;
        inner.state.set(RunState::Finished);
        inner.shared.close();
        inner.timers.clear();
        inner.executor.clear();
        inner.threads.finish();
        let watches = {
            let poll = inner.poll.borrow();
            inner.watches.borrow_mut().clear(poll.registry())
        };
        for watch in &watches {
            if let io::Watch::Source(source) = watch {
                source.shutdown(self);
            }
        }
        drop(watches);
        // Closing connections may have scheduled calls; none will run.
        inner.timers.clear();
        drop(inner.signals.borrow_mut().take());
    }

    /// Registers a source under a fresh token (see [`Watches::add_source`]).
    pub(crate) fn add_source<S: IoSource + 'static>(
        &self,
        make: impl FnOnce(&mio::Registry, Token) -> std::io::Result<Rc<S>>,
    ) -> std::io::Result<Rc<S>> {
        let poll = self.inner.poll.borrow();
        self.inner
            .watches
            .borrow_mut()
            .add_source(|token| make(poll.registry(), token))
    }

    /// Runs the source's `settle` on the next turn, once no callback is on
    /// the stack.
    pub(crate) fn settle_later(&self, token: Token) {
        let weak = self.downgrade();
        self.call_later(Duration::ZERO, move || {
            let Some(reactor) = weak.upgrade() else {
                return;
            };
            let source = reactor.source(token);
            if let Some(source) = source {
                source.settle(&reactor);
            }
        });
    }

    pub(crate) fn source(&self, token: Token) -> Option<Rc<dyn IoSource>> {
        self.inner.watches.borrow().source(token)
    }

    pub(crate) fn threads(&self) -> &crate::threads::ReactorThreads {
        &self.inner.threads
    }

    /// The table of Deferreds waiting for threads, as their cancellers
    /// reach it: weakly, so a pending Deferred does not keep the reactor.
    pub(crate) fn thread_results_table(&self) -> Weak<dyn CancelEntry> {
        let weak: Weak<Inner> = Rc::downgrade(&self.inner);
        weak
    }

    pub(crate) fn downgrade(&self) -> WeakReactor {
        WeakReactor(Rc::downgrade(&self.inner))
    }

    /// Deregisters `source` and forgets its token.
    pub(crate) fn remove_source(&self, token: Token, fd: RawFd) {
        let _ = self
            .inner
            .poll
            .borrow()
            .registry()
            .deregister(&mut mio::unix::SourceFd(&fd));
        let removed = self.inner.watches.borrow_mut().remove_source(token);
        drop(removed);
    }

    /// Lends the shared read buffer (`size` bytes long) to `f`. A nested
    /// loop turn inside `f` finds the buffer lent out and uses a fresh one.
    pub(crate) fn with_read_buffer<R>(&self, size: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
        let mut buffer = std::mem::take(&mut *self.inner.read_buffer.borrow_mut());
        if buffer.len() < size {
            buffer.resize(size, 0);
        }
        let result = f(&mut buffer[..size]);
        *self.inner.read_buffer.borrow_mut() = buffer;
        result
    }

    /// Counts of what the reactor holds, for diagnostics and tests.
    pub fn stats(&self) -> ReactorStats {
        ReactorStats {
            pending_calls: self.inner.timers.len(),
            tasks: self.inner.executor.len(),
            watches: self.inner.watches.borrow().callbacks(),
            sources: self.inner.watches.borrow().sources(),
        }
    }

    /// The calls still pending on this reactor, earliest first.
    pub fn pending_calls(&self) -> Vec<DelayedCall> {
        self.inner.timers.pending()
    }
}

thread_local! {
    /// What [`Reactor::current`] answers on this thread.
    static CURRENT: RefCell<Weak<Inner>> = const { RefCell::new(Weak::new()) };
}

/// A reactor reference that does not keep it alive; connections hold one so
/// that a dropped reactor frees them.
#[derive(Clone)]
pub(crate) struct WeakReactor(Weak<Inner>);

impl WeakReactor {
    pub(crate) fn upgrade(&self) -> Option<Reactor> {
        self.0.upgrade().map(|inner| Reactor { inner })
    }
}

/// What a reactor holds right now (see [`Reactor::stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReactorStats {
    /// Scheduled calls not yet run or cancelled.
    pub pending_calls: usize,
    /// Spawned tasks not yet finished.
    pub tasks: usize,
    /// Descriptors watched with `add_reader` / `add_writer`.
    pub watches: usize,
    /// Connections and listening ports open on this reactor.
    pub sources: usize,
}

impl Scheduler for Reactor {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn call_later_boxed(&self, delay: Duration, func: Box<dyn FnOnce()>) -> DelayedCall {
        self.inner.timers.call_later(delay, func)
    }

    fn call_later<F>(&self, delay: Duration, func: F) -> DelayedCall
    where
        F: FnOnce() + 'static,
    {
        self.inner.timers.call_later(delay, func)
    }
}

impl AsRawFd for Reactor {
    /// The poller's descriptor: readable when the reactor has I/O or
    /// cross-thread work. Timers are not reflected in it; a host loop also
    /// honours [`Reactor::next_timeout`].
    fn as_raw_fd(&self) -> RawFd {
        self.inner.poll.borrow().as_raw_fd()
    }
}

impl fmt::Debug for Reactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reactor")
            .field("state", &self.inner.state.get())
            .field("stats", &self.stats())
            .finish()
    }
}

impl CancelEntry for Inner {
    fn cancel_entry(&self, key: EntryKey) {
        self.threads.results().cancel(key.into());
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.close();
    }
}

#[cfg(test)]
mod tests;
