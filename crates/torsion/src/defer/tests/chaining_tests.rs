//! Callbacks and errbacks: order, types, recovery, returned Deferreds and
//! panics.

use super::*;

#[test]
fn callbacks_run_when_the_result_arrives() {
    let (deferred, resolver) = Deferred::<u32>::new();
    let slot = record(deferred.map(|n| n + 1));
    assert!(pending(&slot));
    resolver.resolve(1);
    assert_eq!(value(&slot), 2);
}

#[test]
fn callbacks_added_after_firing_run_at_once() {
    let ran = Rc::new(Cell::new(false));
    let flag = ran.clone();
    drop(succeed(5).map(move |n| flag.set(n == 5)));
    assert!(ran.get());
}

#[test]
fn callbacks_chain_in_order_with_changing_types() {
    let slot = record(
        succeed(2)
            .map(|n| n * 10)
            .map(|n| n.to_string())
            .map(|text| format!("<{text}>")),
    );
    assert_eq!(value(&slot), "<20>");
}

#[test]
fn failure_skips_callbacks_until_an_errback() {
    let reached = Rc::new(Cell::new(false));
    let flag = reached.clone();
    let slot = record(
        fail::<u32>(ConnectionLost::new())
            .map(move |n| {
                flag.set(true);
                n
            })
            .or_else(|failure| failure.trap::<ConnectionLost>().map(|_| 7)),
    );
    assert!(!reached.get());
    assert_eq!(value(&slot), 7);
}

#[test]
fn errback_can_recover_and_the_chain_continues_on_success() {
    let slot = record(
        fail::<u32>(Cancelled)
            .or_else(|_| Ok::<u32, Failure>(1))
            .map(|n| n + 1),
    );
    assert_eq!(value(&slot), 2);
}

#[test]
fn errback_that_traps_another_type_passes_the_failure_on() {
    let slot = record(
        fail::<u32>(ConnectionLost::new())
            .or_else(|failure| failure.trap::<Cancelled>().map(|_| 0)),
    );
    assert!(failed_with::<_, ConnectionLost>(&slot));
}

#[test]
fn success_skips_errbacks() {
    let slot = record(succeed(3).or_else(|_| Ok::<i32, Failure>(-1)));
    assert_eq!(value(&slot), 3);
}

#[test]
fn callback_returning_err_switches_to_the_failure_path() {
    let slot = record(succeed(3).then(|_| Err::<u32, _>(ConnectionLost::new())));
    assert!(failed_with::<_, ConnectionLost>(&slot));
}

#[test]
fn both_sees_success_and_failure() {
    let ok = record(succeed(1).both(|r| Ok::<bool, Failure>(r.is_ok())));
    let err = record(fail::<u32>(Cancelled).both(|r| Ok::<bool, Failure>(r.is_ok())));
    assert!(value(&ok));
    assert!(!value(&err));
}

#[test]
fn callback_returning_a_fired_deferred_continues_at_once() {
    let slot = record(succeed(1).then(|n| succeed(n + 1)));
    assert_eq!(value(&slot), 2);
}

#[test]
fn callback_returning_pending_deferred_pauses_chain() {
    let (inner, inner_resolver) = Deferred::<u32>::new();
    let after = Rc::new(Cell::new(false));
    let flag = after.clone();
    let slot = record(succeed(1).then(move |_| inner).map(move |n| {
        flag.set(true);
        n * 3
    }));
    assert!(!after.get());
    assert!(pending(&slot));
    inner_resolver.resolve(5);
    assert_eq!(value(&slot), 15);
}

#[test]
fn returned_deferred_failure_continues_on_the_failure_path() {
    let (inner, inner_resolver) = Deferred::<u32>::new();
    let slot = record(succeed(1).then(move |_| inner));
    inner_resolver.reject(ConnectionLost::new());
    assert!(failed_with::<_, ConnectionLost>(&slot));
}

#[test]
fn panicking_callback_becomes_failure() {
    let slot = record(succeed(1).map(|_: i32| -> i32 { panic!("callback exploded") }));
    let borrowed = slot.borrow();
    let failure = borrowed.as_ref().unwrap().as_ref().unwrap_err();
    assert!(failure.is::<Panicked>());
    assert!(failure.to_string().contains("callback exploded"));
}

#[test]
fn panicking_errback_becomes_failure() {
    let slot = record(
        fail::<u32>(Cancelled).or_else(|_| -> Result<u32, Failure> { panic!("errback exploded") }),
    );
    assert!(failed_with::<_, Panicked>(&slot));
}

#[test]
fn reject_fires_the_failure_path() {
    let (deferred, resolver) = Deferred::<u32>::new();
    let slot = record(deferred);
    resolver.reject(ConnectionLost::new());
    assert!(failed_with::<_, ConnectionLost>(&slot));
}

#[test]
fn dropping_resolver_fails_with_resolver_dropped() {
    let (deferred, resolver) = Deferred::<u32>::new();
    let slot = record(deferred);
    drop(resolver);
    assert!(failed_with::<_, ResolverDropped>(&slot));
}

#[test]
fn dropping_both_halves_unfired_logs_nothing() {
    let logs = LogCapture::new();
    logs.run(|| {
        let (deferred, resolver) = Deferred::<u32>::new();
        drop(deferred);
        drop(resolver);
    });
    assert_eq!(logs.count("Unhandled error"), 0, "{}", logs.text());
}

#[test]
fn a_resolver_dropped_after_the_future_awaiting_its_deferred_logs_nothing() {
    let logs = LogCapture::new();
    logs.run(|| {
        let (deferred, resolver) = Deferred::<u32>::new();
        let mut waiting = Box::pin(deferred);
        let waker = std::task::Waker::noop();
        let polled = waiting
            .as_mut()
            .poll(&mut std::task::Context::from_waker(waker));
        assert!(polled.is_pending());
        drop(waiting);
        drop(resolver);
    });
    assert_eq!(logs.count("Unhandled error"), 0, "{}", logs.text());
}
