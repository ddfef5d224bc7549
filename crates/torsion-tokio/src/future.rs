//! Deferreds of tokio futures (Twisted's `Deferred.fromFuture`): the
//! future runs as a tokio task, torsion code gets a [`Deferred`] of its
//! result, and cancellation crosses both ways.
//!
//! ```text
//!   torsion (reactor thread)            tokio (same thread, or its own)
//!   Deferred <- task awaiting ---------- JoinHandle <- task running F
//!   cancel() -> task dropped -> abort() ---------------> F dropped
//!   fails with Cancelled   <------------ task aborted (JoinError::Cancelled)
//! ```
//!
//! A panic in the future fails the Deferred with a
//! [`Panicked`](torsion::error::Panicked) failure carrying its message.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::runtime::Handle;
use tokio::task::JoinHandle as TokioJoinHandle;
use torsion::error::Cancelled;
use torsion::{Deferred, Failure, Reactor};

use crate::Error;

/// Runs `future` as a task of the tokio runtime current on this thread
/// and returns a Deferred of its result; call it from torsion code on the
/// reactor's thread. Inside a reactor [hosted](crate::run) by tokio that
/// runtime is the host, and the task runs on the same thread between
/// torsion's turns. With no runtime current the Deferred fails with
/// [`Error::NoRuntime`] (see [`from_future_on`] for a runtime on other
/// threads).
///
/// Cancelling the Deferred aborts the task, so the future is dropped
/// (where it stands, its drop guards running); a task aborted on tokio's
/// side, or dropped by a runtime shutting down, fails the Deferred with
/// torsion's [`Cancelled`].
///
/// ```
/// use std::time::Duration;
/// use torsion::{Failure, Reactor};
///
/// let reactor = Reactor::new()?;
/// let r = reactor.clone();
/// reactor.call_when_running(move || {
///     // A tokio-only future, seen from torsion as a Deferred.
///     let slept = torsion_tokio::from_future(async {
///         tokio::time::sleep(Duration::from_millis(5)).await;
///         Ok::<_, Failure>("slept in tokio")
///     });
///     drop(slept.map(move |said| {
///         println!("{said}");
///         r.stop().unwrap();
///     }));
/// });
/// torsion_tokio::block_on_reactor(&reactor)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn from_future<F, T, E>(future: F) -> Deferred<T>
where
    F: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Into<Failure> + 'static,
{
    match Handle::try_current() {
        Ok(handle) => from_future_on(&handle, future),
        Err(error) => Deferred::fail(Failure::new(Error::from(error))),
    }
}

/// [`from_future`] on the runtime `handle` belongs to, which may run on
/// threads of its own beside the reactor: the task runs there, and its
/// result comes back to the reactor's thread. Call it on the reactor's
/// thread; elsewhere the Deferred fails with [`Error::NoReactor`].
///
/// ```
/// use std::time::Duration;
/// use torsion::{Failure, Reactor};
///
/// let tokio = tokio::runtime::Builder::new_multi_thread()
///     .worker_threads(1)
///     .enable_all()
///     .build()?;
/// let reactor = Reactor::new()?;
/// let answer = torsion_tokio::from_future_on(tokio.handle(), async {
///     tokio::time::sleep(Duration::from_millis(5)).await;
///     Ok::<_, Failure>(std::thread::current().name().map(str::to_owned))
/// });
/// let r = reactor.clone();
/// let seen = answer.map(move |thread| {
///     r.stop().unwrap();
///     thread
/// });
/// reactor.run()?;
/// # drop(seen);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn from_future_on<F, T, E>(handle: &Handle, future: F) -> Deferred<T>
where
    F: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Into<Failure> + 'static,
{
    let Some(reactor) = Reactor::current() else {
        return Deferred::fail(Failure::new(Error::NoReactor));
    };
    // The error is turned into a Failure on tokio's side: a Failure is
    // Send, whatever E is.
    let task = handle.spawn(async move { future.await.map_err(Into::into) });
    reactor.spawn(AbortOnDrop(task))
}

/// A tokio task's result as a torsion outcome; aborts the task when
/// dropped unfinished (the reactor drops it when its Deferred is
/// cancelled).
struct AbortOnDrop<T>(TokioJoinHandle<Result<T, Failure>>);

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, Failure>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|joined| match joined {
            Ok(result) => result,
            Err(error) if error.is_cancelled() => Err(Failure::new(Cancelled)),
            Err(error) => match error.try_into_panic() {
                Ok(payload) => Err(Failure::from_panic(payload)),
                Err(error) => Err(Failure::new(error)),
            },
        })
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        // Does nothing once the task has finished.
        self.0.abort();
    }
}
