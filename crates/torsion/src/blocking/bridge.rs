//! [`Bridge`]: blocking code's door to one reactor. It queues each
//! operation on the reactor thread as a [`Job`], follows the operation's
//! Deferred there, and fills the [`EventualResult`] the caller holds.

use std::fmt;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::operation::IntoEventual;
use super::result::{Core, EventualResult, Owner};
use super::{BridgeError, StartError, pending, registry};
use crate::defer::Outcome;
use crate::error::Cancelled;
use crate::failure::catch_panic;
use crate::reactor::{Phase, Signals, SystemEvent};
use crate::sync::{Arc, AtomicBool, Condvar, Mutex, Ordering, lock};
use crate::{Deferred, Failure, Reactor, ReactorHandle};

/// Bridge ids, for telling apart the operations of several bridges on one
/// thread. Not part of the modelled core, so a plain std atomic (loom's
/// cannot be made in a `static`).
static NEXT_BRIDGE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// What the bridge shares between its reactor thread and everyone else.
pub(crate) struct BridgeInner {
    pub(super) id: u64,
    handle: ReactorHandle,
    /// Set on the reactor thread when shutdown begins; from then on no new
    /// operation starts.
    stopped: AtomicBool,
    finished: Mutex<bool>,
    finished_changed: Condvar,
    /// The background thread, when the bridge started one.
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl BridgeInner {
    /// On the reactor thread, as shutdown begins: refuse new work and fire
    /// every pending result with "reactor stopped".
    fn reactor_stopping(&self) {
        self.stopped.store(true, Ordering::Release);
        pending::stop_all(self.id);
    }

    fn mark_finished(&self) {
        self.stopped.store(true, Ordering::Release);
        *lock(&self.finished) = true;
        self.finished_changed.notify_all();
    }

    /// Waits until the reactor has finished, at most `timeout`.
    fn wait_finished(&self, timeout: Duration) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        let mut finished = lock(&self.finished);
        while !*finished {
            let remaining = match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(3600),
            };
            if remaining.is_zero() {
                return false;
            }
            finished = self
                .finished_changed
                .wait_timeout(finished, remaining)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
        true
    }
}

impl Owner for BridgeInner {
    fn id(&self) -> u64 {
        self.id
    }

    fn is_reactor_thread(&self) -> bool {
        self.handle.is_reactor_thread()
    }

    fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    /// Asks the reactor thread to cancel the operation behind result `id`.
    fn cancel(&self, id: u64) {
        if self.is_reactor_thread() {
            pending::cancel(id);
        } else {
            // If the reactor has stopped, the result is already (or is
            // about to be) "reactor stopped".
            let _ = self.handle.call_from_thread(move |_| pending::cancel(id));
        }
    }
}

/// A function waiting in the reactor's queue. If it is dropped without
/// running (the reactor stopped first), its result becomes "reactor
/// stopped".
///
/// The bridge is reached through the result's own reference to it: every
/// other count taken on the bridge would be one more atomic add on a cache
/// line that the caller's thread and the reactor's thread both write.
struct Job<F, T> {
    f: Option<F>,
    core: Arc<Core<T>>,
}

impl<F, T: Send + 'static> Job<F, T> {
    fn run<R, M>(mut self, reactor: &Reactor)
    where
        F: FnOnce(Reactor) -> R,
        R: IntoEventual<M, Output = T>,
    {
        let f = self.f.take().expect("a job runs once");
        let core = &self.core;
        let Some(bridge) = &core.bridge else {
            unreachable!("a job is sent to its bridge's reactor");
        };
        if bridge.is_stopped() {
            core.complete(Err(BridgeError::ReactorStopped));
            return;
        }
        if core.cancel_requested() {
            core.complete(Err(BridgeError::failed(Failure::new(Cancelled))));
            return;
        }
        // A plain result completes at once; a Deferred is followed.
        let deferred = match catch_panic(|| f(reactor.clone()).into_outcome(reactor)) {
            Ok(Outcome::Ready(result)) => {
                core.complete(result.map_err(BridgeError::failed));
                return;
            }
            Ok(Outcome::Wait(deferred)) => deferred,
            Err(failure) => {
                core.complete(Err(BridgeError::failed(failure)));
                return;
            }
        };
        follow(bridge.id(), core.clone(), deferred);
    }
}

/// Fills `core` with `deferred`'s result when it fires, and lets the
/// result's `cancel` reach the Deferred meanwhile. On the reactor thread.
fn follow<T: Send + 'static>(bridge: u64, core: Arc<Core<T>>, deferred: Deferred<T>) {
    let id = core.id;
    if !deferred.is_fired() {
        pending::track(
            id,
            pending::Entry {
                bridge,
                cancel: deferred.cancel_handle(),
                result: core.clone(),
            },
        );
    }
    drop(deferred.both(move |result| {
        pending::untrack(id);
        core.complete(result.map_err(BridgeError::failed));
        Ok::<(), Failure>(())
    }));
}

impl<F, T> Drop for Job<F, T> {
    fn drop(&mut self) {
        if self.f.is_some() {
            self.core.complete(Err(BridgeError::ReactorStopped));
        }
    }
}

/// A bridge from blocking code to one reactor: what the process-wide
/// functions of this module use, available on its own for tests and for
/// programs with more than one reactor.
///
/// Cheap to clone, `Send` and `Sync`.
///
/// ```
/// use std::time::Duration;
/// use torsion::Failure;
/// use torsion::blocking::Bridge;
///
/// let bridge = Bridge::start()?;
/// let answer = bridge.wait_for(Duration::from_secs(5), |_reactor| Ok::<_, Failure>(42))?;
/// assert_eq!(answer, 42);
/// bridge.shutdown(Duration::from_secs(5))?;
/// assert!(bridge.run_in_reactor(|_| Ok::<_, Failure>(1)).wait(Duration::from_secs(1))
///     .unwrap_err()
///     .is_reactor_stopped());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Bridge {
    inner: Arc<BridgeInner>,
}

impl Bridge {
    /// Starts a new reactor on a background thread named `torsion-reactor`
    /// and returns the bridge to it. The reactor runs until
    /// [`shutdown`](Bridge::shutdown) (or until something on it calls
    /// `stop`).
    pub fn start() -> Result<Bridge, BridgeError> {
        Bridge::start_with(Signals::LeaveAlone)
    }

    /// `signals` says whether Ctrl-C stops this reactor: the process-wide
    /// bridge of `setup` takes SIGINT and SIGTERM (when nothing else has),
    /// a bridge of the program's own leaves them to the program.
    pub(super) fn start_with(signals: Signals) -> Result<Bridge, BridgeError> {
        Bridge::start_on(signals, Reactor::new)
    }

    /// A bridge to a new reactor on a background thread called `name`
    /// that leaves signals alone: one reactor of a
    /// [`ReactorPool`](crate::reactor_pool::ReactorPool).
    pub(crate) fn start_named(name: String) -> Result<Bridge, BridgeError> {
        Bridge::spawn(name, Signals::LeaveAlone, Reactor::new)
    }

    /// [`start_with`](Bridge::start_with) with the reactor made by
    /// `make_reactor` on the new thread, so that tests can make that fail.
    pub(super) fn start_on(
        signals: Signals,
        make_reactor: fn() -> std::io::Result<Reactor>,
    ) -> Result<Bridge, BridgeError> {
        Bridge::spawn("torsion-reactor".to_owned(), signals, make_reactor)
    }

    fn spawn(
        name: String,
        signals: Signals,
        make_reactor: fn() -> std::io::Result<Reactor>,
    ) -> Result<Bridge, BridgeError> {
        let start_error = |error: StartError| BridgeError::Start(std::sync::Arc::new(error));
        let (sender, receiver) = std::sync::mpsc::channel();
        let thread = thread::Builder::new()
            .name(name)
            .spawn(move || {
                let reactor = match make_reactor() {
                    Ok(reactor) => reactor,
                    Err(error) => {
                        let _ = sender.send(Err(error));
                        return;
                    }
                };
                let bridge = Bridge::for_reactor(&reactor);
                let finished = Finished(bridge.inner.clone());
                let _ = sender.send(Ok(bridge));
                if let Err(error) = reactor.run_with(signals) {
                    tracing::error!(%error, "the bridge's reactor failed");
                }
                drop(reactor);
                drop(finished);
            })
            .map_err(|error| start_error(StartError::Spawn(error)))?;
        let bridge = match receiver.recv() {
            Ok(Ok(bridge)) => bridge,
            Ok(Err(error)) => return Err(start_error(StartError::Reactor(error))),
            // The sender went with the thread: it panicked first.
            Err(_) => return Err(start_error(StartError::ThreadEnded)),
        };
        *lock(&bridge.inner.thread) = Some(thread);
        Ok(bridge)
    }

    /// A bridge to `reactor`, which the caller runs (on this thread, the
    /// reactor's). When the reactor shuts down, every result still pending
    /// becomes [`BridgeError::ReactorStopped`] (in the before-shutdown
    /// phase, so threads blocked on them wake before anything waits for
    /// them), and [`shutdown`](Bridge::shutdown) returns once the reactor
    /// has finished.
    pub fn for_reactor(reactor: &Reactor) -> Bridge {
        let inner = Arc::new(BridgeInner {
            id: NEXT_BRIDGE.fetch_add(1, Ordering::Relaxed),
            handle: reactor.handle(),
            stopped: AtomicBool::new(false),
            finished: Mutex::new(false),
            finished_changed: Condvar::new(),
            thread: Mutex::new(None),
        });
        reactor.extension::<pending::BridgeFigures>();
        let weak = Arc::downgrade(&inner);
        reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, move || {
            if let Some(inner) = weak.upgrade() {
                inner.reactor_stopping();
            }
        });
        let weak = Arc::downgrade(&inner);
        reactor.add_system_event_trigger(Phase::After, SystemEvent::Shutdown, move || {
            if let Some(inner) = weak.upgrade() {
                inner.mark_finished();
            }
        });
        Bridge { inner }
    }

    /// Runs `f` on the reactor thread, with a handle to the reactor, and
    /// returns its eventual result at once (crochet's `run_in_reactor`).
    /// `f` returns a [`Deferred`](crate::Deferred), a future (so an
    /// `async fn` taking the [`Reactor`] is passed as it is), or a `Result`
    /// for an immediate value or failure; a panic in `f` becomes a failure.
    ///
    /// If the reactor has stopped, the result is
    /// [`BridgeError::ReactorStopped`] straight away.
    pub fn run_in_reactor<F, R, M>(&self, f: F) -> EventualResult<R::Output>
    where
        F: FnOnce(Reactor) -> R + Send + 'static,
        R: IntoEventual<M>,
    {
        if self.is_stopped() {
            return EventualResult::failed(BridgeError::ReactorStopped, Some(self.owner()));
        }
        let core = Core::pending(Some(self.owner()));
        let job = Job {
            f: Some(f),
            core: core.clone(),
        };
        // If the reactor is gone the job is dropped unrun, which fires the
        // result with "reactor stopped".
        let _ = self
            .inner
            .handle
            .call_awaited_from_thread(move |reactor| job.run(reactor));
        EventualResult::new(core)
    }

    /// The eventual result of a Deferred that already exists on the
    /// reactor thread (crochet's `EventualResult(deferred)`), for code on
    /// another thread to wait for or await: torsion code that hands an
    /// operation it started to a thread or to another event loop.
    /// [`cancel`](EventualResult::cancel) cancels `deferred`, and when the
    /// reactor stops first the result is [`BridgeError::ReactorStopped`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use torsion::blocking::Bridge;
    /// use torsion::time::defer_later;
    /// use torsion::{Failure, Reactor};
    ///
    /// let reactor = Reactor::new()?;
    /// let bridge = Bridge::for_reactor(&reactor);
    /// let later = defer_later(&reactor, Duration::from_millis(5), || Ok::<_, Failure>(7));
    /// let result = bridge.follow(later);
    /// let waiter = std::thread::spawn(move || result.wait(Duration::from_secs(5)));
    /// let r = reactor.clone();
    /// reactor.call_later(Duration::from_millis(20), move || r.stop().unwrap());
    /// reactor.run()?;
    /// assert_eq!(waiter.join().unwrap()?, 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Panics
    ///
    /// Called on any thread but the reactor's (a Deferred of another
    /// reactor), since cancelling could not reach the Deferred.
    pub fn follow<T: Send + 'static>(&self, deferred: Deferred<T>) -> EventualResult<T> {
        assert!(
            self.is_reactor_thread(),
            "Bridge::follow takes a Deferred of the bridge's own reactor thread"
        );
        if self.is_stopped() {
            drop(deferred);
            return EventualResult::failed(BridgeError::ReactorStopped, Some(self.owner()));
        }
        let core = Core::pending(Some(self.owner()));
        follow(self.inner.id, core.clone(), deferred);
        EventualResult::new(core)
    }

    /// Runs `f` on the reactor thread and blocks until its result is there
    /// (crochet's `wait_for`). When `timeout` passes first, the operation
    /// is cancelled and the error is [`BridgeError::TimedOut`]. On the
    /// reactor thread it returns [`BridgeError::OnReactorThread`] without
    /// running `f`.
    pub fn wait_for<F, R, M>(&self, timeout: Duration, f: F) -> Result<R::Output, BridgeError>
    where
        F: FnOnce(Reactor) -> R + Send + 'static,
        R: IntoEventual<M>,
    {
        if self.is_reactor_thread() {
            return Err(BridgeError::OnReactorThread);
        }
        let result = self.run_in_reactor(f);
        match result.take(timeout) {
            Err(BridgeError::TimedOut(timeout)) => {
                result.cancel();
                Err(BridgeError::TimedOut(timeout))
            }
            other => other,
        }
    }

    /// Stops the reactor, runs its shutdown triggers and, for a bridge made
    /// by [`start`](Bridge::start), joins its thread; waits at most
    /// `timeout` for all that. Every pending result becomes
    /// [`BridgeError::ReactorStopped`]. Stashed failures of this bridge
    /// that were never retrieved are logged. Called on the reactor thread
    /// it only asks the reactor to stop (waiting there would deadlock).
    /// Calling it again is harmless.
    pub fn shutdown(&self, timeout: Duration) -> Result<(), BridgeError> {
        let _ = self.inner.handle.stop();
        if self.is_reactor_thread() {
            return Ok(());
        }
        if !self.inner.wait_finished(timeout) {
            return Err(BridgeError::TimedOut(timeout));
        }
        let thread = lock(&self.inner.thread).take();
        if let Some(thread) = thread
            && thread.join().is_err()
        {
            tracing::error!("the bridge's reactor thread panicked");
        }
        registry::report(self.inner.id);
        Ok(())
    }

    /// True once the reactor has begun shutting down: no new operation
    /// starts.
    pub fn is_stopped(&self) -> bool {
        self.inner.stopped.load(Ordering::Acquire) || self.inner.handle.is_closed()
    }

    pub(super) fn id(&self) -> u64 {
        self.inner.id
    }

    fn owner(&self) -> Arc<dyn Owner> {
        self.inner.clone()
    }

    /// True on the reactor thread, where blocking calls are refused.
    pub fn is_reactor_thread(&self) -> bool {
        self.inner.is_reactor_thread()
    }

    /// A handle to the bridge's reactor, for plain
    /// [`call_from_thread`](ReactorHandle::call_from_thread).
    pub fn handle(&self) -> &ReactorHandle {
        &self.inner.handle
    }
}

impl fmt::Debug for Bridge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bridge")
            .field("id", &self.inner.id)
            .field("stopped", &self.is_stopped())
            .finish()
    }
}

/// Marks the background reactor finished when its thread ends, however it
/// ends.
struct Finished(Arc<BridgeInner>);

impl Drop for Finished {
    fn drop(&mut self) {
        self.0.reactor_stopping();
        self.0.mark_finished();
    }
}
