//! The reactor: one thread's event loop.
//!
//! A [`Reactor`] waits for events (a readable or writable descriptor, a due
//! timer, a call posted from another thread, a woken task) and runs the code
//! interested in them, one turn at a time:
//!
//! ```text
//!   +--> 1. calls posted from other threads (the batch present now)
//!   |    2. due timers (not those scheduled during this pass)
//!   |    3. sources settling work put off from the last turn
//!   |    4. woken tasks (futures spawned with Reactor::spawn)
//!   |    5. shutdown progress, if stopping
//!   +--- 6. poll I/O, blocking until the next timer at most
//!           and run readiness callbacks (and stop signals)
//! ```
//!
//! Everything on the loop is `!Send`; other threads reach it through a
//! [`ReactorHandle`]. A panic in anything the loop runs is caught and logged
//! with what was running, and the loop goes on.
//!
//! ```
//! use std::time::Duration;
//! use torsion::Reactor;
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
//! [`Reactor::run`] stops gracefully on SIGINT and SIGTERM (see
//! [`Signals`], and [`Reactor::stop`] for the order of shutdown).
//!
//! # Embedding in another loop
//!
//! Another event loop (a GUI toolkit's, another runtime's) can drive a
//! reactor instead of [`Reactor::run`], with four calls:
//!
//! 1. [`Reactor::start`] once: the startup event runs;
//! 2. watch the descriptor from [`AsRawFd`] for readability: it becomes
//!    readable on I/O, on a call or stop posted from another thread, on a
//!    task woken during a turn, and on a stop signal once
//!    [`Reactor::install_signal_handlers`] took them;
//! 3. whenever it is readable, or [`Reactor::next_timeout`] has passed
//!    (the time to the next timer, zero when work is ready now, `None`
//!    when only an event can wake the reactor), call
//!    [`Reactor::run_once`]`(Some(Duration::ZERO))`;
//! 4. after [`Reactor::stop`] (or a handle's or a signal's), go on turning
//!    until [`Reactor::is_finished`]: the shutdown event runs over several
//!    turns (it may wait for before-shutdown Deferreds), and
//!    `next_timeout` keeps saying when the next one is due.
//!
//! ```
//! use std::os::fd::AsRawFd;
//! use std::time::{Duration, Instant};
//! use torsion::Reactor;
//!
//! let reactor = Reactor::new()?;
//! let r = reactor.clone();
//! reactor.call_later(Duration::from_millis(5), move || r.stop().unwrap());
//! let _watched = reactor.as_raw_fd(); // a real host polls this
//! reactor.start()?;
//! while !reactor.is_finished() {
//!     // The host's own wait; here, a sleep until the reactor's deadline.
//!     let wait = reactor.next_timeout().unwrap_or(Duration::from_millis(100));
//!     std::thread::sleep(wait);
//!     reactor.run_once(Some(Duration::ZERO))?;
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A host whose loop runs tasks (an async runtime) may also hand the
//! reactor its task's waker with [`Reactor::set_host_waker`]: wake-ups
//! made on the reactor's thread between turns then wake that task instead
//! of making the descriptor readable, which saves a system call on each
//! side (`torsion-tokio` does this).
//!
//! The `host_loop` example drives a reactor from a hand-written mio loop
//! with its own timer and socket, and `torsion-glib` from a glib
//! `MainContext`.
//!
//! Other layers keep their state on a reactor in typed
//! [extension slots](Extension) (the default thread pool is one), so the
//! reactor depends on none of them.

mod backend;
mod executor;
mod extensions;
mod handle;
pub mod introspect;
mod io;
mod ring;
mod shutdown;
mod signals;
mod spin;
mod thread_results;
mod triggers;
mod turn;
mod woken_ids;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token};

use crate::defer::CancelProgress;
use crate::error::ReactorError;
use crate::sync::Arc;
use crate::time::queue::{TimeSource, TimerQueue};
use crate::time::{DelayedCall, Scheduler};
use crate::{Deferred, Failure};

pub use backend::{BACKEND_ENV, Backend, UnknownBackend};
pub use extensions::Extension;
pub use handle::ReactorHandle;
pub use introspect::Snapshot;
pub use io::WatchId;
pub use shutdown::DEFAULT_SHUTDOWN_TIMEOUT;
pub use signals::Signals;
pub use spin::DEFAULT_SPIN_BEFORE_SLEEP;
pub use triggers::{Phase, SystemEvent, TriggerId, TriggerOutput};

pub(crate) use handle::Completion;
// The thread pool's loom model drives the queue directly.
#[cfg(all(test, loom))]
pub(crate) use handle::{Posted, Shared};
#[cfg(not(all(test, loom)))]
use handle::{Posted, Shared};
pub(crate) use io::{IoSource, Readiness};
use io::{WAKER_TOKEN, Watches};
pub(crate) use ring::{AcceptDone, AcceptKey, OpDone, SendDone, SendKey};
use shutdown::ShutdownWait;
pub(crate) use signals::ChildSignals;
use signals::SignalClaim;
pub(crate) use thread_results::{Cancellable, SlotKey, ThreadResults};
use triggers::Triggers;

const EVENTS_CAPACITY: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunState {
    NotStarted,
    Running,
    Stopping,
    Finished,
}

struct Inner {
    poll: RefCell<Poll>,
    /// The io_uring backend's ring, which takes connections' writes.
    ring: Option<ring::Ring>,
    /// Reused buffer for the operations the ring hands back.
    completions: RefCell<Vec<ring::Completion>>,
    events: RefCell<Events>,
    /// The last poll filled `events`: more descriptors may be ready, which
    /// the poller's descriptor need not announce again to a host loop.
    io_backlog: Cell<bool>,
    timers: TimerQueue,
    shared: Arc<Shared>,
    state: Cell<RunState>,
    stop_requested: Cell<bool>,
    shutdown: RefCell<Option<ShutdownWait>>,
    shutdown_timeout: Cell<Duration>,
    /// A second stop signal said not to wait for the before-shutdown
    /// triggers.
    hurry: Cell<bool>,
    triggers: RefCell<Triggers>,
    executor: executor::Executor,
    watches: RefCell<Watches>,
    /// SIGINT and SIGTERM, while this reactor holds them.
    signals: RefCell<Option<SignalClaim>>,
    /// Sources whose `settle` runs next turn (the ready queue).
    settles: RefCell<Vec<Token>>,
    /// Spinning before sleeping after cross-thread work.
    spin: spin::Spin,
    /// Reused buffers, so a turn allocates nothing.
    settle_batch: RefCell<Vec<Token>>,
    call_batch: RefCell<Vec<Posted>>,
    ready_tokens: RefCell<Vec<(Token, Readiness)>>,
    /// The one buffer every connection reads into.
    read_buffer: RefCell<Vec<u8>>,
    /// State other layers keep here (the default thread pool, ...).
    extensions: extensions::Extensions,
    /// Deferreds that work on other threads fires.
    thread_results: Rc<ThreadResults>,
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
    /// A new reactor, not yet running, on the backend the
    /// `TORSION_BACKEND` environment variable names (epoll when unset; see
    /// [`Backend`] and [`with_backend`](Reactor::with_backend)).
    pub fn new() -> std::io::Result<Reactor> {
        Reactor::build(EVENTS_CAPACITY, Backend::from_env())
    }

    /// A reactor that takes at most `capacity` I/O events per poll (tests
    /// use a small one to see what happens when more are ready).
    #[cfg(test)]
    pub(crate) fn with_events_capacity(capacity: usize) -> std::io::Result<Reactor> {
        Reactor::build(capacity, Backend::from_env())
    }

    fn build(capacity: usize, backend: Backend) -> std::io::Result<Reactor> {
        let poll = Poll::new()?;
        let ring = backend::open_ring(backend);
        let waker = mio::Waker::new(poll.registry(), WAKER_TOKEN)?;
        let reactor = Reactor {
            inner: Rc::new(Inner {
                poll: RefCell::new(poll),
                ring,
                completions: RefCell::new(Vec::new()),
                events: RefCell::new(Events::with_capacity(capacity)),
                io_backlog: Cell::new(false),
                timers: TimerQueue::new(TimeSource::Monotonic),
                shared: Arc::new(Shared::new(waker)),
                state: Cell::new(RunState::NotStarted),
                stop_requested: Cell::new(false),
                shutdown: RefCell::new(None),
                shutdown_timeout: Cell::new(DEFAULT_SHUTDOWN_TIMEOUT),
                hurry: Cell::new(false),
                triggers: RefCell::new(Triggers::default()),
                executor: executor::Executor::default(),
                watches: RefCell::new(Watches::default()),
                signals: RefCell::new(None),
                settles: RefCell::new(Vec::new()),
                spin: spin::Spin::default(),
                settle_batch: RefCell::new(Vec::new()),
                call_batch: RefCell::new(Vec::new()),
                ready_tokens: RefCell::new(Vec::with_capacity(capacity)),
                read_buffer: RefCell::new(Vec::new()),
                extensions: extensions::Extensions::default(),
                thread_results: Rc::default(),
            }),
        };
        // A host loop waits for the deadline it last read from
        // next_timeout: an earlier timer scheduled between turns (from the
        // host's own callbacks) must wake it. The queue holds the
        // cross-thread half strongly: that owns nothing leading back to
        // the queue, so no cycle keeps either alive.
        let shared = reactor.inner.shared.clone();
        reactor
            .inner
            .timers
            .on_new_earliest(move || shared.wake_outside_turn());
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

    /// Runs a `!Send` future on this reactor and returns a Deferred of its
    /// result (Twisted's `ensureDeferred`: async/await is torsion's
    /// `inlineCallbacks`). Cancelling the Deferred cancels the Deferred the
    /// future awaits at that moment, so the future meets `Cancelled` at its
    /// `.await`, may handle it, and the Deferred fires with what it then
    /// returns; a future awaiting no Deferred is dropped and the Deferred
    /// fails with `Cancelled`. A panic in the future fails the Deferred and
    /// is logged.
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
                Rc::new(move || match weak.upgrade() {
                    Some(inner) => inner.executor.cancel(id),
                    None => CancelProgress::Stopped,
                })
            })
    }

    /// Runs a `!Send` future on this reactor that nobody waits for: what
    /// [`spawn`](Self::spawn) does without the Deferred, so without its
    /// cost (a connection's task, a stream of an HTTP/2 connection). It
    /// cannot be cancelled; it ends when it finishes, or is dropped when
    /// the reactor finishes. A panic in it is logged.
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use torsion::Reactor;
    ///
    /// let reactor = Reactor::new()?;
    /// let ran = Rc::new(Cell::new(false));
    /// let (r, flag) = (reactor.clone(), ran.clone());
    /// reactor.spawn_detached(async move {
    ///     flag.set(true);
    ///     r.stop().unwrap();
    /// });
    /// reactor.run()?;
    /// assert!(ran.get());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn spawn_detached<F>(&self, future: F)
    where
        F: Future<Output = ()> + 'static,
    {
        self.inner
            .executor
            .spawn_detached(&self.inner.shared, future);
    }

    /// Schedules `func` to run `delay` from now on this reactor (Twisted's
    /// `callLater`); the [`DelayedCall`] cancels, resets or delays it. The
    /// same as [`Scheduler::call_later`], without importing the trait; code
    /// that should also run on a [`Clock`](crate::testing::Clock) takes a
    /// `Scheduler` instead.
    ///
    /// ```
    /// use std::time::Duration;
    /// use torsion::Reactor;
    ///
    /// let reactor = Reactor::new()?;
    /// let r = reactor.clone();
    /// reactor.call_later(Duration::from_millis(1), move || r.stop().unwrap());
    /// reactor.run()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn call_later<F>(&self, delay: Duration, func: F) -> DelayedCall
    where
        F: FnOnce() + 'static,
    {
        self.inner.timers.call_later(delay, func)
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
    /// the stack: a token pushed on the ready queue, where a zero-delay
    /// timer would box a closure and go through the timer heap.
    pub(crate) fn settle_later(&self, token: Token) {
        self.inner.settles.borrow_mut().push(token);
    }

    pub(crate) fn source(&self, token: Token) -> Option<Rc<dyn IoSource>> {
        self.inner.watches.borrow().source(token)
    }

    /// The Deferreds that work on other threads fires (see
    /// [`Completion`]).
    #[inline]
    pub(crate) fn thread_results(&self) -> &Rc<ThreadResults> {
        &self.inner.thread_results
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
            ring_accepts: self.ring().map_or(0, ring::Ring::accepted),
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
    /// Connections the io_uring backend's ring accepted for listening
    /// ports since the reactor was built, served or not (a port that
    /// closed meanwhile closes them); always 0 on epoll, or where ports
    /// accept by readiness.
    pub ring_accepts: u64,
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
        Reactor::call_later(self, delay, func)
    }
}

impl Reactor {
    /// For a host loop that drives the reactor from a task of its own (an
    /// async runtime's; see [embedding](crate::reactor#embedding-in-another-loop)):
    /// while `Some`, work that reaches the reactor from its own thread
    /// between turns (a task woken by one of the host's futures, a call
    /// posted, a new earliest timer, a stop) wakes `waker` instead of
    /// making the descriptor readable, so the host does not have to poll
    /// its own poller to learn of it. Wake-ups from other threads still
    /// make the descriptor readable, so the host watches it as before.
    /// Once woken, the host should turn the reactor (`run_once`) and
    /// recompute its deadline. `None` goes back to the descriptor alone;
    /// a host sets it before it stops driving the reactor.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::task::{Wake, Waker};
    /// use std::time::Duration;
    /// use torsion::Reactor;
    ///
    /// struct Count(AtomicUsize);
    /// impl Wake for Count {
    ///     fn wake(self: Arc<Self>) {
    ///         self.0.fetch_add(1, Ordering::Relaxed);
    ///     }
    /// }
    ///
    /// let reactor = Reactor::new()?;
    /// reactor.start()?;
    /// reactor.run_once(Some(Duration::ZERO))?;
    /// let host = Arc::new(Count(AtomicUsize::new(0)));
    /// reactor.set_host_waker(Some(Waker::from(host.clone())));
    /// // Between turns, on the reactor's thread: the host task is woken.
    /// reactor.call_later(Duration::ZERO, || ());
    /// assert_eq!(host.0.load(Ordering::Relaxed), 1);
    /// reactor.set_host_waker(None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_host_waker(&self, waker: Option<std::task::Waker>) {
        self.inner.shared.set_host_waker(waker);
    }

    /// A duplicate of the poller's descriptor (see [`AsRawFd`]), owned by
    /// the caller: for a host loop whose API takes an owned descriptor
    /// (tokio's `AsyncFd`), which it may close whenever it likes.
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use torsion::Reactor;
    ///
    /// let reactor = Reactor::new()?;
    /// let fd = reactor.poller_fd()?;
    /// assert_ne!(fd.as_raw_fd(), reactor.as_raw_fd());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn poller_fd(&self) -> std::io::Result<std::os::fd::OwnedFd> {
        self.inner
            .poll
            .borrow()
            .registry()
            .as_fd()
            .try_clone_to_owned()
    }

    /// The io_uring backend's ring, if this reactor waits on one.
    pub(crate) fn ring(&self) -> Option<&ring::Ring> {
        self.inner.ring.as_ref()
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

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.close();
    }
}

#[cfg(test)]
mod host_tests;
#[cfg(test)]
mod io_tests;
#[cfg(test)]
mod shutdown_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
