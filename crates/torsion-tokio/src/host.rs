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

use std::future::poll_fn;
use std::os::fd::OwnedFd;
use std::pin::pin;
use std::task::Poll;
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
                wait_for_events(&watched, Some(deadline.as_mut())).await?;
            }
            None => wait_for_events(&watched, None).await?,
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

/// Waits until the reactor's descriptor is readable or `deadline` passes,
/// clearing tokio's readiness so that the next event wakes it again.
async fn wait_for_events(
    watched: &AsyncFd<OwnedFd>,
    mut deadline: Option<std::pin::Pin<&mut Sleep>>,
) -> Result<(), Error> {
    poll_fn(|cx| {
        match watched.poll_read_ready(cx) {
            Poll::Ready(Ok(mut guard)) => {
                guard.clear_ready();
                return Poll::Ready(Ok(()));
            }
            Poll::Ready(Err(error)) => {
                return Poll::Ready(Err(Error::io("waiting for the reactor's descriptor")(
                    error,
                )));
            }
            Poll::Pending => {}
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
