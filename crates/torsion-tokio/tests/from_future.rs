//! Deferreds of tokio futures (Deferred.fromFuture): values, failures and
//! panics come through; cancelling the Deferred drops the future, before
//! or after its first poll; a task tokio aborts fails the Deferred with
//! torsion's one `Cancelled`. Both with torsion inside tokio (one thread)
//! and with tokio on threads of its own beside the reactor.

mod support;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use torsion::error::{Cancelled, Panicked};
use torsion::{Deferred, Failure, Reactor};

use support::{LONG, drop_guard, dropped, wait_until};

/// Keeps `deferred`'s outcome for the test to look at.
fn keep<T: 'static>(deferred: Deferred<T>) -> Rc<RefCell<Option<Result<T, Failure>>>> {
    let kept = Rc::new(RefCell::new(None));
    let slot = kept.clone();
    drop(deferred.both(move |outcome| {
        *slot.borrow_mut() = Some(outcome);
        Ok::<(), Failure>(())
    }));
    kept
}

fn stop_when_fired<T: 'static>(reactor: &Reactor, kept: &Rc<RefCell<Option<Result<T, Failure>>>>) {
    let (r, kept) = (reactor.clone(), kept.clone());
    let poll = torsion::time::LoopingCall::new(reactor.clone(), move || {
        if kept.borrow().is_some() {
            let _ = r.stop();
        }
    });
    drop(poll.start(Duration::from_millis(1), false));
    let r = reactor.clone();
    reactor.call_later(LONG, move || {
        let _ = r.stop();
    });
}

fn beside() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn inside_tokio_a_future_s_value_reaches_the_deferred() {
    let reactor = Reactor::new().unwrap();
    let kept = Rc::new(RefCell::new(None));
    let slot = kept.clone();
    reactor.call_when_running(move || {
        let d = torsion_tokio::from_future(async {
            tokio::time::sleep(Duration::from_millis(2)).await;
            Ok::<_, Failure>(std::thread::current().id())
        });
        *slot.borrow_mut() = Some(keep(d));
    });
    let (r, k) = (reactor.clone(), kept.clone());
    reactor.call_later(Duration::from_millis(1), move || {
        let inner = k.borrow().clone().unwrap();
        stop_when_fired(&r, &inner);
    });
    torsion_tokio::block_on_reactor(&reactor).unwrap();
    let inner = kept.borrow().clone().unwrap();
    let thread = inner.borrow_mut().take().unwrap().unwrap();
    assert_eq!(thread, std::thread::current().id(), "same thread");
}

#[test]
fn beside_tokio_a_future_s_failure_reaches_the_deferred() {
    let tokio = beside();
    let reactor = Reactor::new().unwrap();
    let kept = keep(torsion_tokio::from_future_on(tokio.handle(), async {
        Err::<u32, _>(std::io::Error::other("refused by tokio"))
    }));
    stop_when_fired(&reactor, &kept);
    reactor.run().unwrap();
    let failure = kept.borrow_mut().take().unwrap().unwrap_err();
    assert!(failure.is::<std::io::Error>());
    assert_eq!(failure.to_string(), "refused by tokio");
}

#[test]
fn a_panicking_future_fails_the_deferred_with_panicked() {
    let tokio = beside();
    let reactor = Reactor::new().unwrap();
    let kept = keep(torsion_tokio::from_future_on(tokio.handle(), async {
        if std::hint::black_box(true) {
            panic!("the future exploded");
        }
        Ok::<u32, Failure>(1)
    }));
    stop_when_fired(&reactor, &kept);
    reactor.run().unwrap();
    let failure = kept.borrow_mut().take().unwrap().unwrap_err();
    assert!(failure.is::<Panicked>());
    assert!(
        failure.to_string().contains("the future exploded"),
        "{failure}"
    );
}

#[test]
fn without_a_runtime_the_deferred_fails_with_no_runtime() {
    let _reactor = Reactor::new().unwrap();
    let kept = keep(torsion_tokio::from_future(async { Ok::<_, Failure>(1) }));
    let failure = kept.borrow_mut().take().unwrap().unwrap_err();
    let error = failure.downcast_ref::<torsion_tokio::Error>().unwrap();
    assert!(error.is_no_runtime());
}

/// Cancels a Deferred of a never-ending tokio future after `delay` and
/// checks the future was dropped and the Deferred failed with Cancelled.
fn cancelling_drops_the_future(delay: Option<Duration>, on: Option<&tokio::runtime::Handle>) {
    let reactor = Reactor::new().unwrap();
    let (guard_dropped, guard) = drop_guard();
    let polled = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poll_flag = polled.clone();
    let future = async move {
        let _guard = guard;
        poll_flag.store(true, std::sync::atomic::Ordering::SeqCst);
        std::future::pending::<()>().await;
        Ok::<u32, Failure>(0)
    };
    let kept = Rc::new(RefCell::new(None));
    let slot = kept.clone();
    let handle = on.cloned();
    let start = move || {
        let deferred = match &handle {
            Some(handle) => torsion_tokio::from_future_on(handle, future),
            None => torsion_tokio::from_future(future),
        };
        *slot.borrow_mut() = Some(deferred);
    };
    let cancel = {
        let (kept, r) = (kept.clone(), reactor.clone());
        move || {
            let deferred: Deferred<u32> = kept.borrow_mut().take().unwrap();
            deferred.cancel();
            let outcome = keep(deferred);
            stop_when_fired(&r, &outcome);
            outcome
        }
    };
    let outcome = Rc::new(RefCell::new(None));
    let out = outcome.clone();
    match delay {
        // Before tokio polled it: in the same callback that made it.
        None => reactor.call_when_running(move || {
            start();
            *out.borrow_mut() = Some(cancel());
        }),
        Some(delay) => {
            reactor.call_when_running(start);
            reactor.call_later(delay, move || *out.borrow_mut() = Some(cancel()));
            None
        }
    };
    if on.is_some() {
        reactor.run().unwrap();
    } else {
        torsion_tokio::block_on_reactor(&reactor).unwrap();
    }
    let outcome = outcome.borrow().clone().unwrap();
    let failure = outcome.borrow_mut().take().unwrap().unwrap_err();
    assert!(failure.is::<Cancelled>(), "{failure}");
    assert!(
        wait_until(|| dropped(&guard_dropped)),
        "the future was not dropped"
    );
    if delay.is_none() && on.is_none() {
        assert!(!dropped(&polled), "polled before the cancel");
    }
}

#[test]
fn inside_tokio_cancelling_the_deferred_drops_the_running_future() {
    cancelling_drops_the_future(Some(Duration::from_millis(10)), None);
}

#[test]
fn inside_tokio_cancelling_before_the_first_poll_drops_the_future() {
    cancelling_drops_the_future(None, None);
}

#[test]
fn beside_tokio_cancelling_the_deferred_drops_the_running_future() {
    let tokio = beside();
    cancelling_drops_the_future(Some(Duration::from_millis(10)), Some(tokio.handle()));
}

#[test]
fn beside_tokio_cancelling_before_the_first_poll_drops_the_future() {
    let tokio = beside();
    cancelling_drops_the_future(None, Some(tokio.handle()));
}

#[test]
fn a_task_tokio_drops_at_shutdown_fails_the_deferred_with_cancelled() {
    let tokio = beside();
    let reactor = Reactor::new().unwrap();
    let (guard_dropped, guard) = drop_guard();
    let kept = keep(torsion_tokio::from_future_on(tokio.handle(), async move {
        let _guard = guard;
        std::future::pending::<()>().await;
        Ok::<u32, Failure>(0)
    }));
    // tokio's side gives up: the runtime shuts down, dropping its tasks.
    std::thread::sleep(Duration::from_millis(10));
    tokio.shutdown_timeout(LONG);
    assert!(dropped(&guard_dropped));
    stop_when_fired(&reactor, &kept);
    reactor.run().unwrap();
    let failure = kept.borrow_mut().take().unwrap().unwrap_err();
    assert!(failure.is::<Cancelled>(), "{failure}");
    assert!(failure.is_cancelled());
}
