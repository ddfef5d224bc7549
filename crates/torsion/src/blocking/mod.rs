//! Blocking code calling into a reactor that runs behind it (crochet's
//! model): a plain `main`, a synchronous web framework or a CLI starts a
//! reactor on a background thread and hands it work, getting back an
//! [`EventualResult`] to wait on.
//!
//! ```
//! use std::time::Duration;
//! use torsion::blocking;
//! use torsion::time::defer_later;
//! use torsion::Failure;
//!
//! // Once, early in main; the reactor stops when the guard is dropped.
//! let _reactor = blocking::setup()?;
//!
//! // Start an operation on the reactor thread and wait for it here.
//! let greeting = blocking::run_in_reactor(|reactor| {
//!     defer_later(reactor, Duration::from_millis(10), || {
//!         Ok::<_, Failure>("hello from the reactor")
//!     })
//! });
//! println!("{}", greeting.wait(Duration::from_secs(5))?);
//!
//! // Or block with a timeout that also cancels the operation.
//! let too_slow = blocking::wait_for(Duration::from_millis(20), |reactor| {
//!     defer_later(reactor, Duration::from_secs(60), || Ok::<_, Failure>("never"))
//! });
//! assert!(too_slow.unwrap_err().is_timeout());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The pieces:
//!
//! - [`setup`] starts the reactor on a background thread named
//!   `torsion-reactor` (once per process; later calls share it) and returns
//!   a [`BridgeGuard`]. Rust runs no code after `main` returns while other
//!   threads are still alive, so nothing could stop the reactor then: keep
//!   the guard alive in `main`. When the last guard is dropped the reactor
//!   stops, its shutdown triggers run and its thread is joined, exactly as
//!   [`shutdown`] does. Signal handlers are not installed on that reactor.
//! - [`use_reactor`] is for programs that run a reactor themselves: the
//!   bridge sends its work to that reactor instead of starting one.
//! - [`run_in_reactor`] runs a function on the reactor thread and returns
//!   an [`EventualResult`] at once; the function returns a
//!   [`Deferred`](crate::Deferred) or a `Result` (anything
//!   [`IntoDeferred`]).
//! - [`wait_for`] runs a function and blocks for its result; when the
//!   timeout passes the operation is cancelled.
//! - [`EventualResult::stash`] and [`retrieve_result`] park a result under
//!   an id and collect it later, elsewhere, once.
//!
//! Every failure mode is an error value, never a hang: using the bridge
//! before it is set up is [`BridgeError::NotSetUp`]; waiting on the
//! reactor thread, which could never see its result, is
//! [`BridgeError::OnReactorThread`]; when the reactor stops, every result
//! still pending (including those of operations still queued) becomes
//! [`BridgeError::ReactorStopped`] and blocked waiters wake at once, and
//! later calls get that error straight away.
//!
//! The process-wide functions delegate to one global [`Bridge`]; a
//! `Bridge` can also be made on its own ([`Bridge::start`],
//! [`Bridge::for_reactor`]), for tests or for a program with several
//! reactors.

mod result;
mod stash;
#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;
use std::sync::OnceLock;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub use result::EventualResult;

use crate::defer::{CancelHandle, IntoDeferred, Outcome};
use crate::error::Cancelled;
use crate::failure::catch_panic;
use crate::reactor::{DEFAULT_SHUTDOWN_TIMEOUT, Phase, Signals, SystemEvent};
use crate::sync::{Arc, AtomicBool, AtomicU64, Condvar, Mutex, Ordering, lock};
use crate::{Failure, Reactor, ReactorHandle};
use result::{Core, Pending};

/// How long a dropped [`BridgeGuard`] waits for the reactor thread: the
/// reactor's own bound on shutdown triggers, and a little more.
pub const GUARD_SHUTDOWN_TIMEOUT: Duration =
    Duration::from_secs(DEFAULT_SHUTDOWN_TIMEOUT.as_secs() + 5);

/// Why a bridged call produced no value.
#[derive(Debug)]
#[non_exhaustive]
pub enum BridgeError {
    /// Neither [`setup`] nor [`use_reactor`] was called.
    NotSetUp,
    /// [`use_reactor`] was called after the bridge was already set up.
    AlreadySetUp,
    /// The reactor has stopped (or stopped before the operation finished);
    /// it takes no more work.
    ReactorStopped,
    /// No result arrived within the timeout.
    TimedOut(Duration),
    /// A blocking call was made on the reactor thread itself, where it
    /// could only deadlock.
    OnReactorThread,
    /// The result was already handed out by an earlier `wait`, `.await` or
    /// `original_failure`.
    AlreadyRetrieved,
    /// The operation failed; this is its original failure.
    Failed(Failure),
    /// The reactor thread could not be started.
    Start(std::io::Error),
}

impl BridgeError {
    /// The operation's failure, if that is what this is.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            BridgeError::Failed(failure) => Some(failure),
            _ => None,
        }
    }

    /// The operation's failure, by value.
    pub fn into_failure(self) -> Option<Failure> {
        match self {
            BridgeError::Failed(failure) => Some(failure),
            _ => None,
        }
    }

    /// True for [`BridgeError::TimedOut`].
    pub fn is_timeout(&self) -> bool {
        matches!(self, BridgeError::TimedOut(_))
    }

    /// True if the operation failed with
    /// [`Cancelled`].
    pub fn is_cancelled(&self) -> bool {
        self.failure().is_some_and(Failure::is_cancelled)
    }

    /// True for [`BridgeError::ReactorStopped`].
    pub fn is_reactor_stopped(&self) -> bool {
        matches!(self, BridgeError::ReactorStopped)
    }
}

impl fmt::Display for BridgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BridgeError::NotSetUp => f.write_str(
                "the blocking bridge is not set up: call torsion::blocking::setup() \
                 (or use_reactor) first",
            ),
            BridgeError::AlreadySetUp => f.write_str("the blocking bridge is already set up"),
            BridgeError::ReactorStopped => f.write_str("the reactor has stopped"),
            BridgeError::TimedOut(timeout) => {
                write!(f, "no result within {timeout:?}")
            }
            BridgeError::OnReactorThread => f.write_str(
                "a blocking wait on the reactor thread would deadlock; \
                 await the result or chain on the Deferred instead",
            ),
            BridgeError::AlreadyRetrieved => f.write_str("the result was already retrieved"),
            BridgeError::Failed(failure) => write!(f, "the operation failed: {failure}"),
            BridgeError::Start(error) => write!(f, "cannot start the reactor thread: {error}"),
        }
    }
}

impl StdError for BridgeError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            BridgeError::Failed(failure) => Some(failure.error()),
            BridgeError::Start(error) => Some(error),
            _ => None,
        }
    }
}

static NEXT_BRIDGE: AtomicU64 = AtomicU64::new(1);

/// What the bridge shares between its reactor thread and everyone else.
pub(crate) struct BridgeInner {
    id: u64,
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
    fn is_reactor_thread(&self) -> bool {
        self.handle.is_reactor_thread()
    }

    /// Asks the reactor thread to cancel the operation behind result `id`.
    fn cancel(&self, id: u64) {
        if self.is_reactor_thread() {
            on_reactor::cancel(id);
        } else {
            // If the reactor has stopped, the result is already (or is
            // about to be) "reactor stopped".
            let _ = self
                .handle
                .call_from_thread(move |_| on_reactor::cancel(id));
        }
    }

    /// On the reactor thread, as shutdown begins: refuse new work and fire
    /// every pending result with "reactor stopped".
    fn reactor_stopping(&self) {
        self.stopped.store(true, Ordering::Release);
        on_reactor::stop_all(self.id);
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

/// The reactor thread's table of operations whose Deferred has not fired:
/// how to cancel each, and its result to fire with "reactor stopped" at
/// shutdown. Only the reactor thread touches it, so it needs no lock.
mod on_reactor {
    use super::*;

    pub(super) struct Entry {
        pub(super) bridge: u64,
        pub(super) cancel: CancelHandle,
        pub(super) result: Arc<dyn Pending>,
    }

    thread_local! {
        static PENDING: RefCell<HashMap<u64, Entry>> = RefCell::new(HashMap::new());
    }

    pub(super) fn track(id: u64, entry: Entry) {
        let _ = PENDING.try_with(|pending| pending.borrow_mut().insert(id, entry));
    }

    pub(super) fn untrack(id: u64) {
        let _ = PENDING.try_with(|pending| pending.borrow_mut().remove(&id));
    }

    pub(super) fn cancel(id: u64) {
        let handle = PENDING
            .try_with(|pending| pending.borrow().get(&id).map(|entry| entry.cancel.clone()))
            .ok()
            .flatten();
        // Cancelling runs user code (the canceller, the callbacks), which
        // may start or cancel other operations: no borrow is held.
        if let Some(handle) = handle {
            handle.cancel();
        }
    }

    pub(super) fn stop_all(bridge: u64) {
        let stopped: Vec<Arc<dyn Pending>> = PENDING
            .try_with(|pending| {
                pending
                    .borrow_mut()
                    .extract_if(|_, entry| entry.bridge == bridge)
                    .map(|(_, entry)| entry.result)
                    .collect()
            })
            .unwrap_or_default();
        for result in stopped {
            result.reactor_stopped();
        }
    }
}

/// A function waiting in the reactor's queue. If it is dropped without
/// running (the reactor stopped first), its result becomes "reactor
/// stopped".
struct Job<F, T> {
    f: Option<F>,
    core: Arc<Core<T>>,
}

impl<F, R, T> Job<F, T>
where
    F: FnOnce(&Reactor) -> R,
    R: IntoDeferred<Output = T>,
    T: 'static,
{
    fn run(mut self, reactor: &Reactor) {
        let f = self.f.take().expect("a job runs once");
        let core = self.core.clone();
        let Some(bridge) = core.bridge.clone() else {
            return;
        };
        if bridge.stopped.load(Ordering::Acquire) {
            core.complete(Err(BridgeError::ReactorStopped));
            return;
        }
        if core.cancel_requested() {
            core.complete(Err(BridgeError::Failed(Failure::new(Cancelled))));
            return;
        }
        // A plain result completes at once; a Deferred is followed.
        let deferred = match catch_panic(|| f(reactor).into_outcome()) {
            Ok(Outcome::Ready(result)) => {
                core.complete(result.map_err(BridgeError::Failed));
                return;
            }
            Ok(Outcome::Wait(deferred)) => deferred,
            Err(failure) => {
                core.complete(Err(BridgeError::Failed(failure)));
                return;
            }
        };
        let id = core.id;
        if !deferred.is_fired() {
            on_reactor::track(
                id,
                on_reactor::Entry {
                    bridge: bridge.id,
                    cancel: deferred.cancel_handle(),
                    result: core.clone(),
                },
            );
        }
        drop(deferred.both(move |result| {
            on_reactor::untrack(id);
            core.complete(result.map_err(BridgeError::Failed));
            Ok::<(), Failure>(())
        }));
    }
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
        let (sender, receiver) = std::sync::mpsc::channel();
        let thread = thread::Builder::new()
            .name("torsion-reactor".to_owned())
            .spawn(move || {
                let reactor = match Reactor::new() {
                    Ok(reactor) => reactor,
                    Err(error) => {
                        let _ = sender.send(Err(error));
                        return;
                    }
                };
                let bridge = Bridge::for_reactor(&reactor);
                let finished = Finished(bridge.inner.clone());
                let _ = sender.send(Ok(bridge));
                // Like crochet's reactor, the bridge's leaves the signals
                // to the program it serves.
                if let Err(error) = reactor.run_with(Signals::LeaveAlone) {
                    tracing::error!(%error, "the bridge's reactor failed");
                }
                drop(reactor);
                drop(finished);
            })
            .map_err(BridgeError::Start)?;
        let bridge = match receiver.recv() {
            Ok(Ok(bridge)) => bridge,
            Ok(Err(error)) => return Err(BridgeError::Start(error)),
            Err(_) => return Err(BridgeError::Start(std::io::Error::other("the thread died"))),
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

    /// Runs `f` on the reactor thread and returns its eventual result at
    /// once (crochet's `run_in_reactor`). `f` returns a
    /// [`Deferred`](crate::Deferred), or a `Result` for an immediate value
    /// or failure; a panic in `f` becomes a failure.
    ///
    /// If the reactor has stopped, the result is
    /// [`BridgeError::ReactorStopped`] straight away.
    pub fn run_in_reactor<F, R>(&self, f: F) -> EventualResult<R::Output>
    where
        F: FnOnce(&Reactor) -> R + Send + 'static,
        R: IntoDeferred,
        R::Output: Send,
    {
        if self.is_stopped() {
            return EventualResult::failed(BridgeError::ReactorStopped, Some(self.inner.clone()));
        }
        let core = Core::pending(Some(self.inner.clone()));
        let job = Job {
            f: Some(f),
            core: core.clone(),
        };
        // If the reactor is gone the job is dropped unrun, which fires the
        // result with "reactor stopped".
        let _ = self
            .inner
            .handle
            .call_from_thread(move |reactor| job.run(reactor));
        EventualResult::new(core)
    }

    /// Runs `f` on the reactor thread and blocks until its result is there
    /// (crochet's `wait_for`). When `timeout` passes first, the operation
    /// is cancelled and the error is [`BridgeError::TimedOut`]. On the
    /// reactor thread it returns [`BridgeError::OnReactorThread`] without
    /// running `f`.
    pub fn wait_for<F, R>(&self, timeout: Duration, f: F) -> Result<R::Output, BridgeError>
    where
        F: FnOnce(&Reactor) -> R + Send + 'static,
        R: IntoDeferred,
        R::Output: Send,
    {
        if self.is_reactor_thread() {
            return Err(BridgeError::OnReactorThread);
        }
        let result = self.run_in_reactor(f);
        match result.wait(timeout) {
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
        stash::report(self.inner.id);
        Ok(())
    }

    /// True once the reactor has begun shutting down: no new operation
    /// starts.
    pub fn is_stopped(&self) -> bool {
        self.inner.stopped.load(Ordering::Acquire) || self.inner.handle.is_closed()
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

/// The process-wide bridge, and who keeps its background reactor alive.
static GLOBAL: OnceLock<Bridge> = OnceLock::new();

struct Owners {
    /// Live guards of a reactor that [`setup`] started.
    guards: usize,
    /// The global bridge runs a reactor of its own (not [`use_reactor`]).
    owned: bool,
}

static OWNERS: Mutex<Owners> = Mutex::new(Owners {
    guards: 0,
    owned: false,
});

/// Keeps the reactor started by [`setup`] running. When the last guard is
/// dropped, the reactor stops, its shutdown triggers run and its thread is
/// joined (waiting at most [`GUARD_SHUTDOWN_TIMEOUT`]), as with
/// [`shutdown`]. Keep one alive in `main` so the reactor shuts down
/// properly when `main` returns.
#[must_use = "the background reactor stops when the last guard is dropped"]
#[derive(Debug)]
pub struct BridgeGuard {
    owns: bool,
}

impl Drop for BridgeGuard {
    fn drop(&mut self) {
        if !self.owns {
            return;
        }
        let last = {
            let mut owners = lock(&OWNERS);
            owners.guards -= 1;
            owners.guards == 0
        };
        if last && let Err(error) = shutdown(GUARD_SHUTDOWN_TIMEOUT) {
            tracing::error!(%error, "the background reactor did not shut down");
        }
    }
}

/// Starts the process-wide reactor on a background thread, or joins the
/// one already started (crochet's `setup`); thread-safe. Returns a guard
/// that keeps it running (see [`BridgeGuard`]). After [`use_reactor`] it
/// starts nothing and its guard does nothing. Once the reactor has
/// stopped it is not started again: [`BridgeError::ReactorStopped`].
///
/// ```
/// use std::time::Duration;
/// use torsion::blocking;
/// use torsion::Failure;
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let _reactor = blocking::setup()?;
///     let n = blocking::wait_for(Duration::from_secs(5), |_| Ok::<_, Failure>(7))?;
///     assert_eq!(n, 7);
///     Ok(())
///     // `_reactor` is dropped here: the reactor stops, its triggers run.
/// }
/// ```
pub fn setup() -> Result<BridgeGuard, BridgeError> {
    let mut owners = lock(&OWNERS);
    if let Some(bridge) = GLOBAL.get() {
        if bridge.is_stopped() {
            return Err(BridgeError::ReactorStopped);
        }
        if !owners.owned {
            return Ok(BridgeGuard { owns: false });
        }
        owners.guards += 1;
        return Ok(BridgeGuard { owns: true });
    }
    let bridge = Bridge::start()?;
    if GLOBAL.set(bridge).is_err() {
        unreachable!("the global bridge is only set under the owners lock");
    }
    owners.owned = true;
    owners.guards = 1;
    Ok(BridgeGuard { owns: true })
}

/// Makes `reactor`, run by the caller on this thread, the process-wide
/// bridge's reactor (crochet's `no_setup`): later [`setup`] calls start
/// nothing. Fails with [`BridgeError::AlreadySetUp`] if the bridge is
/// already set up.
///
/// ```
/// use std::time::Duration;
/// use torsion::{Failure, Reactor};
/// use torsion::blocking;
///
/// let reactor = Reactor::new()?;
/// blocking::use_reactor(&reactor)?;
/// let worker = std::thread::spawn(|| {
///     let n = blocking::wait_for(Duration::from_secs(5), |_| Ok::<_, Failure>(5));
///     blocking::shutdown(Duration::ZERO).ok();
///     n
/// });
/// reactor.run()?;
/// assert_eq!(worker.join().unwrap()?, 5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn use_reactor(reactor: &Reactor) -> Result<Bridge, BridgeError> {
    let mut owners = lock(&OWNERS);
    if GLOBAL.get().is_some() {
        return Err(BridgeError::AlreadySetUp);
    }
    let bridge = Bridge::for_reactor(reactor);
    if GLOBAL.set(bridge.clone()).is_err() {
        unreachable!("the global bridge is only set under the owners lock");
    }
    owners.owned = false;
    Ok(bridge)
}

/// The process-wide bridge, or [`BridgeError::NotSetUp`].
pub fn global() -> Result<Bridge, BridgeError> {
    GLOBAL.get().cloned().ok_or(BridgeError::NotSetUp)
}

/// [`Bridge::run_in_reactor`] on the process-wide bridge; before [`setup`]
/// the result is [`BridgeError::NotSetUp`] (and `f` never runs).
pub fn run_in_reactor<F, R>(f: F) -> EventualResult<R::Output>
where
    F: FnOnce(&Reactor) -> R + Send + 'static,
    R: IntoDeferred,
    R::Output: Send,
{
    match GLOBAL.get() {
        Some(bridge) => bridge.run_in_reactor(f),
        None => EventualResult::failed(BridgeError::NotSetUp, None),
    }
}

/// [`Bridge::wait_for`] on the process-wide bridge; before [`setup`] it
/// returns [`BridgeError::NotSetUp`].
pub fn wait_for<F, R>(timeout: Duration, f: F) -> Result<R::Output, BridgeError>
where
    F: FnOnce(&Reactor) -> R + Send + 'static,
    R: IntoDeferred,
    R::Output: Send,
{
    global()?.wait_for(timeout, f)
}

/// Takes the result stashed under `id` by [`EventualResult::stash`], once:
/// a second call with the same id returns `None`, as does an id that was
/// never given or a `T` other than the stashed result's (which then stays
/// stashed). Works across bridges and before setup.
pub fn retrieve_result<T: Send + 'static>(id: u64) -> Option<EventualResult<T>> {
    stash::take(id)
}

/// [`Bridge::shutdown`] on the process-wide bridge: stops the reactor,
/// runs its shutdown triggers and joins its thread, waiting at most
/// `timeout`. The bridge is not set up again afterwards: later calls fail
/// with [`BridgeError::ReactorStopped`].
pub fn shutdown(timeout: Duration) -> Result<(), BridgeError> {
    global()?.shutdown(timeout)
}
