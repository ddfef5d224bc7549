//! What an [`EventualResult`] gives back, and how often: crochet hands the
//! same result to every `wait`, lets `original_failure` look without using
//! it up, and runs coroutines as well as plain functions.

use std::time::Duration;

use super::tests::{LONG, Started, never};
use super::*;
use crate::error::{Cancelled, ConnectionRefused};
use crate::time::defer_later;
use crate::{Failure, Reactor};

#[test]
fn waiting_twice_returns_the_same_value() {
    let bridge = Started::new();
    let result = bridge.run_in_reactor(|_| Ok::<_, Failure>(String::from("twice")));
    assert_eq!(result.wait(LONG).unwrap(), "twice");
    assert_eq!(result.wait(LONG).unwrap(), "twice");
    assert!(result.is_ready());
}

#[test]
fn waiting_twice_returns_the_same_failure() {
    let bridge = Started::new();
    let result = bridge.run_in_reactor(|_| Err::<u32, _>(Failure::new(ConnectionRefused)));
    let first = result.wait(LONG).unwrap_err().into_failure().unwrap();
    let second = result.wait(LONG).unwrap_err().into_failure().unwrap();
    assert!(second.is::<ConnectionRefused>());
    // Not two failures that look alike: one failure, shared.
    assert!(std::ptr::eq::<Failure>(&*first, &*second));
}

#[test]
fn original_failure_does_not_use_the_result_up() {
    let bridge = Started::new();
    let result = bridge.run_in_reactor(|_| Err::<u32, _>(Failure::new(ConnectionRefused)));
    // Wait for the result to be there without looking at it.
    while !result.is_ready() {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(result.original_failure().unwrap().is::<ConnectionRefused>());
    assert!(result.original_failure().unwrap().is::<ConnectionRefused>());
    let error = result.wait(LONG).unwrap_err();
    assert!(error.failure().unwrap().is::<ConnectionRefused>());
}

#[test]
fn original_failure_of_a_value_or_a_pending_result_is_none() {
    let bridge = Started::new();
    let pending = bridge.run_in_reactor(never);
    assert!(pending.original_failure().is_none());
    let value = bridge.run_in_reactor(|_| Ok::<_, Failure>(1));
    assert_eq!(value.wait(LONG).unwrap(), 1);
    assert!(value.original_failure().is_none());
}

#[test]
fn take_moves_the_result_out_once() {
    struct NotClone(u32);
    let bridge = Started::new();
    let result = bridge.run_in_reactor(|_| Ok::<_, Failure>(NotClone(9)));
    assert_eq!(result.take(LONG).unwrap().0, 9);
    assert!(matches!(
        result.take(LONG),
        Err(BridgeError::AlreadyRetrieved)
    ));
    assert!(!result.is_ready());
}

async fn answer_later() -> Result<u32, Failure> {
    let reactor = Reactor::current().expect("runs on the reactor thread");
    defer_later(&reactor, Duration::from_millis(10), || Ok::<_, Failure>(42)).await
}

#[test]
fn an_async_fn_can_be_run_in_the_reactor() {
    let bridge = Started::new();
    let result = bridge.run_in_reactor(|_| answer_later());
    assert_eq!(result.wait(LONG).unwrap(), 42);
}

#[test]
fn an_async_fn_can_be_waited_for() {
    let bridge = Started::new();
    assert_eq!(bridge.wait_for(LONG, |_| answer_later()).unwrap(), 42);
}

#[test]
fn the_failure_of_an_async_fn_is_the_results_failure() {
    let bridge = Started::new();
    let result = bridge.run_in_reactor(|_| async { Err::<u32, _>(ConnectionRefused) });
    assert!(
        result
            .wait(LONG)
            .unwrap_err()
            .failure()
            .unwrap()
            .is::<ConnectionRefused>()
    );
}

#[test]
fn cancelling_an_async_fn_drops_its_future() {
    let bridge = Started::new();
    let result = bridge.run_in_reactor(|_| async {
        std::future::pending::<()>().await;
        Ok::<u32, Failure>(0)
    });
    result.cancel();
    let error = result.wait(LONG).unwrap_err();
    assert!(error.failure().unwrap().is::<Cancelled>(), "{error}");
}

/// A reactor on this thread, a bridge to it, and a thread that reports
/// what `follow`'s result gave.
fn follow_on_this_thread<T: Send + 'static>(
    make: impl FnOnce(&Reactor) -> crate::Deferred<T>,
    then: impl FnOnce(&EventualResult<T>) + Send + 'static,
) -> (Reactor, std::thread::JoinHandle<Result<T, BridgeError>>) {
    let reactor = Reactor::new().unwrap();
    let bridge = Bridge::for_reactor(&reactor);
    let result = bridge.follow(make(&reactor));
    let waiter = std::thread::spawn(move || {
        then(&result);
        result.take(LONG)
    });
    (reactor, waiter)
}

#[test]
fn follow_hands_a_deferreds_value_to_another_thread() {
    let (reactor, waiter) = follow_on_this_thread(
        |reactor| defer_later(reactor, Duration::from_millis(5), || Ok::<_, Failure>(7)),
        |_| {},
    );
    let r = reactor.clone();
    reactor.call_later(Duration::from_millis(30), move || r.stop().unwrap());
    reactor.run().unwrap();
    assert_eq!(waiter.join().unwrap().unwrap(), 7);
}

#[test]
fn cancelling_a_followed_result_cancels_the_deferred() {
    // The canceller stops the reactor: it ran, on the reactor thread.
    let (reactor, waiter) = follow_on_this_thread(
        |reactor| {
            let r = reactor.clone();
            let (deferred, resolver) =
                crate::Deferred::<u32>::with_canceller(move || r.stop().unwrap());
            std::mem::forget(resolver);
            deferred
        },
        EventualResult::cancel,
    );
    reactor.run().unwrap();
    assert!(waiter.join().unwrap().unwrap_err().is_cancelled());
}

#[test]
fn a_followed_result_still_pending_at_shutdown_is_reactor_stopped() {
    let (reactor, waiter) = follow_on_this_thread(|reactor| never(reactor.clone()), |_| {});
    let r = reactor.clone();
    reactor.call_later(Duration::from_millis(5), move || r.stop().unwrap());
    reactor.run().unwrap();
    assert!(waiter.join().unwrap().unwrap_err().is_reactor_stopped());
}
