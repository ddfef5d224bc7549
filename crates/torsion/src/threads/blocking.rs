//! [`blocking_call_from_thread`]: a thread waits for the reactor's answer.
//!
//! The waiting thread and the reactor share one reply slot. The call posted
//! to the reactor owns a guard on the slot; whatever happens to the call
//! (it runs and its Deferred fires, or the reactor stops and drops it
//! unrun, or its Deferred is dropped unfired) the guard fills the slot, so
//! the waiter always wakes.

use std::time::Duration;

use crate::defer::{IntoDeferred, maybe_deferred};
use crate::error::{OnReactorThread, ReactorError};
use crate::sync::{Arc, Condvar, Mutex, lock};
use crate::{Failure, Reactor, ReactorHandle};

/// How often a waiter looks whether the reactor has finished, in case the
/// call's Deferred is kept alive (a reference cycle) after shutdown.
const CLOSED_POLL: Duration = Duration::from_millis(50);

/// How long a waiter still waits for a result once the reactor has
/// finished: shutdown may have dropped the call a moment ago.
const CLOSED_GRACE: Duration = Duration::from_millis(200);

struct Reply<T> {
    result: Mutex<Option<Result<T, Failure>>>,
    ready: Condvar,
}

/// Fills the reply once: with the call's result, or with
/// [`ReactorError::Stopped`] if dropped before that.
struct ReplyGuard<T> {
    reply: Option<Arc<Reply<T>>>,
}

impl<T> ReplyGuard<T> {
    fn send(mut self, result: Result<T, Failure>) {
        if let Some(reply) = self.reply.take() {
            *lock(&reply.result) = Some(result);
            reply.ready.notify_all();
        }
    }
}

impl<T> Drop for ReplyGuard<T> {
    fn drop(&mut self) {
        if let Some(reply) = self.reply.take() {
            let mut result = lock(&reply.result);
            if result.is_none() {
                *result = Some(Err(Failure::new(ReactorError::Stopped)));
            }
            drop(result);
            reply.ready.notify_all();
        }
    }
}

/// From a thread other than the reactor's, runs `f` on the reactor, waits
/// for the Deferred (or `Result`) it returns, and returns its outcome
/// (Twisted's `blockingCallFromThread`). A panic in `f` comes back as a
/// [`Panicked`](crate::error::Panicked) failure.
///
/// It never deadlocks or hangs: on the reactor's own thread it fails at
/// once with [`OnReactorThread`], and when the reactor has stopped, or
/// stops before the Deferred fires, it fails with [`ReactorError::Stopped`].
/// There is no timeout otherwise; give the Deferred one
/// ([`Deferred::add_timeout`](crate::Deferred::add_timeout)) when the
/// operation may take forever.
///
/// ```
/// use std::time::Duration;
/// use torsion::Reactor;
/// use torsion::threads::blocking_call_from_thread;
/// use torsion::time::defer_later;
///
/// let reactor = Reactor::new()?;
/// let handle = reactor.handle();
/// let worker = std::thread::spawn(move || {
///     let answer = blocking_call_from_thread(&handle, |reactor: &Reactor| {
///         defer_later(reactor, Duration::from_millis(1), || Ok::<_, torsion::Failure>(42))
///     });
///     handle.stop().unwrap();
///     answer
/// });
/// reactor.run()?;
/// assert_eq!(worker.join().unwrap().unwrap(), 42);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn blocking_call_from_thread<R, F>(handle: &ReactorHandle, f: F) -> Result<R::Output, Failure>
where
    F: FnOnce(&Reactor) -> R + Send + 'static,
    R: IntoDeferred,
    R::Output: Send,
{
    if handle.is_reactor_thread() {
        return Err(Failure::new(OnReactorThread));
    }
    let reply = Arc::new(Reply {
        result: Mutex::new(None),
        ready: Condvar::new(),
    });
    let guard = ReplyGuard {
        reply: Some(reply.clone()),
    };
    handle
        .call_awaited_from_thread(move |reactor| {
            let deferred = maybe_deferred(|| f(reactor));
            drop(deferred.both(move |result| {
                guard.send(result);
                Ok::<(), Failure>(())
            }));
        })
        .map_err(Failure::new)?;
    wait(&reply, handle)
}

fn wait<T>(reply: &Reply<T>, handle: &ReactorHandle) -> Result<T, Failure> {
    let mut result = lock(&reply.result);
    let mut closed_for = Duration::ZERO;
    loop {
        if let Some(result) = result.take() {
            return result;
        }
        let (next, _) = reply
            .ready
            .wait_timeout(result, CLOSED_POLL)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        result = next;
        if result.is_none() && handle.is_closed() {
            closed_for += CLOSED_POLL;
            if closed_for >= CLOSED_GRACE {
                return Err(Failure::new(ReactorError::Stopped));
            }
        }
    }
}
