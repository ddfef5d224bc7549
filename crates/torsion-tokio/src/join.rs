//! torsion work seen from tokio: [`TorsionHandle`] (`Send`, the door into
//! a reactor from any thread) starts work on the reactor, and
//! [`JoinHandle`] (`Send`, a `Future`) is tokio's view of its Deferred.
//!
//! Both are thin layers over the blocking bridge
//! ([`torsion::blocking::Bridge`] and its `EventualResult`), which already
//! carries results and cancellation across threads; what this adds is the
//! future's shape tokio code expects: the outcome as a [`Failure`] like
//! any awaited Deferred's, `abort`, and cancelling when dropped.

use std::cell::OnceCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use torsion::blocking::{Bridge, BridgeError, EventualResult, IntoEventual};
use torsion::error::ReactorError;
use torsion::reactor::Extension;
use torsion::{Deferred, Failure, Reactor, ReactorHandle};

/// A `Send + Sync` handle to a reactor for tokio code on any thread: it
/// starts work on the reactor's thread and hands back a [`JoinHandle`].
/// Make it on the reactor's thread ([`TorsionHandle::new`]), then clone
/// it freely.
///
/// ```
/// use std::time::Duration;
/// use torsion::time::defer_later;
/// use torsion::{Failure, Reactor};
/// use torsion_tokio::TorsionHandle;
///
/// let reactor = Reactor::new()?;
/// let torsion = TorsionHandle::new(&reactor);
/// let tokio = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build()?;
/// // tokio code, on tokio's thread, awaiting a Deferred made on torsion's.
/// let answer = tokio.spawn(async move {
///     let answer = torsion
///         .spawn(|reactor| defer_later(&reactor, Duration::from_millis(5), || Ok::<_, Failure>(42)))
///         .await;
///     torsion.reactor_handle().stop().unwrap();
///     answer
/// });
/// reactor.run()?;
/// assert_eq!(tokio.block_on(answer)?.map_err(|f| f.to_string())?, 42);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct TorsionHandle {
    bridge: Bridge,
}

/// The one bridge a reactor's handles share (a bridge adds shutdown
/// triggers to its reactor: one set is enough).
#[derive(Default)]
struct SharedBridge(OnceCell<Bridge>);

impl Extension for SharedBridge {}

impl TorsionHandle {
    /// The handle of `reactor` (every call for one reactor shares its
    /// state). Call it on the reactor's thread, where the `Reactor` is.
    pub fn new(reactor: &Reactor) -> TorsionHandle {
        let slot = reactor.extension::<SharedBridge>();
        let bridge = slot.0.get_or_init(|| Bridge::for_reactor(reactor)).clone();
        TorsionHandle { bridge }
    }

    /// Runs `f` on the reactor's thread during its next turn and returns a
    /// handle to its outcome at once, from any thread. `f` returns a
    /// [`Deferred`], any future (an `async` block or `async fn`, run as a
    /// task on the reactor) or a `Result`; a panic in `f` becomes a
    /// failure. If the reactor has stopped, the handle fails at once with
    /// [`ReactorError::Stopped`].
    pub fn spawn<F, R, M>(&self, f: F) -> JoinHandle<R::Output>
    where
        F: FnOnce(Reactor) -> R + Send + 'static,
        R: IntoEventual<M>,
    {
        JoinHandle::new(self.bridge.run_in_reactor(f))
    }

    /// A handle to a Deferred torsion code already has, to give to tokio
    /// code (through a channel, a spawned task). Call it on the reactor's
    /// thread.
    ///
    /// # Panics
    ///
    /// On any other thread: the Deferred belongs to a different reactor.
    pub fn follow<T: Send + 'static>(&self, deferred: Deferred<T>) -> JoinHandle<T> {
        JoinHandle::new(self.bridge.follow(deferred))
    }

    /// The reactor's own cross-thread handle (`call_from_thread`, `stop`).
    pub fn reactor_handle(&self) -> &ReactorHandle {
        self.bridge.handle()
    }
}

/// tokio's view of torsion work: a `Send` future of the Deferred's
/// outcome, shaped like tokio's `JoinHandle`.
///
/// Awaiting it gives what awaiting the Deferred on the reactor gives: the
/// value, or the [`Failure`] (so a cancelled operation is
/// `failure.is_cancelled()` on both sides, and a reactor that stopped
/// first is [`ReactorError::Stopped`]). Unlike tokio's `JoinHandle`,
/// **dropping it unfinished cancels the Deferred**, as dropping an
/// awaited Deferred does: a `select!` or `timeout` that gives up on it
/// stops the operation. [`detach`](JoinHandle::detach) lets it run on.
pub struct JoinHandle<T: Send + 'static> {
    result: Option<EventualResult<T>>,
    done: bool,
}

impl<T: Send + 'static> JoinHandle<T> {
    fn new(result: EventualResult<T>) -> JoinHandle<T> {
        JoinHandle {
            result: Some(result),
            done: false,
        }
    }

    /// Cancels the Deferred on the reactor's thread (its canceller runs);
    /// the handle then gives whatever that makes of it, usually a
    /// [`Cancelled`](torsion::error::Cancelled) failure. Does nothing once
    /// the outcome is there. Thread-safe and non-blocking.
    pub fn abort(&self) {
        if let Some(result) = &self.result {
            result.cancel();
        }
    }

    /// True once the outcome is there.
    pub fn is_finished(&self) -> bool {
        self.done || self.result.as_ref().is_some_and(EventualResult::is_ready)
    }

    /// Drops the handle without cancelling: the operation runs on and its
    /// outcome is dropped (a failure nobody looked at is logged).
    pub fn detach(mut self) {
        drop(self.result.take());
    }
}

impl<T: Send + 'static> Future for JoinHandle<T> {
    type Output = Result<T, Failure>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(result) = self.result.as_mut() else {
            panic!("torsion_tokio::JoinHandle polled after it returned its outcome");
        };
        let outcome = std::task::ready!(Pin::new(result).poll(cx));
        self.done = true;
        self.result = None;
        Poll::Ready(outcome.map_err(into_failure))
    }
}

impl<T: Send + 'static> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if let Some(result) = &self.result
            && !self.done
        {
            result.cancel();
        }
    }
}

impl<T: Send + 'static> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("result", &self.result)
            .field("done", &self.done)
            .finish()
    }
}

/// The bridge's error as the Failure a Deferred's awaiter would see.
fn into_failure(error: BridgeError) -> Failure {
    match error {
        BridgeError::Failed(shared) => shared
            .try_unwrap()
            .unwrap_or_else(|shared| (*shared).clone()),
        BridgeError::ReactorStopped => Failure::new(ReactorError::Stopped),
        other => Failure::new(other),
    }
}
