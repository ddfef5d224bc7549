//! The bridge on bridges of its own (not the process-wide one, which the
//! integration tests exercise in child processes).

use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::*;
use std::error::Error as _;

use crate::error::ConnectionRefused;
use crate::reactor::{Phase, SystemEvent};
use crate::sync::{Arc, Ordering};
use crate::testing::log_capture::LogCapture;
use crate::time::defer_later;
use crate::{Deferred, Failure, Reactor};

pub(super) const LONG: Duration = Duration::from_secs(10);

pub(super) fn never(_: Reactor) -> Deferred<u32> {
    let (deferred, resolver) = Deferred::new();
    // Forgetting the resolver keeps the Deferred pending for good.
    std::mem::forget(resolver);
    deferred
}

/// A Deferred that never fires on its own; its canceller sets `cancelled`.
fn cancellable(cancelled: Arc<AtomicBool>) -> impl FnOnce(Reactor) -> Deferred<u32> + Send {
    move |_| {
        let (deferred, resolver) = Deferred::with_canceller(move || {
            cancelled.store(true, Ordering::SeqCst);
        });
        std::mem::forget(resolver);
        deferred
    }
}

pub(super) struct Started(pub(super) Bridge);

impl Started {
    pub(super) fn new() -> Started {
        Started(Bridge::start().expect("bridge"))
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        self.0.shutdown(LONG).expect("shutdown");
    }
}

impl std::ops::Deref for Started {
    type Target = Bridge;
    fn deref(&self) -> &Bridge {
        &self.0
    }
}

#[test]
fn eventual_results_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<EventualResult<u32>>();
    check::<Bridge>();
    check::<BridgeError>();
}

#[test]
fn wait_returns_a_ready_value() {
    let bridge = Started::new();
    let result = bridge.run_in_reactor(|_| Ok::<_, Failure>("ready"));
    assert_eq!(result.wait(LONG).unwrap(), "ready");
}

#[test]
fn wait_returns_the_value_of_a_deferred() {
    let bridge = Started::new();
    let result = bridge.run_in_reactor(|reactor| {
        defer_later(&reactor, Duration::from_millis(20), || Ok::<_, Failure>(7))
    });
    assert_eq!(result.wait(LONG).unwrap(), 7);
}

/// An `async fn` taking the reactor, as a port of a crochet
/// `@run_in_reactor` coroutine would be written.
async fn doubled_later(reactor: Reactor) -> Result<u32, Failure> {
    let value = defer_later(&reactor, Duration::from_millis(20), || Ok::<_, Failure>(21)).await?;
    Ok(value * 2)
}

#[test]
fn an_async_fn_is_handed_to_run_in_reactor_directly() {
    let bridge = Started::new();
    assert_eq!(bridge.run_in_reactor(doubled_later).wait(LONG).unwrap(), 42);
    assert_eq!(bridge.wait_for(LONG, doubled_later).unwrap(), 42);
}

#[test]
fn wait_returns_the_original_failure() {
    let bridge = Started::new();
    let result = bridge.run_in_reactor(|_| Err::<u32, _>(Failure::new(ConnectionRefused)));
    let error = result.wait(LONG).unwrap_err();
    assert!(error.failure().unwrap().is::<ConnectionRefused>());
    assert!(
        error
            .source()
            .unwrap()
            .downcast_ref::<ConnectionRefused>()
            .is_some()
    );
    drop(result);
    // The result is gone, so this is the only copy of the failure left.
    let failure = error.into_failure().unwrap().try_unwrap().unwrap();
    assert!(failure.trap::<ConnectionRefused>().is_ok());
}

#[test]
fn a_panic_in_the_function_is_a_failure() {
    let bridge = Started::new();
    let result = bridge.run_in_reactor(|_| -> Result<u32, Failure> { panic!("boom") });
    let error = result.wait(LONG).unwrap_err();
    assert!(error.failure().unwrap().is_panic());
    // The reactor is still serving.
    assert_eq!(bridge.wait_for(LONG, |_| Ok::<_, Failure>(1)).unwrap(), 1);
}

#[test]
fn a_timeout_then_a_later_wait_gets_the_result() {
    let bridge = Started::new();
    let result = bridge.run_in_reactor(|reactor| {
        defer_later(&reactor, Duration::from_millis(1000), || {
            Ok::<_, Failure>("late")
        })
    });
    let started = Instant::now();
    let error = result.wait(Duration::from_millis(50)).unwrap_err();
    assert!(error.is_timeout(), "{error}");
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert!(started.elapsed() < Duration::from_millis(900));
    assert!(!result.is_ready());
    assert_eq!(result.wait(LONG).unwrap(), "late");
}

#[test]
fn wait_for_times_out_and_cancels_the_operation() {
    let bridge = Started::new();
    let cancelled = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let error = bridge
        .wait_for(Duration::from_millis(100), cancellable(cancelled.clone()))
        .unwrap_err();
    assert!(error.is_timeout());
    assert!(started.elapsed() < Duration::from_secs(5));
    // The cancel runs on the reactor thread soon after.
    let deadline = Instant::now() + LONG;
    while !cancelled.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "the canceller never ran");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn cancel_of_a_pending_operation_runs_its_canceller() {
    let bridge = Started::new();
    let cancelled = Arc::new(AtomicBool::new(false));
    let result = bridge.run_in_reactor(cancellable(cancelled.clone()));
    assert!(
        result
            .wait(Duration::from_millis(20))
            .unwrap_err()
            .is_timeout()
    );
    result.cancel();
    result.cancel();
    let error = result.wait(LONG).unwrap_err();
    assert!(error.is_cancelled(), "{error}");
    assert!(cancelled.load(Ordering::SeqCst));
}

#[test]
fn cancel_before_the_function_ran_means_it_never_runs() {
    let bridge = Started::new();
    // Hold the reactor thread so the next call is still queued.
    let (release, held) = mpsc::channel::<()>();
    bridge
        .handle()
        .call_from_thread(move |_| {
            let _ = held.recv_timeout(LONG);
        })
        .unwrap();
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    let result = bridge.run_in_reactor(move |_| {
        flag.store(true, Ordering::SeqCst);
        Ok::<_, Failure>(1)
    });
    result.cancel();
    release.send(()).unwrap();
    let error = result.wait(LONG).unwrap_err();
    assert!(error.is_cancelled(), "{error}");
    assert!(!ran.load(Ordering::SeqCst));
}

#[test]
fn cancel_after_the_result_arrived_changes_nothing() {
    let bridge = Started::new();
    let result = bridge.run_in_reactor(|_| Ok::<_, Failure>(3));
    while !result.is_ready() {
        std::thread::sleep(Duration::from_millis(1));
    }
    result.cancel();
    assert_eq!(result.wait(LONG).unwrap(), 3);
}

#[test]
fn stash_and_retrieve_once() {
    let bridge = Started::new();
    let id = bridge.run_in_reactor(|_| Ok::<_, Failure>(11u64)).stash();
    let other = bridge.run_in_reactor(|_| Ok::<_, Failure>(12u64)).stash();
    assert!(other > id);
    // Asking with the wrong type leaves it stashed.
    assert!(retrieve_result::<String>(id).is_none());
    let result = retrieve_result::<u64>(id).expect("stashed");
    assert_eq!(result.wait(LONG).unwrap(), 11);
    assert!(retrieve_result::<u64>(id).is_none());
    assert_eq!(
        retrieve_result::<u64>(other).unwrap().wait(LONG).unwrap(),
        12
    );
    assert!(retrieve_result::<u64>(u64::MAX).is_none());
}

#[test]
fn waiting_on_the_reactor_thread_is_an_error() {
    let bridge = Started::new();
    let inner = bridge.0.clone();
    let checked = bridge.wait_for(LONG, move |_| {
        let result = inner.run_in_reactor(|_| Ok::<_, Failure>(1));
        let waited = matches!(
            result.wait(Duration::from_secs(5)),
            Err(BridgeError::OnReactorThread)
        );
        let started = Instant::now();
        let waited_for = matches!(
            inner.wait_for(Duration::from_secs(5), |_| Ok::<_, Failure>(1)),
            Err(BridgeError::OnReactorThread)
        );
        let quick = started.elapsed() < Duration::from_secs(1);
        Ok::<_, Failure>(waited && waited_for && quick && inner.is_reactor_thread())
    });
    assert!(checked.unwrap());
    assert!(!bridge.is_reactor_thread());
}

#[test]
fn awaiting_on_the_reactor_thread_works() {
    let bridge = Started::new();
    let inner = bridge.0.clone();
    let total = bridge.wait_for(LONG, move |reactor| {
        let first = inner.run_in_reactor(|_| Ok::<_, Failure>(20));
        let second = inner.run_in_reactor(|reactor| {
            defer_later(&reactor, Duration::from_millis(5), || Ok::<_, Failure>(22))
        });
        reactor.spawn(async move {
            let a = first.await.map_err(Failure::new)?;
            let b = second.await.map_err(Failure::new)?;
            Ok::<_, Failure>(a + b)
        })
    });
    assert_eq!(total.unwrap(), 42);
}

#[test]
fn shutdown_wakes_every_blocked_waiter_at_once() {
    let bridge = Bridge::start().unwrap();
    let (ready, started) = mpsc::channel();
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let bridge = bridge.clone();
            let ready = ready.clone();
            std::thread::spawn(move || {
                let result = bridge.run_in_reactor(never);
                ready.send(()).unwrap();
                let begun = Instant::now();
                let outcome = result.wait(Duration::from_secs(60));
                (outcome, begun.elapsed())
            })
        })
        .collect();
    for _ in 0..4 {
        started.recv().unwrap();
    }
    std::thread::sleep(Duration::from_millis(50));
    bridge.shutdown(LONG).unwrap();
    for waiter in waiters {
        let (outcome, waited) = waiter.join().unwrap();
        assert!(outcome.unwrap_err().is_reactor_stopped());
        assert!(waited < Duration::from_secs(5), "waited {waited:?}");
    }
}

#[test]
fn calls_after_shutdown_fail_quickly() {
    let bridge = Bridge::start().unwrap();
    bridge.shutdown(LONG).unwrap();
    assert!(bridge.is_stopped());
    let started = Instant::now();
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    let result = bridge.run_in_reactor(move |_| {
        flag.store(true, Ordering::SeqCst);
        Ok::<_, Failure>(1)
    });
    assert!(result.wait(LONG).unwrap_err().is_reactor_stopped());
    assert!(
        bridge
            .wait_for(LONG, |_| Ok::<_, Failure>(1))
            .unwrap_err()
            .is_reactor_stopped()
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(!ran.load(Ordering::SeqCst));
    // A second shutdown is harmless.
    bridge.shutdown(LONG).unwrap();
}

#[test]
fn shutdown_runs_the_reactors_shutdown_triggers() {
    let bridge = Bridge::start().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let counter = ran.clone();
    bridge
        .wait_for(LONG, move |reactor| {
            let before = counter.clone();
            reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, move || {
                before.fetch_add(1, Ordering::SeqCst);
            });
            reactor.add_system_event_trigger(Phase::After, SystemEvent::Shutdown, move || {
                counter.fetch_add(10, Ordering::SeqCst);
            });
            Ok::<_, Failure>(())
        })
        .unwrap();
    bridge.shutdown(LONG).unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 11);
}

#[test]
fn operations_queued_on_a_reactor_that_goes_away_become_reactor_stopped() {
    let reactor = Reactor::new().unwrap();
    let bridge = Bridge::for_reactor(&reactor);
    let poster = bridge.clone();
    let result = std::thread::spawn(move || poster.run_in_reactor(|_| Ok::<_, Failure>(1)))
        .join()
        .unwrap();
    assert!(!result.is_ready());
    // The reactor never ran; dropping it drops the queued call.
    drop(reactor);
    // This thread made the reactor, so it waits elsewhere.
    let waited = std::thread::spawn(move || result.wait(LONG))
        .join()
        .unwrap();
    assert!(waited.unwrap_err().is_reactor_stopped());
}

#[test]
fn operations_started_during_shutdown_become_reactor_stopped() {
    let bridge = Bridge::start().unwrap();
    let (release, held) = mpsc::channel::<()>();
    bridge
        .wait_for(LONG, move |reactor| {
            // A slow before-shutdown trigger keeps the reactor stopping.
            reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, move || {
                let _ = held.recv_timeout(LONG);
            });
            Ok::<_, Failure>(())
        })
        .unwrap();
    bridge.handle().stop().unwrap();
    let deadline = Instant::now() + LONG;
    while !bridge.is_stopped() {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(1));
    }
    let result = bridge.run_in_reactor(|_| Ok::<_, Failure>(1));
    assert!(result.wait(LONG).unwrap_err().is_reactor_stopped());
    release.send(()).unwrap();
    bridge.shutdown(LONG).unwrap();
}

#[test]
fn eight_threads_ten_thousand_calls_each() {
    let bridge = Started::new();
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let bridge = bridge.0.clone();
            std::thread::spawn(move || {
                let results: Vec<_> = (0..10_000u64)
                    .map(|i| {
                        let value = t * 1_000_000 + i;
                        let result = bridge.run_in_reactor(move |reactor| {
                            if i % 2 == 0 {
                                Deferred::succeed(value)
                            } else {
                                defer_later(&reactor, Duration::ZERO, move || {
                                    Ok::<_, Failure>(value)
                                })
                            }
                        });
                        (value, result)
                    })
                    .collect();
                for (value, result) in results {
                    assert_eq!(result.wait(LONG).unwrap(), value);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

// tokio's runtime does not build for the loom models.
#[cfg(not(loom))]
#[test]
fn awaited_from_a_tokio_runtime() {
    let bridge = Started::new();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let inner = bridge.0.clone();
    let total = runtime.block_on(async move {
        let mut tasks = Vec::new();
        for n in 0..10u32 {
            let result = inner.run_in_reactor(move |reactor| {
                defer_later(&reactor, Duration::from_millis(u64::from(n)), move || {
                    Ok::<_, Failure>(n)
                })
            });
            tasks.push(tokio::spawn(result));
        }
        let mut total = 0;
        for task in tasks {
            total += task.await.unwrap().unwrap();
        }
        total
    });
    assert_eq!(total, 45);
    let current = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let failed = current
        .block_on(bridge.run_in_reactor(|_| Err::<u32, _>(Failure::new(crate::error::Cancelled))));
    assert!(failed.unwrap_err().is_cancelled());
}

#[test]
fn an_unretrieved_failure_is_logged_when_dropped() {
    let bridge = Started::new();
    let capture = LogCapture::new();
    capture.run(|| {
        let result = bridge.run_in_reactor(|_| Err::<u32, _>(Failure::msg("nobody looked")));
        while !result.is_ready() {
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(result);
    });
    assert_eq!(capture.count("Unhandled error in EventualResult"), 1);
    assert_eq!(capture.count("nobody looked"), 1);
}

#[test]
fn retrieved_values_and_failures_are_not_logged() {
    let bridge = Started::new();
    let capture = LogCapture::new();
    capture.run(|| {
        let failed = bridge.run_in_reactor(|_| Err::<u32, _>(Failure::msg("seen")));
        assert!(failed.wait(LONG).is_err());
        drop(failed);
        let failed = bridge.run_in_reactor(|_| Err::<u32, _>(Failure::msg("looked at")));
        while !failed.is_ready() {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(failed.original_failure().unwrap().to_string(), "looked at");
        drop(failed);
        let fine = bridge.run_in_reactor(|_| Ok::<_, Failure>(1));
        while !fine.is_ready() {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(fine.original_failure().is_none());
        drop(fine);
        // A cancellation its owner asked for is not news either.
        let cancelled = bridge.run_in_reactor(never);
        cancelled.cancel();
        drop(cancelled);
    });
    assert_eq!(capture.count("Unhandled error"), 0, "{}", capture.text());
}

#[test]
fn a_failure_arriving_after_the_drop_is_logged() {
    // The reactor runs on this thread, so the log line (written where the
    // failure arrives) is captured.
    let capture = LogCapture::new();
    capture.run(|| {
        let reactor = Reactor::new().unwrap();
        let bridge = Bridge::for_reactor(&reactor);
        let result = bridge.run_in_reactor(|reactor| {
            defer_later(&reactor, Duration::from_millis(10), || {
                Err::<u32, _>(Failure::msg("too late to be seen"))
            })
        });
        drop(result);
        let stopper = reactor.clone();
        reactor.call_later(Duration::from_millis(50), move || {
            stopper.stop().unwrap();
        });
        reactor.run().unwrap();
    });
    assert_eq!(capture.count("Unhandled error in EventualResult"), 1);
    assert_eq!(capture.count("too late to be seen"), 1);
}

#[test]
fn a_bridge_to_a_reactor_run_by_the_caller() {
    let reactor = Reactor::new().unwrap();
    let bridge = Bridge::for_reactor(&reactor);
    assert!(bridge.is_reactor_thread());
    let worker_bridge = bridge.clone();
    let worker = std::thread::spawn(move || {
        let value = worker_bridge.wait_for(LONG, |reactor| {
            defer_later(&reactor, Duration::from_millis(5), || Ok::<_, Failure>(9))
        });
        let pending = worker_bridge.run_in_reactor(never);
        worker_bridge.shutdown(LONG).unwrap();
        (value, pending.wait(LONG))
    });
    reactor.run().unwrap();
    let (value, pending) = worker.join().unwrap();
    assert_eq!(value.unwrap(), 9);
    assert!(pending.unwrap_err().is_reactor_stopped());
    assert!(bridge.is_stopped());
}

#[test]
fn not_set_up_results_say_so() {
    let result: EventualResult<u32> = EventualResult::failed(BridgeError::NotSetUp, None);
    let error = result.wait(LONG).unwrap_err();
    assert!(matches!(error, BridgeError::NotSetUp));
    assert!(error.to_string().contains("setup()"));
}

#[test]
fn a_reactor_thread_that_panics_while_starting_is_reported_as_ended() {
    let error = Bridge::start_on(crate::reactor::Signals::LeaveAlone, || {
        panic!("this test's reactor cannot be made")
    })
    .expect_err("no bridge");
    let BridgeError::Start(start) = &error else {
        panic!("not a start error: {error:?}");
    };
    assert!(matches!(**start, StartError::ThreadEnded), "{start:?}");
    assert!(
        error
            .source()
            .is_some_and(|source| source.is::<StartError>())
    );
}

#[test]
fn a_reactor_that_cannot_be_created_is_reported_with_its_error() {
    let error = Bridge::start_on(crate::reactor::Signals::LeaveAlone, || {
        Err(std::io::Error::from(std::io::ErrorKind::OutOfMemory))
    })
    .expect_err("no bridge");
    let BridgeError::Start(start) = &error else {
        panic!("not a start error: {error:?}");
    };
    let StartError::Reactor(cause) = &**start else {
        panic!("not a reactor error: {start:?}");
    };
    assert_eq!(cause.kind(), std::io::ErrorKind::OutOfMemory);
}
