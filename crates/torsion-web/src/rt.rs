//! hyper's runtime hooks on a torsion reactor: an executor that spawns
//! hyper's background futures (HTTP/2 streams, client connections) on the
//! reactor, and a timer whose sleeps are reactor timers.
//!
//! hyper asks for a `Send + Sync` timer even though every connection here
//! lives on one reactor thread, so [`ReactorTimer`] carries no reactor: it
//! schedules on [`Reactor::current`], and keeps the `!Send` timer handle in a
//! thread-local table so that a sleep dropped early cancels its timer.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use torsion::Reactor;
use torsion::time::DelayedCall;

/// Runs hyper's background futures as tasks on a reactor.
#[derive(Clone, Debug)]
pub struct ReactorExecutor {
    reactor: Reactor,
}

impl ReactorExecutor {
    /// An executor spawning on `reactor`.
    pub fn new(reactor: &Reactor) -> ReactorExecutor {
        ReactorExecutor {
            reactor: reactor.clone(),
        }
    }
}

impl<F> hyper::rt::Executor<F> for ReactorExecutor
where
    F: Future + 'static,
{
    fn execute(&self, future: F) {
        // The task runs to completion on its own; nobody waits on it.
        self.reactor.spawn_detached(async move {
            future.await;
        });
    }
}

/// hyper's timer on the reactor of the thread that asks for a sleep.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReactorTimer;

impl hyper::rt::Timer for ReactorTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(ReactorSleep::start(duration))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(ReactorSleep::start(
            deadline.saturating_duration_since(Instant::now()),
        ))
    }
}

thread_local! {
    /// The timers of this thread's live sleeps, by sleep id.
    static TIMERS: RefCell<HashMap<u64, DelayedCall>> = RefCell::new(HashMap::new());
}

static NEXT_SLEEP_ID: AtomicU64 = AtomicU64::new(0);

#[derive(Default)]
struct SleepState {
    fired: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

struct ReactorSleep {
    state: Arc<SleepState>,
    id: u64,
    thread: ThreadId,
}

impl ReactorSleep {
    fn start(duration: Duration) -> ReactorSleep {
        let state = Arc::new(SleepState::default());
        let id = NEXT_SLEEP_ID.fetch_add(1, Ordering::Relaxed);
        match Reactor::current() {
            Some(reactor) => {
                let fired = state.clone();
                let call = reactor.call_later(duration, move || {
                    TIMERS.with(|timers| timers.borrow_mut().remove(&id));
                    fired.fired.store(true, Ordering::Release);
                    if let Some(waker) = lock(&fired.waker).take() {
                        waker.wake();
                    }
                });
                TIMERS.with(|timers| timers.borrow_mut().insert(id, call));
            }
            // hyper sleeps only inside connections polled by a reactor.
            None => tracing::error!("a hyper timer was used on a thread without a reactor"),
        }
        ReactorSleep {
            state,
            id,
            thread: thread::current().id(),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Future for ReactorSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.state.fired.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        *lock(&self.state.waker) = Some(cx.waker().clone());
        // Fired between the check and storing the waker.
        if self.state.fired.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl hyper::rt::Sleep for ReactorSleep {}

impl Drop for ReactorSleep {
    fn drop(&mut self) {
        // Elsewhere the timer cannot be reached; it fires into nothing later.
        if self.thread == thread::current().id() {
            let call = TIMERS.with(|timers| timers.borrow_mut().remove(&self.id));
            if let Some(call) = call {
                let _ = call.cancel();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::rt::Timer;
    use std::rc::Rc;

    #[test]
    fn a_sleep_fires_after_its_duration_and_a_dropped_one_cancels_its_timer() {
        let reactor = Reactor::new().unwrap();
        let started = Instant::now();
        let woke = Rc::new(std::cell::Cell::new(None));
        let w = woke.clone();
        let r = reactor.clone();
        drop(reactor.spawn(async move {
            let dropped = ReactorTimer.sleep(Duration::from_secs(30));
            drop(dropped);
            ReactorTimer.sleep(Duration::from_millis(20)).await;
            w.set(Some(started.elapsed()));
            r.stop().unwrap();
            Ok::<(), torsion::Failure>(())
        }));
        reactor.run().unwrap();
        let elapsed = woke.get().expect("the sleep woke the task");
        assert!(elapsed >= Duration::from_millis(20), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
        assert_eq!(
            reactor.stats().pending_calls,
            0,
            "the 30 s timer was cancelled"
        );
    }
}
