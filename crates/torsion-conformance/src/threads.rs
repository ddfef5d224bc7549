//! Other threads: posted calls, stopping through a handle, thread-pool
//! work and wakers used elsewhere.

use std::cell::RefCell;
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::task::Poll;
use std::time::{Duration, Instant};

use torsion::{Deferred, Failure, Reactor};

use crate::Runner;
use crate::support::{LIMIT, ms, stop_after};

/// 8 threads post 10,000 calls each: all run on the reactor's thread, in
/// each thread's order.
pub fn call_from_thread_from_8_threads_keeps_per_thread_order(run: Runner) {
    const THREADS: usize = 8;
    const CALLS: usize = 10_000;
    // Posted calls are Send: what they record stays on the reactor's
    // thread, in a thread-local of it.
    thread_local! {
        static SEEN: RefCell<Vec<Vec<usize>>> = const { RefCell::new(Vec::new()) };
    }
    SEEN.with(|seen| *seen.borrow_mut() = vec![Vec::new(); THREADS]);
    let reactor = Reactor::new().unwrap();
    let reactor_thread = std::thread::current().id();
    let workers: Vec<_> = (0..THREADS)
        .map(|thread| {
            let handle = reactor.handle();
            std::thread::spawn(move || {
                for index in 0..CALLS {
                    handle
                        .call_from_thread(move |r| {
                            assert_eq!(std::thread::current().id(), reactor_thread);
                            let total = SEEN.with(|seen| {
                                let mut seen = seen.borrow_mut();
                                seen[thread].push(index);
                                seen.iter().map(Vec::len).sum::<usize>()
                            });
                            if total == THREADS * CALLS {
                                r.stop().unwrap();
                            }
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    stop_after(&reactor, Duration::from_secs(30));
    run(&reactor).unwrap();
    for worker in workers {
        worker.join().unwrap();
    }
    let seen = SEEN.with(|seen| seen.take());
    for per_thread in &seen {
        assert_eq!(per_thread.len(), CALLS, "none lost");
        assert!(
            per_thread.windows(2).all(|pair| pair[0] < pair[1]),
            "FIFO per thread"
        );
    }
}

/// `ReactorHandle::stop` from another thread stops the reactor.
pub fn handle_stop_from_another_thread_stops_the_reactor(run: Runner) {
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let worker = std::thread::spawn(move || handle.stop());
    stop_after(&reactor, LIMIT);
    let started = Instant::now();
    run(&reactor).unwrap();
    worker.join().unwrap().unwrap();
    assert!(reactor.is_finished());
    assert!(
        started.elapsed() < LIMIT / 2,
        "stopped by the handle, not the guard"
    );
}

/// `defer_to_thread` runs the function on a pool thread and fires its
/// Deferred on the reactor's thread.
pub fn defer_to_thread_fires_on_the_reactor_thread_with_the_value(run: Runner) {
    let reactor = Reactor::new().unwrap();
    let reactor_thread = std::thread::current().id();
    let seen = Rc::new(RefCell::new(None));
    let (out, r) = (seen.clone(), reactor.clone());
    drop(
        reactor
            .defer_to_thread(|| (std::thread::current().id(), 6 * 7))
            .map(move |(worker_thread, value)| {
                *out.borrow_mut() = Some((worker_thread, std::thread::current().id(), value));
                r.stop().unwrap();
            }),
    );
    stop_after(&reactor, LIMIT);
    run(&reactor).unwrap();
    let (worker_thread, callback_thread, value) = seen.borrow().unwrap();
    assert_eq!(value, 42);
    assert_ne!(worker_thread, reactor_thread);
    assert_eq!(callback_thread, reactor_thread);
}

/// A spawned future runs to its end and its Deferred fires.
pub fn spawn_runs_a_future_and_its_deferred_fires(run: Runner) {
    let reactor = Reactor::new().unwrap();
    let result = Rc::new(std::cell::Cell::new(None));
    let (r, out) = (reactor.clone(), result.clone());
    let (gate, opener) = Deferred::<u32>::new();
    let spawned = reactor.spawn(async move {
        let n = gate.await?;
        Ok::<u32, Failure>(n * 2)
    });
    drop(spawned.map(move |n| {
        out.set(Some(n));
        r.stop().unwrap();
    }));
    reactor.call_later(ms(1), move || opener.resolve(21));
    stop_after(&reactor, LIMIT);
    run(&reactor).unwrap();
    assert_eq!(result.get(), Some(42));
}

/// A task's waker used from another thread wakes it promptly.
pub fn waker_used_from_another_thread_wakes_the_task(run: Runner) {
    let reactor = Reactor::new().unwrap();
    let (waker_tx, waker_rx) = mpsc::channel::<std::task::Waker>();
    let released = Arc::new(AtomicBool::new(false));
    let seen = released.clone();
    let spawned = reactor.spawn(async move {
        poll_fn(|cx| {
            if seen.load(Ordering::SeqCst) {
                Poll::Ready(Ok::<(), Failure>(()))
            } else {
                let _ = waker_tx.send(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    });
    let worker = std::thread::spawn(move || {
        let waker = waker_rx.recv().unwrap();
        released.store(true, Ordering::SeqCst);
        waker.wake();
    });
    let r = reactor.clone();
    drop(spawned.map(move |()| r.stop().unwrap()));
    stop_after(&reactor, Duration::from_secs(5));
    let started = Instant::now();
    run(&reactor).unwrap();
    worker.join().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "woken, not stopped by the guard timer"
    );
}
