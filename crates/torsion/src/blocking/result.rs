//! [`EventualResult`]: the blocking side's view of a Deferred, and the
//! one-shot slot behind it.
//!
//! The slot is the only state shared between the reactor thread and the
//! threads that wait: a mutex around "pending / ready / taken", a condition
//! variable for blocked `wait` calls and a waker for an executor polling the
//! result as a future. The reactor fills it once; whatever arrives later (a
//! result after "reactor stopped", a second stop) is ignored.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::{BridgeError, SharedFailure, registry};
use crate::Failure;
use crate::sync::{Arc, AtomicBool, Condvar, Mutex, Ordering, lock};

/// Ids for results, unique in the process (they key the reactor thread's
/// table of pending operations). A std atomic: a static cannot hold loom's.
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// The longest single sleep of a wait without a deadline; it then sleeps
/// again.
const LONGEST_SLEEP: Duration = Duration::from_secs(3600);

/// How long `wait` watches for the result before it sleeps on the
/// condition variable: a round trip to a reactor that is awake (spinning
/// after its last turn) takes a few microseconds, and sleeping would add
/// two wake-ups (the reactor's futex call and this thread's) worth tens
/// of microseconds. A result that takes longer costs this much CPU time
/// more, as a thread pool worker's spin does.
const SPIN: Duration = Duration::from_micros(20);

enum Slot<T> {
    Pending,
    /// The outcome, kept for every later `wait` (crochet repeats it).
    Ready(Result<T, BridgeError>),
    /// The outcome was moved out by `take` or `poll`.
    Taken,
}

struct State<T> {
    slot: Slot<T>,
    waker: Option<Waker>,
    cancel_requested: bool,
    /// Someone has seen the outcome (`wait`, `take`, `poll` or
    /// `original_failure`): its failure is not "unhandled".
    retrieved: bool,
    /// The `EventualResult` is gone: nobody can look at the result any more.
    abandoned: bool,
    /// An unretrieved failure was already logged.
    reported: bool,
    /// Threads blocked in `wait`: only then does completing need the
    /// condition variable (a wake-up system call).
    waiters: usize,
}

/// What a result needs of the bridge its operation runs on (implemented by
/// the bridge; a trait so that results do not depend on bridges).
pub(super) trait Owner: Send + Sync {
    /// Tells bridges apart, for stashed results.
    fn id(&self) -> u64;
    /// True on the bridge's reactor thread, where blocking would deadlock.
    fn is_reactor_thread(&self) -> bool;
    /// True once the bridge's reactor has begun to stop: new work fails
    /// with "reactor stopped".
    fn is_stopped(&self) -> bool;
    /// Asks the reactor thread to cancel the operation behind result `id`.
    fn cancel(&self, id: u64);
}

/// What an `EventualResult` and the reactor side share.
pub(super) struct Core<T> {
    pub(super) id: u64,
    state: Mutex<State<T>>,
    /// Set once the slot is no longer pending, for a `wait` that spins
    /// before it sleeps: it watches this without taking the lock.
    settled: AtomicBool,
    ready: Condvar,
    /// The bridge the operation runs on; `None` for a result that failed
    /// before it could be sent anywhere (the bridge was not set up).
    pub(super) bridge: Option<Arc<dyn Owner>>,
}

/// The reactor side's type-erased view of a pending result, for firing it
/// with [`BridgeError::ReactorStopped`] at shutdown.
pub(super) trait Pending {
    fn reactor_stopped(&self);
}

impl<T> Pending for Core<T> {
    fn reactor_stopped(&self) {
        self.complete(Err(BridgeError::ReactorStopped));
    }
}

/// The failure in `result` that nobody retrieved and that is worth a log
/// line: not "reactor stopped", and not the cancellation its owner asked for.
fn unhandled<T>(result: &Result<T, BridgeError>, cancel_requested: bool) -> Option<&Failure> {
    match result {
        Err(BridgeError::Failed(failure)) if !(cancel_requested && failure.is_cancelled()) => {
            Some(failure)
        }
        _ => None,
    }
}

fn log_unhandled(failure: &Failure) {
    tracing::error!(%failure, "Unhandled error in EventualResult: {failure}");
}

impl<T> Core<T> {
    pub(super) fn pending(bridge: Option<Arc<dyn Owner>>) -> Arc<Core<T>> {
        Arc::new(Core {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            state: Mutex::new(State {
                slot: Slot::Pending,
                waker: None,
                cancel_requested: false,
                retrieved: false,
                abandoned: false,
                reported: false,
                waiters: 0,
            }),
            settled: AtomicBool::new(false),
            ready: Condvar::new(),
            bridge,
        })
    }

    /// Fills the slot, unless it was filled before, and wakes every waiter.
    pub(super) fn complete(&self, result: Result<T, BridgeError>) {
        let mut state = lock(&self.state);
        if !matches!(state.slot, Slot::Pending) {
            return;
        }
        if state.abandoned {
            let cancel_requested = state.cancel_requested;
            state.slot = Slot::Taken;
            drop(state);
            if let Some(failure) = unhandled(&result, cancel_requested) {
                log_unhandled(failure);
            }
            return;
        }
        state.slot = Slot::Ready(result);
        let waker = state.waker.take();
        let waiters = state.waiters;
        drop(state);
        self.settled.store(true, Ordering::Release);
        if waiters > 0 {
            self.ready.notify_all();
        }
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    pub(super) fn cancel_requested(&self) -> bool {
        lock(&self.state).cancel_requested
    }

    fn on_reactor_thread(&self) -> bool {
        self.bridge
            .as_ref()
            .is_some_and(|bridge| bridge.is_reactor_thread())
    }

    /// Logs the failure if there is one nobody retrieved (once).
    pub(super) fn report_unretrieved(&self) {
        let mut state = lock(&self.state);
        if state.reported || state.retrieved {
            return;
        }
        if let Slot::Ready(result) = &state.slot
            && let Some(failure) = unhandled(result, state.cancel_requested)
        {
            log_unhandled(failure);
            state.reported = true;
        }
    }
}

/// A copy of the outcome in a ready slot; `None` while pending.
fn copy<T: Clone>(state: &mut State<T>) -> Option<Result<T, BridgeError>> {
    match &state.slot {
        Slot::Pending => None,
        Slot::Ready(result) => {
            state.retrieved = true;
            Some(result.clone())
        }
        Slot::Taken => Some(Err(BridgeError::AlreadyRetrieved)),
    }
}

/// Moves the outcome out of a ready slot; `None` while pending.
fn take<T>(state: &mut State<T>) -> Option<Result<T, BridgeError>> {
    match std::mem::replace(&mut state.slot, Slot::Taken) {
        Slot::Pending => {
            state.slot = Slot::Pending;
            None
        }
        Slot::Ready(result) => {
            state.retrieved = true;
            Some(result)
        }
        Slot::Taken => Some(Err(BridgeError::AlreadyRetrieved)),
    }
}

/// The eventual result of an operation started on the reactor thread with
/// [`run_in_reactor`](super::run_in_reactor), for code on any other thread
/// (crochet's `EventualResult`).
///
/// Block for it with [`wait`](EventualResult::wait), which takes a timeout
/// and may be called again after one; or `.await` it from any executor (it
/// is a [`Future`]); or [`cancel`](EventualResult::cancel) the operation.
/// As in crochet, once the result is there every `wait` returns it again
/// (a clone of the value, the same shared failure). [`take`](EventualResult::take)
/// and `.await` move it out instead, for values that are not `Clone`; after
/// that, waits return [`BridgeError::AlreadyRetrieved`].
///
/// Errors are values, never hangs: waiting on the reactor thread itself is
/// [`BridgeError::OnReactorThread`], and when the reactor stops every
/// result still pending is fired with [`BridgeError::ReactorStopped`], so
/// blocked waiters wake at once.
///
/// If the operation failed and the result is dropped without anyone having
/// looked at the failure (`wait` never returned it, only timed out), the
/// failure is logged ("Unhandled error in EventualResult"), as is a failure
/// that arrives after the result was dropped. A
/// [`Cancelled`](crate::error::Cancelled) failure after
/// [`cancel`](EventualResult::cancel) is not logged.
///
/// `Send` and `Sync` when `T` is `Send`.
///
/// ```
/// use std::time::Duration;
/// use torsion::Failure;
/// use torsion::blocking::Bridge;
///
/// let bridge = Bridge::start()?;
/// let sum = bridge.run_in_reactor(|_reactor| Ok::<u32, Failure>(2 + 2));
/// assert_eq!(sum.wait(Duration::from_secs(5))?, 4);
/// assert_eq!(sum.wait(Duration::from_secs(5))?, 4);
/// bridge.shutdown(Duration::from_secs(5))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct EventualResult<T> {
    core: Arc<Core<T>>,
}

impl<T: Send + 'static> EventualResult<T> {
    pub(super) fn new(core: Arc<Core<T>>) -> EventualResult<T> {
        EventualResult { core }
    }

    /// A result that already failed with `error`.
    pub(super) fn failed(error: BridgeError, bridge: Option<Arc<dyn Owner>>) -> EventualResult<T> {
        let core = Core::pending(bridge);
        core.complete(Err(error));
        EventualResult { core }
    }

    /// Blocks until the result is there or `timeout` has passed, and
    /// returns it: a clone of the value, [`BridgeError::Failed`] with the
    /// operation's [`Failure`], or [`BridgeError::TimedOut`]. A timeout
    /// leaves the operation running (see [`wait_for`](super::wait_for) to
    /// cancel it) and a later `wait` can still get its result; once the
    /// result is there, every `wait` returns it again.
    ///
    /// Called on the reactor thread it returns
    /// [`BridgeError::OnReactorThread`] at once: the result could never
    /// arrive while that thread blocks.
    pub fn wait(&self, timeout: Duration) -> Result<T, BridgeError>
    where
        T: Clone,
    {
        self.block(timeout, copy)
    }

    /// Blocks as [`wait`](EventualResult::wait) does, then moves the result
    /// out, for values that are not `Clone` (or too big to copy). Later
    /// calls return [`BridgeError::AlreadyRetrieved`]; a timeout leaves the
    /// result in place.
    pub fn take(&self, timeout: Duration) -> Result<T, BridgeError> {
        self.block(timeout, take)
    }

    fn block(
        &self,
        timeout: Duration,
        mut out: impl FnMut(&mut State<T>) -> Option<Result<T, BridgeError>>,
    ) -> Result<T, BridgeError> {
        if self.core.on_reactor_thread() {
            return Err(BridgeError::OnReactorThread);
        }
        let deadline = Instant::now().checked_add(timeout);
        self.spin(timeout);
        let mut state = lock(&self.core.state);
        loop {
            if let Some(result) = out(&mut state) {
                return result;
            }
            let remaining = match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()),
                None => LONGEST_SLEEP,
            };
            if remaining.is_zero() {
                return Err(BridgeError::TimedOut(timeout));
            }
            state.waiters += 1;
            state = self
                .core
                .ready
                .wait_timeout(state, remaining.min(LONGEST_SLEEP))
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
            state.waiters -= 1;
        }
    }

    /// Watches for the result for up to [`SPIN`] (never past `timeout`)
    /// before `block` takes the lock and, if need be, sleeps. A spinning
    /// thread is not counted in `waiters`, so a result that arrives
    /// meanwhile costs the reactor no condition-variable wake-up. The loom
    /// models leave it out: it only delays what they check.
    fn spin(&self, timeout: Duration) {
        if cfg!(loom) {
            return;
        }
        let deadline = Instant::now() + SPIN.min(timeout);
        loop {
            for _ in 0..64 {
                if self.core.settled.load(Ordering::Acquire) {
                    return;
                }
                std::hint::spin_loop();
            }
            if Instant::now() >= deadline {
                return;
            }
        }
    }

    /// Cancels the operation: on the reactor thread, its Deferred's
    /// [`cancel`](crate::Deferred::cancel) runs, and the result becomes
    /// whatever that makes of it (usually a
    /// [`Cancelled`](crate::error::Cancelled) failure). If the operation
    /// has not started yet it never starts, and the result is `Cancelled`.
    /// Does nothing once the result is there; calling it twice is harmless.
    /// Thread-safe and non-blocking.
    pub fn cancel(&self) {
        {
            let mut state = lock(&self.core.state);
            if !matches!(state.slot, Slot::Pending) || state.cancel_requested {
                return;
            }
            state.cancel_requested = true;
        }
        if let Some(bridge) = &self.core.bridge {
            bridge.cancel(self.core.id);
        }
    }

    /// True once the result is there (and not moved out).
    pub fn is_ready(&self) -> bool {
        matches!(lock(&self.core.state).slot, Slot::Ready(_))
    }

    /// If the operation failed, its [`Failure`] (shared: dereference it),
    /// without blocking and without using the result up (crochet's
    /// `original_failure`): a later `wait` still returns it. `None` while
    /// the result is pending, if it is a value, or if it was moved out.
    /// Looking at the failure counts as handling it: nothing is logged on
    /// drop.
    pub fn original_failure(&self) -> Option<SharedFailure> {
        let mut state = lock(&self.core.state);
        let Slot::Ready(Err(BridgeError::Failed(failure))) = &state.slot else {
            return None;
        };
        let failure = failure.clone();
        state.retrieved = true;
        Some(failure)
    }

    /// Puts the result aside under a new id (increasing, never reused) and
    /// returns the id, for code that starts an operation in one place (a
    /// web request) and collects it in another: see
    /// [`retrieve_result`](super::retrieve_result). Stashed failures that
    /// are never retrieved are logged when their bridge shuts down.
    pub fn stash(self) -> u64 {
        registry::put(self)
    }

    /// The id of the bridge this result belongs to, if any.
    pub(super) fn core_bridge_id(&self) -> Option<u64> {
        self.core.bridge.as_ref().map(|bridge| bridge.id())
    }

    /// Logs the failure if nobody retrieved it (for stashed results at
    /// shutdown).
    pub(super) fn report_unretrieved(&self) {
        self.core.report_unretrieved();
    }
}

impl<T> Drop for EventualResult<T> {
    fn drop(&mut self) {
        let mut state = lock(&self.core.state);
        state.abandoned = true;
        let handled = state.reported || state.retrieved;
        let cancel_requested = state.cancel_requested;
        // Move a ready result out so that its value is dropped outside the
        // lock, and log its failure if nobody looked at it.
        let slot = std::mem::replace(&mut state.slot, Slot::Taken);
        let slot = match slot {
            Slot::Pending => {
                state.slot = Slot::Pending;
                state.waker = None;
                return;
            }
            other => other,
        };
        drop(state);
        if let Slot::Ready(result) = &slot
            && !handled
            && let Some(failure) = unhandled(result, cancel_requested)
        {
            log_unhandled(failure);
        }
    }
}

/// Awaiting an `EventualResult` gives what [`take`](EventualResult::take)
/// would (the result, moved out, so any `T` will do), without blocking a
/// thread and without a timeout: any executor (tokio, a torsion reactor, a
/// hand-rolled one) can poll it, on any thread, including the reactor's.
impl<T> Future for EventualResult<T> {
    type Output = Result<T, BridgeError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = lock(&self.core.state);
        if let Some(result) = take(&mut state) {
            return Poll::Ready(result);
        }
        match &state.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => state.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T> fmt::Debug for EventualResult<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.core.state);
        let slot = match &state.slot {
            Slot::Pending => "pending",
            Slot::Ready(Ok(_)) => "ready (value)",
            Slot::Ready(Err(_)) => "ready (error)",
            Slot::Taken => "retrieved",
        };
        f.debug_struct("EventualResult")
            .field("state", &slot)
            .field("cancel_requested", &state.cancel_requested)
            .finish()
    }
}

#[cfg(all(test, loom))]
mod loom_model;
