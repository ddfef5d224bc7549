//! A reactor driven by tokio on tokio's own thread (geventreactor's model):
//! the reactor's poller descriptor sits in tokio's I/O driver through
//! [`AsyncFd`], its next deadline in tokio's timer, and each time either
//! fires the reactor takes one turn that does not block.
//!
//! ```text
//!   tokio current-thread runtime (one thread)
//!   +---------------------------------------------------------------+
//!   |  I/O driver (epoll) ---- reactor's epoll fd readable ----+    |
//!   |  timer wheel ---------- reactor's next deadline --------+|    |
//!   |                                                          vv    |
//!   |  host task:  loop { run_once(0); wait fd | deadline }         |
//!   |  tokio tasks (spawn_local, hyper, reqwest, ...)                |
//!   +---------------------------------------------------------------+
//! ```
//!
//! The host task clears tokio's readiness *before* a turn, so an event
//! that arrives during the turn makes the descriptor readable again. When
//! the reactor has work ready at once (a task woken, a call posted, more
//! events than one poll takes) the host yields to tokio instead of
//! waiting, so neither loop starves the other.
//!
//! The host task also gives the reactor its waker
//! ([`Reactor::set_host_waker`]): a tokio task on this thread that wakes a
//! torsion task (a [`from_future`](crate::from_future) finishing, say)
//! wakes the host task directly, where it would otherwise write the
//! reactor's eventfd for tokio's driver to find in its next poll.

use std::future::poll_fn;
use std::os::fd::OwnedFd;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Poll, Wake, Waker};
use std::time::Duration;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::time::{Instant, Sleep};
use torsion::Reactor;
use torsion::error::ReactorError;

use crate::Error;

/// Runs `reactor` inside the tokio runtime this future is polled on,
/// until the reactor has finished (after [`Reactor::stop`] and its whole
/// shutdown), as [`Reactor::run_with`]`(Signals::LeaveAlone)` would on a
/// thread of its own. Await it on the thread that made the reactor: from
/// `Runtime::block_on` of a current-thread runtime, or a `LocalSet`
/// (`spawn_local`); the future is `!Send`, as the reactor is.
///
/// While it runs, torsion's callbacks and tokio's tasks take turns on the
/// one thread, and torsion code runs inside the runtime's context, so
/// it can use tokio's timers, sockets and `spawn` directly.
///
/// The runtime needs its I/O and time drivers (`enable_all`). SIGINT and
/// SIGTERM are left alone; call
/// [`Reactor::install_signal_handlers`] first to stop on them. Dropping
/// the future leaves the reactor running but undriven.
///
/// ```
/// use std::time::Duration;
/// use torsion::Reactor;
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let reactor = Reactor::new()?;
///     let r = reactor.clone();
///     // A tokio timer stops the torsion reactor.
///     tokio::spawn(async move {
///         tokio::time::sleep(Duration::from_millis(5)).await;
///     });
///     reactor.call_later(Duration::from_millis(10), move || r.stop().unwrap());
///     torsion_tokio::run(&reactor).await?;
///     Ok(())
/// }
/// ```
pub async fn run(reactor: &Reactor) -> Result<(), Error> {
    tokio::runtime::Handle::try_current()?;
    reactor.start()?;
    let watched = watch(reactor)?;
    let asked = Arc::new(TurnAsked::default());
    reactor.set_host_waker(Some(Waker::from(asked.clone())));
    let _hosting = Hosting(reactor);
    let mut deadline = pin!(tokio::time::sleep(Duration::ZERO));
    loop {
        reactor
            .run_once(Some(Duration::ZERO))
            .map_err(Error::io("a turn of the reactor"))?;
        if reactor.is_finished() {
            return Ok(());
        }
        match reactor.next_timeout() {
            Some(wait) if wait.is_zero() => tokio::task::yield_now().await,
            Some(wait) => {
                deadline.as_mut().reset(Instant::now() + timer_wait(wait));
                wait_for_events(&asked, &watched, Some(deadline.as_mut())).await?;
            }
            None => wait_for_events(&asked, &watched, None).await?,
        }
    }
}

/// How long to ask tokio's timer for, to wake for a deadline `wait` away.
/// tokio counts whole milliseconds and rounds up, which made a 10 ms
/// torsion timer fire after 11 to 12; waking a millisecond early instead
/// costs at most one more short sleep, and torsion's timers then fire
/// less than a millisecond late.
fn timer_wait(wait: Duration) -> Duration {
    const TICK: Duration = Duration::from_millis(1);
    if wait > TICK { wait - TICK } else { wait }
}

/// The reactor's poller descriptor in tokio's I/O driver. tokio watches a
/// duplicate that it owns, while the reactor keeps (and alone polls) the
/// poller itself.
fn watch(reactor: &Reactor) -> Result<AsyncFd<OwnedFd>, Error> {
    let fd = reactor
        .poller_fd()
        .map_err(Error::io("duplicating the reactor's descriptor"))?;
    // tokio 1.54 deprecates the safe constructors because an arbitrary
    // `AsRawFd` may close its descriptor while registered; an `OwnedFd`
    // owned by the AsyncFd cannot, so this use is sound without `unsafe`.
    #[allow(deprecated)]
    AsyncFd::with_interest(fd, Interest::READABLE)
        .map_err(Error::io("watching the reactor's descriptor"))
}

/// Takes the host task's waker back from the reactor when the host stops
/// driving it (finished, failed, or dropped): wake-ups must then make the
/// descriptor readable again, for whoever drives the reactor next.
struct Hosting<'a>(&'a Reactor);

impl Drop for Hosting<'_> {
    fn drop(&mut self) {
        self.0.set_host_waker(None);
    }
}

/// The waker the host task gives the reactor: notes that the reactor asked
/// for a turn (work from this thread, a new earliest timer, a stop), then
/// wakes the host task. The note tells that wake-up from the others the
/// host task gets (a `LocalSet` polls its future whenever any of its tasks
/// is woken), which need no turn.
#[derive(Default)]
struct TurnAsked {
    asked: AtomicBool,
    host: Mutex<Option<Waker>>,
}

impl TurnAsked {
    /// Wakes `waker` from now on.
    fn wake_this(&self, waker: &Waker) {
        let mut host = self.host.lock().unwrap_or_else(PoisonError::into_inner);
        if !host.as_ref().is_some_and(|host| host.will_wake(waker)) {
            *host = Some(waker.clone());
        }
    }

    /// True once after each wake-up.
    fn take(&self) -> bool {
        self.asked.swap(false, Ordering::AcqRel)
    }
}

impl Wake for TurnAsked {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.asked.store(true, Ordering::Release);
        let host = self
            .host
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(host) = host {
            host.wake();
        }
    }
}

/// Waits until the reactor's descriptor is readable, `deadline` passes, or
/// the reactor asks for a turn directly, clearing tokio's readiness so
/// that the next event wakes it again.
async fn wait_for_events(
    asked: &TurnAsked,
    watched: &AsyncFd<OwnedFd>,
    mut deadline: Option<std::pin::Pin<&mut Sleep>>,
) -> Result<(), Error> {
    poll_fn(|cx| {
        asked.wake_this(cx.waker());
        let readable = match watched.poll_read_ready(cx) {
            Poll::Ready(Ok(mut guard)) => {
                guard.clear_ready();
                true
            }
            Poll::Ready(Err(error)) => {
                return Poll::Ready(Err(Error::io("waiting for the reactor's descriptor")(
                    error,
                )));
            }
            Poll::Pending => false,
        };
        // Both taken, so neither makes the next wait return at once.
        if asked.take() | readable {
            return Poll::Ready(Ok(()));
        }
        match deadline.as_mut().map(|sleep| sleep.as_mut().poll(cx)) {
            Some(Poll::Ready(())) => Poll::Ready(Ok(())),
            _ => Poll::Pending,
        }
    })
    .await
}

/// Builds a current-thread tokio runtime with a `LocalSet` on this thread
/// and runs `reactor` inside it until the reactor has finished: the
/// blocking counterpart of [`run`], and a drop-in for
/// [`Reactor::run_with`]`(Signals::LeaveAlone)` that lets torsion code use
/// tokio (and `tokio::task::spawn_local`) throughout.
///
/// ```
/// use std::time::Duration;
/// use torsion::Reactor;
///
/// let reactor = Reactor::new()?;
/// let r = reactor.clone();
/// reactor.call_later(Duration::from_millis(1), move || {
///     // torsion code, inside tokio: tokio's timers work here.
///     let r = r.clone();
///     tokio::task::spawn_local(async move {
///         tokio::time::sleep(Duration::from_millis(5)).await;
///         r.stop().unwrap();
///     });
/// });
/// torsion_tokio::block_on_reactor(&reactor)?;
/// assert!(reactor.is_finished());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn block_on_reactor(reactor: &Reactor) -> Result<(), Error> {
    // Refused as `run_with` refuses, before anything is built: from a
    // callback of the reactor itself, say, which runs inside the runtime.
    if reactor.is_finished() {
        return Err(ReactorError::NotRestartable.into());
    }
    if reactor.has_started() {
        return Err(ReactorError::AlreadyRunning.into());
    }
    // tokio panics when a runtime is started inside another.
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::InsideRuntime);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::io("building a tokio runtime"))?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, run(reactor))
}
