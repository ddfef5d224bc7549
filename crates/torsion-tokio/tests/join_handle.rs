//! torsion work awaited from tokio through `TorsionHandle` and the `Send`
//! `JoinHandle`: values and failures arrive on tokio's threads; dropping
//! the handle or `abort` cancels the Deferred; a reactor that stops first
//! is an error, never a hang.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use torsion::error::{ConnectionRefused, ReactorError};
use torsion::time::defer_later;
use torsion::{Deferred, Failure, Reactor};
use torsion_tokio::TorsionHandle;

use support::{LONG, wait_until};

fn tokio_beside() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// A Deferred that never fires by itself; cancelling it sets `cancelled`.
fn never(cancelled: Arc<AtomicBool>) -> Deferred<u32> {
    let (deferred, resolver) =
        Deferred::with_canceller(move || cancelled.store(true, Ordering::SeqCst));
    std::mem::forget(resolver);
    deferred
}

/// Runs `reactor` until `done` holds (checked every ms), at most `LONG`.
fn run_until(reactor: &Reactor, done: impl Fn() -> bool + 'static) {
    let r = reactor.clone();
    let give_up = std::time::Instant::now() + LONG;
    let poll = torsion::time::LoopingCall::new(reactor.clone(), move || {
        if done() || std::time::Instant::now() > give_up {
            let _ = r.stop();
        }
    });
    drop(poll.start(Duration::from_millis(1), false));
    reactor.run().unwrap();
}

#[test]
fn tokio_code_awaits_a_deferred_s_value_and_failure() {
    let tokio = tokio_beside();
    let reactor = Reactor::new().unwrap();
    let torsion = TorsionHandle::new(&reactor);
    let task = tokio.spawn(async move {
        let value = torsion
            .spawn(|r| defer_later(&r, Duration::from_millis(2), || Ok::<_, Failure>(42)))
            .await;
        let failure = torsion
            .spawn(|_| async { Err::<u32, _>(ConnectionRefused) })
            .await;
        (value.map_err(|f| f.to_string()), failure.unwrap_err())
    });
    let finished = Arc::new(AtomicBool::new(false));
    let (done, flag) = (finished.clone(), finished.clone());
    let waiter = std::thread::spawn(move || {
        let outcome = tokio.block_on(task).unwrap();
        flag.store(true, Ordering::SeqCst);
        outcome
    });
    run_until(&reactor, move || done.load(Ordering::SeqCst));
    let (value, failure) = waiter.join().unwrap();
    assert_eq!(value.unwrap(), 42);
    assert!(failure.is::<ConnectionRefused>());
}

#[test]
fn dropping_the_join_handle_cancels_the_deferred() {
    let tokio = tokio_beside();
    let reactor = Reactor::new().unwrap();
    let torsion = TorsionHandle::new(&reactor);
    let cancelled = Arc::new(AtomicBool::new(false));
    let flag = cancelled.clone();
    tokio.spawn(async move {
        let handle = torsion.spawn(move |_| never(flag));
        // A timeout that gives up drops the handle.
        let gave_up = tokio::time::timeout(Duration::from_millis(20), handle).await;
        assert!(gave_up.is_err());
    });
    let seen = cancelled.clone();
    run_until(&reactor, move || seen.load(Ordering::SeqCst));
    assert!(cancelled.load(Ordering::SeqCst));
}

#[test]
fn abort_cancels_and_the_handle_gives_cancelled() {
    let tokio = tokio_beside();
    let reactor = Reactor::new().unwrap();
    let torsion = TorsionHandle::new(&reactor);
    let cancelled = Arc::new(AtomicBool::new(false));
    let flag = cancelled.clone();
    let task = tokio.spawn(async move {
        let handle = torsion.spawn(move |_| never(flag));
        tokio::time::sleep(Duration::from_millis(5)).await;
        handle.abort();
        handle.await
    });
    let seen = cancelled.clone();
    run_until(&reactor, move || seen.load(Ordering::SeqCst));
    let failure = tokio.block_on(task).unwrap().unwrap_err();
    assert!(failure.is_cancelled(), "{failure}");
}

#[test]
fn a_handle_dropped_before_the_reactor_ran_the_work_never_starts_it() {
    let reactor = Reactor::new().unwrap();
    let torsion = TorsionHandle::new(&reactor);
    let started = Arc::new(AtomicBool::new(false));
    let flag = started.clone();
    drop(torsion.spawn(move |_| {
        flag.store(true, Ordering::SeqCst);
        Ok::<u32, Failure>(1)
    }));
    let r = reactor.clone();
    reactor.call_later(Duration::from_millis(5), move || r.stop().unwrap());
    reactor.run().unwrap();
    assert!(!started.load(Ordering::SeqCst));
}

#[test]
fn a_reactor_that_stops_first_gives_reactor_stopped() {
    let tokio = tokio_beside();
    let reactor = Reactor::new().unwrap();
    let torsion = TorsionHandle::new(&reactor);
    let handle = torsion.spawn(|_| never(Arc::default()));
    let r = reactor.clone();
    reactor.call_later(Duration::from_millis(5), move || r.stop().unwrap());
    reactor.run().unwrap();
    let failure = tokio.block_on(handle).unwrap_err();
    assert!(matches!(
        failure.downcast_ref::<ReactorError>(),
        Some(ReactorError::Stopped)
    ));
    // And later work fails at once.
    let late = tokio.block_on(torsion.spawn(|_| Ok::<u32, Failure>(1)));
    assert!(late.unwrap_err().is::<ReactorError>());
}

#[test]
fn follow_hands_an_existing_deferred_to_a_tokio_task() {
    let tokio = tokio_beside();
    let reactor = Reactor::new().unwrap();
    let torsion = TorsionHandle::new(&reactor);
    let later = defer_later(&reactor, Duration::from_millis(5), || {
        Ok::<_, Failure>("made by torsion")
    });
    let handle = torsion.follow(later);
    let task = tokio.spawn(async move { handle.await.map_err(|f| f.to_string()) });
    let finished = task.is_finished();
    assert!(!finished);
    let r = reactor.clone();
    reactor.call_later(Duration::from_millis(30), move || r.stop().unwrap());
    reactor.run().unwrap();
    assert_eq!(tokio.block_on(task).unwrap().unwrap(), "made by torsion");
}

#[test]
fn a_detached_handle_lets_the_work_finish() {
    let reactor = Reactor::new().unwrap();
    let torsion = TorsionHandle::new(&reactor);
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    torsion
        .spawn(move |r| {
            defer_later(&r, Duration::from_millis(5), move || {
                flag.store(true, Ordering::SeqCst);
                Ok::<_, Failure>(())
            })
        })
        .detach();
    let seen = ran.clone();
    run_until(&reactor, move || seen.load(Ordering::SeqCst));
    assert!(wait_until(|| ran.load(Ordering::SeqCst)));
}

#[test]
fn inside_tokio_a_local_task_awaits_torsion_work_on_the_same_thread() {
    let reactor = Reactor::new().unwrap();
    let torsion = TorsionHandle::new(&reactor);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    let r = reactor.clone();
    let answer = local.spawn_local(async move {
        let answer = torsion
            .spawn(|r| defer_later(&r, Duration::from_millis(2), || Ok::<_, Failure>(7)))
            .await;
        r.stop().unwrap();
        answer.map_err(|f| f.to_string())
    });
    local
        .block_on(&runtime, torsion_tokio::run(&reactor))
        .unwrap();
    assert_eq!(local.block_on(&runtime, answer).unwrap().unwrap(), 7);
}
