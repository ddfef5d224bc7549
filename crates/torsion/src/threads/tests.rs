use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::*;
use crate::error::{Cancelled, OnReactorThread, Panicked, ReactorError};
use crate::sync::Arc;
use crate::testing::net_support::turn_until;
use crate::time::defer_later;

const LIMIT: Duration = Duration::from_secs(10);

/// This thread's kernel id, from `/proc/thread-self`.
/// The calling thread: its id and its name, as `/proc` tells them.
fn thread_tid() -> String {
    let link = std::fs::read_link("/proc/thread-self").unwrap();
    let tid = link.file_name().unwrap().to_string_lossy().into_owned();
    format!("{tid}/{}", thread_comm(&tid).unwrap_or_default())
}

fn thread_comm(tid: &str) -> Option<String> {
    let comm = std::path::Path::new("/proc/self/task")
        .join(tid)
        .join("comm");
    Some(std::fs::read_to_string(comm).ok()?.trim_end().to_owned())
}

/// Whether the thread `thread_tid` named is alive: the id and the name
/// both, since another test's new thread may be given a finished one's id.
fn thread_alive(thread: &str) -> bool {
    let (tid, name) = thread.split_once('/').unwrap();
    thread_comm(tid).is_some_and(|comm| comm == name)
}

/// The names of this process's threads that start with `prefix` (names are
/// cut to 15 bytes by the kernel).
fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim_end().starts_with(prefix))
        .count()
}

fn wait_until(mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + LIMIT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Collects a Deferred's outcome.
fn outcome<T: 'static>(deferred: Deferred<T>) -> Rc<RefCell<Option<Result<T, Failure>>>> {
    let slot = Rc::new(RefCell::new(None));
    let into = slot.clone();
    drop(deferred.both(move |result| {
        *into.borrow_mut() = Some(result);
        Ok::<(), Failure>(())
    }));
    slot
}

/// Stops the reactor (starting it first if needed) and turns it until
/// shutdown has finished.
fn stop_and_finish(reactor: &Reactor) {
    if !reactor.is_running() && !reactor.is_finished() {
        let _ = reactor.start();
    }
    let _ = reactor.stop();
    let deadline = Instant::now() + LIMIT;
    while !reactor.is_finished() {
        assert!(Instant::now() < deadline, "shutdown did not finish");
        reactor.run_once(Some(Duration::from_millis(10))).unwrap();
    }
}

/// A gate jobs wait on until the test opens it.
fn gate() -> (
    mpsc::Sender<()>,
    Arc<crate::sync::Mutex<mpsc::Receiver<()>>>,
) {
    let (open, wait) = mpsc::channel();
    (open, Arc::new(crate::sync::Mutex::new(wait)))
}

// --- ThreadPool ---

#[test]
fn threads_are_named_after_the_pool() {
    let pool = ThreadPool::new("named", 0, 2);
    let (sender, receiver) = mpsc::channel();
    pool.call_in_thread(move || {
        sender
            .send(std::thread::current().name().map(str::to_owned))
            .unwrap()
    })
    .unwrap();
    assert_eq!(receiver.recv().unwrap().as_deref(), Some("named-1"));
}

#[test]
fn min_workers_start_with_the_pool() {
    let pool = ThreadPool::new("tp-min", 3, 5);
    wait_until(|| pool.stats().idle == 3);
    assert_eq!(pool.stats().workers, 3);
    // A thread names itself as it starts.
    wait_until(|| threads_named("tp-min-") == 3);
}

#[test]
fn bounds_are_normalized() {
    let pool = ThreadPool::new("tp-norm", 7, 0);
    let stats = pool.stats();
    assert_eq!((stats.min, stats.max), (1, 1));
}

#[test]
fn workers_start_on_demand_up_to_max() {
    let pool = ThreadPool::new("tp-demand", 0, 3);
    assert_eq!(pool.stats().workers, 0);
    let (open, wait) = gate();
    for _ in 0..6 {
        let wait = wait.clone();
        pool.call_in_thread(move || {
            let _ = wait.lock().unwrap().recv();
        })
        .unwrap();
    }
    // Workers wake or start one another while jobs remain queued.
    wait_until(|| pool.stats().workers == 3);
    assert!(pool.stats().queued >= 3);
    for _ in 0..6 {
        open.send(()).unwrap();
    }
    wait_until(|| pool.stats().completed == 6);
    assert_eq!(pool.stats().workers, 3);
}

#[test]
fn jobs_run_in_fifo_order() {
    let pool = ThreadPool::new("tp-fifo", 0, 1);
    let (sender, receiver) = mpsc::channel();
    for n in 0..50 {
        let sender = sender.clone();
        pool.call_in_thread(move || sender.send(n).unwrap())
            .unwrap();
    }
    let order: Vec<i32> = receiver.iter().take(50).collect();
    assert_eq!(order, (0..50).collect::<Vec<_>>());
}

#[test]
fn stats_count_workers_idle_queued_and_completed() {
    let pool = ThreadPool::new("tp-stats", 0, 1);
    let (open, wait) = gate();
    let (started, is_started) = mpsc::channel();
    let waiting = wait.clone();
    pool.call_in_thread(move || {
        started.send(()).unwrap();
        let _ = waiting.lock().unwrap().recv();
    })
    .unwrap();
    is_started.recv().unwrap();
    pool.call_in_thread(|| {}).unwrap();
    pool.call_in_thread(|| {}).unwrap();
    let stats = pool.stats();
    assert_eq!(
        (stats.workers, stats.idle, stats.queued, stats.completed),
        (1, 0, 2, 0)
    );
    open.send(()).unwrap();
    wait_until(|| pool.stats().completed == 3);
    wait_until(|| pool.stats().idle == 1);
    let stats = pool.stats();
    assert_eq!((stats.workers, stats.idle, stats.queued), (1, 1, 0));
}

#[test]
fn a_panicking_job_is_caught_and_the_worker_survives() {
    let pool = ThreadPool::new("tp-panic", 0, 1);
    pool.call_in_thread(|| panic!("job exploded")).unwrap();
    let (sender, receiver) = mpsc::channel();
    pool.call_in_thread(move || sender.send(thread_tid()).unwrap())
        .unwrap();
    receiver.recv_timeout(LIMIT).unwrap();
    wait_until(|| pool.stats().completed == 2);
    assert_eq!(pool.stats().workers, 1);
}

#[test]
fn adjust_starts_workers_up_to_the_new_min() {
    let pool = ThreadPool::new("tp-grow", 0, 2);
    pool.adjust(4, 6);
    wait_until(|| pool.stats().idle == 4);
    let stats = pool.stats();
    assert_eq!((stats.workers, stats.min, stats.max), (4, 4, 6));
}

#[test]
fn adjust_raising_max_starts_workers_for_queued_jobs() {
    let pool = ThreadPool::new("tp-raise", 0, 1);
    let (open, wait) = gate();
    for _ in 0..3 {
        let wait = wait.clone();
        pool.call_in_thread(move || {
            let _ = wait.lock().unwrap().recv();
        })
        .unwrap();
    }
    wait_until(|| pool.stats().queued == 2);
    assert_eq!(pool.stats().workers, 1);
    pool.adjust(0, 3);
    assert_eq!(pool.stats().workers, 3);
    for _ in 0..3 {
        open.send(()).unwrap();
    }
    wait_until(|| pool.stats().completed == 3);
}

#[test]
fn adjust_lowering_max_retires_extra_workers() {
    let pool = ThreadPool::new("tp-shrink", 4, 4);
    let (sender, receiver) = mpsc::channel();
    for _ in 0..4 {
        let sender = sender.clone();
        pool.call_in_thread(move || sender.send(thread_tid()).unwrap())
            .unwrap();
    }
    wait_until(|| pool.stats().idle == 4);
    pool.adjust(0, 1);
    wait_until(|| pool.stats().workers == 1);
    wait_until(|| threads_named("tp-shrink-") == 1);
    drop(receiver);
}

/// How many of `stop_joins_every_thread`'s workers have ended: a thread
/// destroys its thread-locals as its last act, before a join of it returns.
static JOIN_TEST_ENDED: AtomicUsize = AtomicUsize::new(0);

struct CountsItsEnd;

impl Drop for CountsItsEnd {
    fn drop(&mut self) {
        JOIN_TEST_ENDED.fetch_add(1, Ordering::SeqCst);
    }
}

thread_local! {
    static END_MARK: CountsItsEnd = const { CountsItsEnd };
}

#[test]
fn stop_joins_every_thread() {
    let pool = ThreadPool::new("tp-join", 2, 4);
    let (sender, receiver) = mpsc::channel();
    let (open, wait) = gate();
    for _ in 0..4 {
        let (sender, wait) = (sender.clone(), wait.clone());
        pool.call_in_thread(move || {
            END_MARK.with(|_| {});
            sender.send(thread_tid()).unwrap();
            let _ = wait.lock().unwrap().recv();
        })
        .unwrap();
    }
    let tids: Vec<String> = receiver.iter().take(4).collect();
    assert!(tids.iter().all(|tid| thread_alive(tid)));
    assert_eq!(threads_named("tp-join-"), 4);
    drop(open);
    pool.stop(StopMode::FinishQueued);
    // Every worker has ended by the time stop returns...
    assert_eq!(JOIN_TEST_ENDED.load(Ordering::SeqCst), 4);
    assert_eq!(pool.stats().workers, 0);
    // ...and the kernel takes their /proc entries away a moment after a
    // join returns (on a loaded machine, a visible moment).
    wait_until(|| tids.iter().all(|tid| !thread_alive(tid)));
    wait_until(|| threads_named("tp-join-") == 0);
}

#[test]
fn stop_finish_queued_runs_every_queued_job() {
    let pool = ThreadPool::new("tp-finish", 0, 1);
    let (open, wait) = gate();
    pool.call_in_thread(move || {
        let _ = wait.lock().unwrap().recv();
    })
    .unwrap();
    let (sender, receiver) = mpsc::channel();
    for n in 0..5 {
        let sender = sender.clone();
        pool.call_in_thread(move || sender.send(n).unwrap())
            .unwrap();
    }
    drop(sender);
    open.send(()).unwrap();
    pool.stop(StopMode::FinishQueued);
    assert_eq!(receiver.iter().collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
}

#[test]
fn stop_drop_queued_drops_unstarted_jobs() {
    let pool = ThreadPool::new("tp-drop", 0, 1);
    let (open, wait) = gate();
    let (started, is_started) = mpsc::channel();
    pool.call_in_thread(move || {
        started.send(()).unwrap();
        let _ = wait.lock().unwrap().recv();
    })
    .unwrap();
    is_started.recv().unwrap();
    let (sender, receiver) = mpsc::channel();
    for n in 0..5 {
        let sender = sender.clone();
        pool.call_in_thread(move || sender.send(n).unwrap())
            .unwrap();
    }
    drop(sender);
    let stopper = {
        let pool = pool.clone();
        std::thread::spawn(move || pool.stop(StopMode::DropQueued))
    };
    wait_until(|| pool.stats().queued == 0);
    open.send(()).unwrap();
    stopper.join().unwrap();
    assert_eq!(receiver.iter().count(), 0);
    assert_eq!(pool.stats().completed, 1);
}

#[test]
fn stop_drop_queued_drops_the_function_of_a_queued_deferred_job() {
    let reactor = Reactor::new().unwrap();
    let pool = ThreadPool::new("tp-drop-deferred", 0, 1);
    let (open, wait) = gate();
    let (started, is_started) = mpsc::channel();
    pool.call_in_thread(move || {
        started.send(()).unwrap();
        let _ = wait.lock().unwrap().recv();
    })
    .unwrap();
    is_started.recv().unwrap();
    let (sender, receiver) = mpsc::channel::<()>();
    let deferred = defer_to_thread_pool(&reactor, &pool, move || drop(sender));
    let stopper = {
        let pool = pool.clone();
        std::thread::spawn(move || pool.stop(StopMode::DropQueued))
    };
    wait_until(|| pool.stats().queued == 0);
    open.send(()).unwrap();
    stopper.join().unwrap();
    // The function (and the sender it holds) is gone, though its Deferred
    // is still waiting.
    assert_eq!(
        receiver.recv_timeout(LIMIT),
        Err(mpsc::RecvTimeoutError::Disconnected)
    );
    drop(deferred);
}

#[test]
fn work_after_stop_is_refused() {
    let pool = ThreadPool::new("tp-refuse", 0, 1);
    pool.stop(StopMode::FinishQueued);
    assert!(pool.is_stopped());
    assert_eq!(pool.call_in_thread(|| {}), Err(PoolStopped));
}

#[test]
fn dropping_the_last_clone_stops_and_joins_the_pool() {
    let pool = ThreadPool::new("tp-dropped", 2, 2);
    let (sender, receiver) = mpsc::channel();
    for _ in 0..2 {
        let sender = sender.clone();
        pool.call_in_thread(move || sender.send(thread_tid()).unwrap())
            .unwrap();
    }
    let tids: Vec<String> = receiver.iter().take(2).collect();
    drop(pool);
    assert!(tids.iter().all(|tid| !thread_alive(tid)));
}

#[test]
fn stop_from_a_worker_joins_the_others_without_deadlock() {
    let pool = ThreadPool::new("tp-self", 2, 2);
    let (sender, receiver) = mpsc::channel();
    let inside = pool.clone();
    pool.call_in_thread(move || {
        inside.stop(StopMode::FinishQueued);
        sender.send(()).unwrap();
    })
    .unwrap();
    receiver.recv_timeout(LIMIT).unwrap();
    wait_until(|| pool.stats().workers == 0);
}

// --- Deferreds from threads ---

#[test]
fn defer_to_thread_panic_becomes_a_panicked_failure() {
    let reactor = Reactor::new().unwrap();
    let result = outcome(reactor.defer_to_thread(|| -> u32 { panic!("worker exploded") }));
    turn_until(&reactor, LIMIT, || result.borrow().is_some());
    let failure = result.borrow_mut().take().unwrap().unwrap_err();
    let panicked = failure
        .downcast_ref::<Panicked>()
        .expect("a Panicked failure");
    assert!(panicked.message.contains("worker exploded"));
    stop_and_finish(&reactor);
}

#[test]
fn defer_to_thread_result_error_fails_the_deferred() {
    let reactor = Reactor::new().unwrap();
    let result = outcome(reactor.defer_to_thread_result(|| "x".parse::<u32>().map(|n| n + 1)));
    turn_until(&reactor, LIMIT, || result.borrow().is_some());
    let failure = result.borrow_mut().take().unwrap().unwrap_err();
    assert!(failure.is::<std::num::ParseIntError>());
    stop_and_finish(&reactor);
}

#[test]
fn cancelling_before_a_worker_starts_skips_the_function() {
    let reactor = Reactor::new().unwrap();
    let pool = ThreadPool::new("tp-cancel", 0, 1);
    let (open, wait) = gate();
    pool.call_in_thread(move || {
        let _ = wait.lock().unwrap().recv();
    })
    .unwrap();
    let (ran, did_run) = mpsc::channel::<()>();
    let deferred = defer_to_thread_pool(&reactor, &pool, move || ran.send(()).unwrap());
    deferred.cancel();
    let result = outcome(deferred);
    assert!(
        result
            .borrow()
            .as_ref()
            .unwrap()
            .as_ref()
            .unwrap_err()
            .is::<Cancelled>()
    );
    open.send(()).unwrap();
    pool.stop(StopMode::FinishQueued);
    assert!(did_run.try_recv().is_err());
    assert_eq!(reactor.thread_results().len(), 0);
}

#[test]
fn defer_to_thread_pool_runs_on_the_given_pool() {
    let reactor = Reactor::new().unwrap();
    let pool = ThreadPool::new("tp-given", 0, 1);
    let result = outcome(defer_to_thread_pool(&reactor, &pool, || {
        std::thread::current().name().map(str::to_owned)
    }));
    turn_until(&reactor, LIMIT, || result.borrow().is_some());
    let name = result.borrow_mut().take().unwrap().unwrap();
    assert_eq!(name.as_deref(), Some("tp-given-1"));
    stop_and_finish(&reactor);
}

#[test]
fn a_stopped_pool_fails_the_deferred_at_once() {
    let reactor = Reactor::new().unwrap();
    let pool = ThreadPool::new("tp-stopped", 0, 1);
    pool.stop(StopMode::DropQueued);
    let result = outcome(defer_to_thread_pool(&reactor, &pool, || 1));
    let failure = result.borrow_mut().take().unwrap().unwrap_err();
    assert!(failure.is::<PoolStopped>());
}

#[test]
fn the_reactor_pool_is_made_on_first_use_with_twisted_bounds() {
    let reactor = Reactor::new().unwrap();
    assert!(ReactorThreads::of(&reactor).pool.borrow().is_none());
    let pool = reactor.thread_pool();
    let stats = pool.stats();
    assert_eq!((stats.min, stats.max, stats.workers), (0, 10, 0));
    assert_eq!(pool.name(), REACTOR_POOL_NAME);
    assert_eq!(reactor.thread_pool().name(), pool.name());
}

#[test]
fn the_reactor_pool_is_joined_when_the_reactor_finishes() {
    let reactor = Reactor::new().unwrap();
    let pool = reactor.thread_pool();
    pool.adjust(3, 10);
    let tids = Arc::new(crate::sync::Mutex::new(Vec::new()));
    let mut pending = Vec::new();
    for _ in 0..3 {
        let tids = tids.clone();
        pending.push(outcome(reactor.defer_to_thread(move || {
            tids.lock().unwrap().push(thread_tid());
            std::thread::sleep(Duration::from_millis(20));
        })));
    }
    turn_until(&reactor, LIMIT, || {
        pending.iter().all(|p| p.borrow().is_some())
    });
    let tids = tids.lock().unwrap().clone();
    assert_eq!(tids.len(), 3);
    assert!(tids.iter().all(|tid| thread_alive(tid)));
    stop_and_finish(&reactor);
    assert!(tids.iter().all(|tid| !thread_alive(tid)));
    assert!(pool.is_stopped());
    assert_eq!(pool.stats().workers, 0);
}

#[test]
fn work_still_running_at_shutdown_fails_its_deferred_with_stopped() {
    let reactor = Reactor::new().unwrap();
    let (started, is_started) = mpsc::channel();
    let result = outcome(reactor.defer_to_thread(move || {
        started.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        7
    }));
    reactor.start().unwrap();
    is_started.recv_timeout(LIMIT).unwrap();
    stop_and_finish(&reactor);
    let failure = result.borrow_mut().take().unwrap().unwrap_err();
    assert!(failure.is::<ReactorError>());
}

#[test]
fn call_in_thread_after_shutdown_is_refused() {
    let reactor = Reactor::new().unwrap();
    reactor.call_in_thread(|| {}).unwrap();
    stop_and_finish(&reactor);
    assert_eq!(reactor.call_in_thread(|| {}), Err(PoolStopped));
    let late = outcome(reactor.defer_to_thread(|| 1));
    assert!(
        late.borrow_mut()
            .take()
            .unwrap()
            .unwrap_err()
            .is::<PoolStopped>()
    );
}

// --- blocking_call_from_thread ---

#[test]
fn blocking_call_returns_the_value_of_the_deferred() {
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let caller = std::thread::spawn(move || {
        blocking_call_from_thread(&handle, |reactor: &Reactor| {
            defer_later(reactor, Duration::from_millis(5), || {
                Ok::<_, Failure>("later")
            })
        })
    });
    turn_until(&reactor, LIMIT, || caller.is_finished());
    assert_eq!(caller.join().unwrap().unwrap(), "later");
    stop_and_finish(&reactor);
}

#[test]
fn blocking_call_returns_the_failure() {
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let caller = std::thread::spawn(move || {
        blocking_call_from_thread(&handle, |_: &Reactor| {
            Deferred::<u32>::fail(Failure::new(Cancelled))
        })
    });
    turn_until(&reactor, LIMIT, || caller.is_finished());
    assert!(caller.join().unwrap().unwrap_err().is::<Cancelled>());
    stop_and_finish(&reactor);
}

#[test]
fn blocking_call_returns_a_panic_as_a_failure() {
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let caller = std::thread::spawn(move || {
        blocking_call_from_thread(&handle, |_: &Reactor| -> Result<u32, Failure> {
            panic!("reactor side exploded")
        })
    });
    turn_until(&reactor, LIMIT, || caller.is_finished());
    assert!(caller.join().unwrap().unwrap_err().is::<Panicked>());
    stop_and_finish(&reactor);
}

#[test]
fn blocking_call_on_the_reactor_thread_fails_at_once() {
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let started = Instant::now();
    let result = blocking_call_from_thread(&handle, |_: &Reactor| Ok::<u32, Failure>(1));
    assert!(result.unwrap_err().is::<OnReactorThread>());
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn blocking_call_after_the_reactor_stopped_fails_quickly() {
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    stop_and_finish(&reactor);
    let caller = std::thread::spawn(move || {
        let started = Instant::now();
        let result = blocking_call_from_thread(&handle, |_: &Reactor| Ok::<u32, Failure>(1));
        (result, started.elapsed())
    });
    let (result, took) = caller.join().unwrap();
    assert!(result.unwrap_err().is::<ReactorError>());
    assert!(took < Duration::from_secs(1));
}

#[test]
fn blocking_call_waiting_when_the_reactor_stops_fails_with_stopped() {
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let (called, was_called) = mpsc::channel();
    let caller = std::thread::spawn(move || {
        blocking_call_from_thread(&handle, move |_: &Reactor| {
            called.send(()).unwrap();
            // Never fires: only shutdown can end the wait.
            let (never, resolver) = Deferred::<u32>::new();
            std::mem::forget(resolver);
            never
        })
    });
    turn_until(&reactor, LIMIT, || was_called.try_recv().is_ok());
    stop_and_finish(&reactor);
    let deadline = Instant::now() + Duration::from_secs(2);
    while !caller.is_finished() {
        assert!(Instant::now() < deadline, "the blocked caller never woke");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(caller.join().unwrap().unwrap_err().is::<ReactorError>());
}

#[test]
fn a_worker_blocked_on_the_reactor_does_not_deadlock_shutdown() {
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let (started, is_started) = mpsc::channel();
    let result = outcome(reactor.defer_to_thread(move || {
        started.send(()).unwrap();
        // Wait until shutdown has begun, then ask the reactor for something:
        // the call can no longer run, and must not hang the join.
        std::thread::sleep(Duration::from_millis(50));
        blocking_call_from_thread(&handle, |_: &Reactor| Ok::<u32, Failure>(1))
    }));
    reactor.start().unwrap();
    is_started.recv_timeout(LIMIT).unwrap();
    stop_and_finish(&reactor);
    assert!(result.borrow().is_some());
}

#[test]
fn is_reactor_thread_only_on_the_thread_that_made_the_reactor() {
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    assert!(handle.is_reactor_thread());
    let elsewhere = std::thread::spawn(move || handle.is_reactor_thread());
    assert!(!elsewhere.join().unwrap());
}

#[test]
fn failures_cross_threads() {
    fn assert_send<T: Send + Sync>() {}
    assert_send::<Failure>();
}
