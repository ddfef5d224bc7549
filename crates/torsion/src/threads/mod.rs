//! Threads: blocking code off the reactor, and the reactor from other
//! threads.
//!
//! The reactor thread must never block: a slow hash, a blocking database
//! driver or a synchronous file read stalls every timer and connection on
//! it. Such work goes to a [`ThreadPool`], and its result comes back to the
//! reactor thread as a [`Deferred`]:
//!
//! ```text
//!   reactor thread                          worker thread (pool)
//!   defer_to_thread(f) --job-------------->  f()
//!   Deferred<T> <-- reactor's queue (result) -+
//! ```
//!
//! The other direction, a thread that needs the reactor to do something and
//! waits for the answer, is [`blocking_call_from_thread`]. It refuses to run
//! on the reactor thread itself (that could only deadlock) and returns an
//! error once the reactor has stopped, instead of hanging.
//!
//! Every reactor has a default pool ([`Reactor::thread_pool`], created on
//! first use, 0 to 10 threads named `torsion-pool-N`), stopped and joined
//! during the reactor's shutdown. Pools of your own are joined by
//! [`ThreadPool::stop`] or when their last clone is dropped.
//!
//! ```
//! use torsion::Reactor;
//!
//! let reactor = Reactor::new()?;
//! let r = reactor.clone();
//! let sum = reactor
//!     .defer_to_thread(|| (1..=1_000_000u64).sum::<u64>())
//!     .map(move |sum| {
//!         println!("sum: {sum}");
//!         r.stop().unwrap();
//!         sum
//!     });
//! reactor.run()?;
//! # drop(sum);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod blocking;
mod job;
mod pool;

#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::rc::Rc;

use crate::error::PoolStopped;
use crate::failure::catch_panic;
use crate::reactor::introspect::{Snapshot, ThreadPoolInfo};
use crate::reactor::{Extension, Phase, SystemEvent};
use crate::{Deferred, Failure, Reactor};

pub use blocking::blocking_call_from_thread;
pub use pool::{StopMode, ThreadPool, ThreadPoolStats};

use job::ThreadJob;

/// The name of the reactor's default pool; its threads are
/// `torsion-pool-1`, `torsion-pool-2`, ...
pub const REACTOR_POOL_NAME: &str = "torsion-pool";

/// The default bounds of the reactor's pool (Twisted's: 0 to 10 threads).
pub const REACTOR_POOL_MIN: usize = 0;
/// See [`REACTOR_POOL_MIN`].
pub const REACTOR_POOL_MAX: usize = 10;

/// What a reactor keeps for threads, in its extension slot: its default
/// pool, once made. (The Deferreds waiting for results from any pool wait
/// in the reactor's own [`ThreadResults`](crate::reactor::ThreadResults).)
#[derive(Default)]
pub(crate) struct ReactorThreads {
    pool: RefCell<Option<ThreadPool>>,
    /// Shutdown has stopped the default pool; a pool asked for later is
    /// handed out stopped, so no thread outlives the reactor.
    closed: std::cell::Cell<bool>,
}

impl ReactorThreads {
    /// `reactor`'s thread state, made on first use.
    #[inline]
    pub(crate) fn of(reactor: &Reactor) -> Rc<ReactorThreads> {
        reactor.extension::<ReactorThreads>()
    }

    /// The reactor's default pool (see [`Reactor::thread_pool`]).
    fn default_pool(&self, reactor: &Reactor) -> ThreadPool {
        self.with_default_pool(reactor, ThreadPool::clone)
    }

    /// Calls `f` with the reactor's default pool, borrowed: a job submitted
    /// this way costs no count on the pool's shared state.
    #[inline]
    fn with_default_pool<R>(&self, reactor: &Reactor, f: impl FnOnce(&ThreadPool) -> R) -> R {
        if let Some(pool) = &*self.pool.borrow() {
            return f(pool);
        }
        f(&self.start_default_pool(reactor))
    }

    /// Makes the default pool on first use, stopped if the reactor has
    /// already shut down.
    #[cold]
    fn start_default_pool(&self, reactor: &Reactor) -> ThreadPool {
        let pool = ThreadPool::new(REACTOR_POOL_NAME, REACTOR_POOL_MIN, REACTOR_POOL_MAX);
        if self.closed.get() || reactor.is_finished() {
            pool.stop(StopMode::DropQueued);
            return pool;
        }
        *self.pool.borrow_mut() = Some(pool.clone());
        let handle = reactor.handle();
        let weak = reactor.downgrade();
        reactor.add_system_event_trigger(Phase::During, SystemEvent::Shutdown, move || {
            let Some(reactor) = weak.upgrade() else {
                return;
            };
            let threads = ReactorThreads::of(&reactor);
            threads.closed.set(true);
            let pool = threads.pool.borrow_mut().take();
            if let Some(pool) = pool {
                stop_blocking_reactor(&handle, &pool);
            }
        });
        pool
    }
}

impl Extension for ReactorThreads {
    /// The reactor has finished: drop the jobs still queued (their
    /// Deferreds then fail with `ReactorError::Stopped`).
    fn reactor_finished(&self, _reactor: &Reactor) {
        self.closed.set(true);
        let pool = self.pool.borrow_mut().take();
        if let Some(pool) = pool {
            pool.stop(StopMode::DropQueued);
        }
    }

    /// The default pool's counters, once it is made.
    fn introspect(&self, _reactor: &Reactor, snapshot: &mut Snapshot) {
        if let Some(pool) = &*self.pool.borrow() {
            let stats = pool.stats();
            snapshot.thread_pools.push(ThreadPoolInfo::new(
                pool.name(),
                stats.workers,
                stats.workers.saturating_sub(stats.idle),
                stats.queued,
                stats.completed,
                stats.max,
            ));
        }
    }
}

impl Reactor {
    /// The reactor's default thread pool (Twisted's `getThreadPool`),
    /// created on first use with [`REACTOR_POOL_MIN`] to
    /// [`REACTOR_POOL_MAX`] threads. It is stopped during shutdown (queued
    /// jobs still run, [`StopMode::FinishQueued`]) and its threads joined
    /// before [`run`](Reactor::run) returns. Resize it with
    /// [`ThreadPool::adjust`].
    pub fn thread_pool(&self) -> ThreadPool {
        self.with_extension(|threads: &ReactorThreads| threads.default_pool(self))
    }

    /// Runs `f` on a thread of the reactor's pool and forgets it (Twisted's
    /// `callInThread`). Fails with [`PoolStopped`] once shutdown has
    /// stopped the pool.
    pub fn call_in_thread(&self, f: impl FnOnce() + Send + 'static) -> Result<(), PoolStopped> {
        self.with_default_pool(|pool| pool.call_in_thread(f))
    }

    /// Calls `f` with the reactor's default pool, without taking a count
    /// on it as [`thread_pool`](Reactor::thread_pool) does.
    #[inline]
    fn with_default_pool<R>(&self, f: impl FnOnce(&ThreadPool) -> R) -> R {
        self.with_extension(|threads: &ReactorThreads| threads.with_default_pool(self, f))
    }

    /// Runs `f` on a thread of the reactor's pool and returns a Deferred of
    /// its result, fired on the reactor thread (Twisted's `deferToThread`).
    /// A panic in `f` fails the Deferred with a
    /// [`Panicked`](crate::error::Panicked) failure. Cancelling the Deferred
    /// before a worker has started `f` means `f` never runs.
    ///
    /// ```
    /// use torsion::Reactor;
    ///
    /// let reactor = Reactor::new()?;
    /// let r = reactor.clone();
    /// drop(reactor.spawn(async move {
    ///     let digest = r.defer_to_thread(|| blocking_checksum(b"payload")).await?;
    ///     assert_eq!(digest, blocking_checksum(b"payload"));
    ///     r.stop().unwrap();
    ///     Ok::<(), torsion::Failure>(())
    /// }));
    /// reactor.run()?;
    ///
    /// fn blocking_checksum(data: &[u8]) -> u64 {
    ///     data.iter().fold(0xcbf29ce484222325, |h, &b| (h ^ b as u64).wrapping_mul(0x100000001b3))
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn defer_to_thread<T, F>(&self, f: F) -> Deferred<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.with_default_pool(|pool| defer_with(self, pool, move || catch_panic(f)))
    }

    /// Like [`defer_to_thread`](Reactor::defer_to_thread) for a function
    /// that can fail: its `Err` fails the Deferred.
    ///
    /// ```
    /// use torsion::Reactor;
    ///
    /// let reactor = Reactor::new()?;
    /// let r = reactor.clone();
    /// drop(reactor.spawn(async move {
    ///     let read = r.defer_to_thread_result(|| std::fs::read("/no/such/file")).await;
    ///     assert!(read.unwrap_err().is::<std::io::Error>());
    ///     r.stop().unwrap();
    ///     Ok::<(), torsion::Failure>(())
    /// }));
    /// reactor.run()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn defer_to_thread_result<T, E, F>(&self, f: F) -> Deferred<T>
    where
        F: FnOnce() -> Result<T, E> + Send + 'static,
        E: Into<Failure>,
        T: Send + 'static,
    {
        self.with_default_pool(|pool| {
            defer_with(self, pool, move || {
                catch_panic(f).and_then(|result| result.map_err(Into::into))
            })
        })
    }
}

/// Stops `pool` from a shutdown trigger on the reactor thread. The reactor
/// runs nothing more from other threads while the pool is joined, so the
/// call queue is closed first: a worker blocked in
/// [`blocking_call_from_thread`] is told the reactor stopped instead of
/// waiting for a call that would never run.
pub(crate) fn stop_blocking_reactor(handle: &crate::ReactorHandle, pool: &ThreadPool) {
    handle.refuse_calls();
    pool.stop(StopMode::FinishQueued);
}

/// Runs `f` on a thread of `pool` and returns a Deferred of its result,
/// fired on `reactor`'s thread (Twisted's `deferToThreadPool`). Panics and
/// cancellation behave as in [`Reactor::defer_to_thread`]; a stopped pool
/// fails the Deferred with [`PoolStopped`].
///
/// ```
/// use torsion::Reactor;
/// use torsion::threads::{StopMode, ThreadPool, defer_to_thread_pool};
///
/// let reactor = Reactor::new()?;
/// let pool = ThreadPool::new("io", 1, 2);
/// let r = reactor.clone();
/// let length = defer_to_thread_pool(&reactor, &pool, || "blocking".len()).map(move |n| {
///     r.stop().unwrap();
///     n
/// });
/// reactor.run()?;
/// pool.stop(StopMode::FinishQueued);
/// # drop(length);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn defer_to_thread_pool<T, F>(reactor: &Reactor, pool: &ThreadPool, f: F) -> Deferred<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    defer_with(reactor, pool, move || catch_panic(f))
}

/// [`defer_to_thread_pool`] for a function that can fail: its `Err` fails
/// the Deferred.
pub fn defer_to_thread_pool_result<T, E, F>(
    reactor: &Reactor,
    pool: &ThreadPool,
    f: F,
) -> Deferred<T>
where
    F: FnOnce() -> Result<T, E> + Send + 'static,
    E: Into<Failure>,
    T: Send + 'static,
{
    defer_with(reactor, pool, move || {
        catch_panic(f).and_then(|result| result.map_err(Into::into))
    })
}

fn defer_with<T, F>(reactor: &Reactor, pool: &ThreadPool, job: F) -> Deferred<T>
where
    F: FnOnce() -> Result<T, Failure> + Send + 'static,
    T: Send + 'static,
{
    let results = reactor.thread_results();
    let key = results.next_key();
    let job = ThreadJob::new(key, job, reactor.handle());
    let deferred = results.pending(key, job.clone());
    if let Err(stopped) = pool.submit_task(job) {
        results.complete::<T>(key, Err(Failure::new(stopped)));
    }
    deferred
}
