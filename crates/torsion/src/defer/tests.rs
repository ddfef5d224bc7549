use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::*;
use crate::Failure;
use crate::error::{Cancelled, ConnectionLost, Panicked, ResolverDropped, TimedOut};
use crate::testing::Clock;
use crate::testing::log_capture::LogCapture;
use crate::testing::outcome::{Slot, record};

fn value<T: Clone>(slot: &Slot<T>) -> T {
    match &*slot.borrow() {
        Some(Ok(value)) => value.clone(),
        Some(Err(failure)) => panic!("expected a value, got {failure}"),
        None => panic!("expected a value, the Deferred has not fired"),
    }
}

fn failed_with<T, E: std::error::Error + 'static>(slot: &Slot<T>) -> bool {
    matches!(&*slot.borrow(), Some(Err(failure)) if failure.is::<E>())
}

fn pending<T>(slot: &Slot<T>) -> bool {
    slot.borrow().is_none()
}

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

#[test]
fn cancel_without_canceller_fails_with_cancelled() {
    let (deferred, resolver) = Deferred::<u32>::new();
    deferred.cancel();
    assert!(resolver.is_cancelled());
    let slot = record(deferred);
    assert!(failed_with::<_, Cancelled>(&slot));
}

#[test]
fn producer_fire_after_cancel_is_swallowed() {
    let (deferred, resolver) = Deferred::<u32>::new();
    deferred.cancel();
    resolver.resolve(9);
    assert!(failed_with::<_, Cancelled>(&record(deferred)));
}

#[test]
fn cancel_runs_the_canceller() {
    let ran = Rc::new(Cell::new(false));
    let flag = ran.clone();
    let (deferred, _resolver) = Deferred::<u32>::with_canceller(move || flag.set(true));
    deferred.cancel();
    assert!(ran.get());
    assert!(failed_with::<_, Cancelled>(&record(deferred)));
}

#[test]
fn canceller_that_fires_the_deferred_decides_the_result() {
    let shared: Rc<RefCell<Option<Resolver<u32>>>> = Rc::new(RefCell::new(None));
    let from_canceller = shared.clone();
    let (deferred, resolver) = Deferred::<u32>::with_canceller(move || {
        if let Some(resolver) = from_canceller.borrow_mut().take() {
            resolver.resolve(42);
        }
    });
    *shared.borrow_mut() = Some(resolver);
    deferred.cancel();
    assert_eq!(value(&record(deferred)), 42);
}

#[test]
fn cancel_after_fire_is_noop() {
    let ran = Rc::new(Cell::new(false));
    let flag = ran.clone();
    let (deferred, resolver) = Deferred::<u32>::with_canceller(move || flag.set(true));
    resolver.resolve(1);
    deferred.cancel();
    assert!(!ran.get());
    assert_eq!(value(&record(deferred)), 1);
}

#[test]
fn cancelling_a_chained_deferred_cancels_upstream() {
    let ran = Rc::new(Cell::new(false));
    let flag = ran.clone();
    let (deferred, _resolver) = Deferred::<u32>::with_canceller(move || flag.set(true));
    let chained = deferred.map(|n| n + 1);
    chained.cancel();
    assert!(ran.get());
    assert!(failed_with::<_, Cancelled>(&record(chained)));
}

#[test]
fn cancelling_outer_waiting_on_inner_cancels_inner() {
    let inner_cancelled = Rc::new(Cell::new(false));
    let flag = inner_cancelled.clone();
    let (inner, _inner_resolver) = Deferred::<u32>::with_canceller(move || flag.set(true));
    let outer = succeed(1).then(move |_| inner);
    assert!(!outer.is_fired());
    outer.cancel();
    assert!(inner_cancelled.get());
    assert!(failed_with::<_, Cancelled>(&record(outer)));
}

#[test]
fn cancellation_can_be_recovered_downstream() {
    let (deferred, _resolver) = Deferred::<u32>::new();
    let recovered = deferred.or_else(|failure| failure.trap::<Cancelled>().map(|_| 0));
    recovered.cancel();
    assert_eq!(value(&record(recovered)), 0);
}

#[test]
fn panicking_canceller_is_logged_and_the_deferred_still_cancels() {
    let logs = LogCapture::new();
    let slot = logs.run(|| {
        let (deferred, _resolver) =
            Deferred::<u32>::with_canceller(|| panic!("canceller exploded"));
        deferred.cancel();
        record(deferred)
    });
    assert!(failed_with::<_, Cancelled>(&slot));
    assert_eq!(logs.count("canceller panicked"), 1, "{}", logs.text());
}

#[test]
fn pause_holds_back_callbacks_until_unpause() {
    let (deferred, resolver) = Deferred::<u32>::new();
    deferred.pause();
    resolver.resolve(1);
    assert!(deferred.is_fired());
    let mut future = pin!(deferred);
    let mut cx = Context::from_waker(Waker::noop());
    assert!(future.as_mut().poll(&mut cx).is_pending());
    future.unpause();
    assert!(matches!(future.as_mut().poll(&mut cx), Poll::Ready(Ok(1))));
}

#[test]
fn pause_twice_unpause_once_delivers_nothing() {
    let (deferred, resolver) = Deferred::<u32>::new();
    deferred.pause();
    deferred.pause();
    resolver.resolve(1);
    deferred.unpause();
    let mut future = pin!(deferred);
    let mut cx = Context::from_waker(Waker::noop());
    assert!(future.as_mut().poll(&mut cx).is_pending());
    future.unpause();
    assert!(matches!(future.as_mut().poll(&mut cx), Poll::Ready(Ok(1))));
}

#[test]
fn is_fired_reports_arrival() {
    let (deferred, resolver) = Deferred::<u32>::new();
    assert!(!deferred.is_fired());
    resolver.resolve(1);
    assert!(deferred.is_fired());
}

#[test]
fn add_timeout_fails_with_timed_out() {
    let clock = Clock::new();
    let (deferred, _resolver) = Deferred::<u32>::new();
    let slot = record(deferred.add_timeout(Duration::from_secs(5), &clock));
    clock.advance(Duration::from_secs(4));
    assert!(pending(&slot));
    clock.advance(Duration::from_secs(1));
    assert!(failed_with::<_, TimedOut>(&slot));
}

#[test]
fn add_timeout_runs_the_canceller() {
    let clock = Clock::new();
    let ran = Rc::new(Cell::new(false));
    let flag = ran.clone();
    let (deferred, _resolver) = Deferred::<u32>::with_canceller(move || flag.set(true));
    let _slot = record(deferred.add_timeout(Duration::from_secs(1), &clock));
    clock.advance(Duration::from_secs(1));
    assert!(ran.get());
}

#[test]
fn add_timeout_leaves_no_pending_call_when_fired_first() {
    let clock = Clock::new();
    let (deferred, resolver) = Deferred::<u32>::new();
    let slot = record(deferred.add_timeout(Duration::from_secs(5), &clock));
    clock.advance(Duration::from_secs(4));
    resolver.resolve(7);
    assert_eq!(value(&slot), 7);
    assert!(clock.pending_calls().is_empty());
}

#[test]
fn manual_cancel_with_timeout_is_cancelled_not_timed_out() {
    let clock = Clock::new();
    let (deferred, _resolver) = Deferred::<u32>::new();
    let timed = deferred.add_timeout(Duration::from_secs(5), &clock);
    timed.cancel();
    assert!(failed_with::<_, Cancelled>(&record(timed)));
    assert!(clock.pending_calls().is_empty());
}

#[test]
fn timeout_turned_into_a_value_by_the_canceller_passes_it_on() {
    let clock = Clock::new();
    let shared: Rc<RefCell<Option<Resolver<u32>>>> = Rc::new(RefCell::new(None));
    let from_canceller = shared.clone();
    let (deferred, resolver) = Deferred::<u32>::with_canceller(move || {
        if let Some(resolver) = from_canceller.borrow_mut().take() {
            resolver.resolve(99);
        }
    });
    *shared.borrow_mut() = Some(resolver);
    let slot = record(deferred.add_timeout(Duration::from_secs(1), &clock));
    clock.advance(Duration::from_secs(1));
    assert_eq!(value(&slot), 99);
}

#[test]
fn unhandled_failure_logged_once_on_drop() {
    let logs = LogCapture::new();
    logs.run(|| {
        let (deferred, resolver) = Deferred::<u32>::new();
        resolver.reject(ConnectionLost::new());
        drop(deferred);
    });
    assert_eq!(
        logs.count("Unhandled error in Deferred"),
        1,
        "{}",
        logs.text()
    );
    assert!(logs.text().contains("lost in a non-clean fashion"));
}

#[test]
fn unhandled_failure_at_the_end_of_a_chain_is_logged() {
    let logs = LogCapture::new();
    logs.run(|| {
        let (deferred, resolver) = Deferred::<u32>::new();
        let end = deferred.map(|n| n + 1);
        resolver.reject(Cancelled);
        drop(end);
    });
    assert_eq!(
        logs.count("Unhandled error in Deferred"),
        1,
        "{}",
        logs.text()
    );
}

#[test]
fn handled_failure_not_logged() {
    let logs = LogCapture::new();
    logs.run(|| {
        let recovered = fail::<u32>(ConnectionLost::new()).or_else(|_| Ok::<u32, Failure>(0));
        drop(recovered);
        let (deferred, resolver) = Deferred::<u32>::new();
        let slot = record(deferred);
        resolver.reject(Cancelled);
        drop(slot);
    });
    assert_eq!(logs.count("Unhandled error"), 0, "{}", logs.text());
}

#[test]
fn failure_delivered_to_a_future_is_not_logged() {
    let logs = LogCapture::new();
    logs.run(|| {
        let mut future = pin!(fail::<u32>(Cancelled));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(matches!(future.as_mut().poll(&mut cx), Poll::Ready(Err(_))));
    });
    assert_eq!(logs.count("Unhandled error"), 0, "{}", logs.text());
}

#[test]
fn future_yields_result() {
    let (deferred, resolver) = Deferred::<u32>::new();
    let mut future = pin!(deferred);
    let mut cx = Context::from_waker(Waker::noop());
    assert!(future.as_mut().poll(&mut cx).is_pending());
    resolver.resolve(3);
    assert!(matches!(future.as_mut().poll(&mut cx), Poll::Ready(Ok(3))));
}

#[test]
fn future_is_woken_when_the_result_arrives() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct CountingWaker(AtomicUsize);
    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
    let waker = Waker::from(counter.clone());
    let (deferred, resolver) = Deferred::<u32>::new();
    let mut future = pin!(deferred);
    let mut cx = Context::from_waker(&waker);
    assert!(future.as_mut().poll(&mut cx).is_pending());
    assert_eq!(counter.0.load(Ordering::SeqCst), 0);
    resolver.resolve(1);
    assert_eq!(counter.0.load(Ordering::SeqCst), 1);
}

#[test]
fn async_block_catches_a_failure_and_returns_normally() {
    let (deferred, resolver) = Deferred::<u32>::new();
    let mut task = pin!(async move {
        match deferred.await {
            Ok(n) => n,
            Err(failure) if failure.is::<ConnectionLost>() => 0,
            Err(_) => 1,
        }
    });
    let mut cx = Context::from_waker(Waker::noop());
    assert!(task.as_mut().poll(&mut cx).is_pending());
    resolver.reject(ConnectionLost::new());
    assert_eq!(task.as_mut().poll(&mut cx), Poll::Ready(0));
}

#[test]
fn maybe_deferred_wraps_results_deferreds_and_panics() {
    assert_eq!(value(&record(maybe_deferred(|| Ok::<u32, Failure>(1)))), 1);
    assert!(failed_with::<_, Cancelled>(&record(maybe_deferred(
        || Err::<u32, _>(Cancelled)
    ))));
    assert_eq!(value(&record(maybe_deferred(|| succeed(2)))), 2);
    let panicked = record(maybe_deferred(|| -> Result<u32, Failure> {
        panic!("in maybe_deferred")
    }));
    assert!(failed_with::<_, Panicked>(&panicked));
}

#[test]
fn into_deferred_turns_results_into_fired_deferreds() {
    let deferred = Ok::<u32, Failure>(4).into_deferred();
    assert!(deferred.is_fired());
    assert_eq!(value(&record(deferred)), 4);
}

#[test]
fn chain_to_fires_another_deferreds_resolver() {
    let (first, first_resolver) = Deferred::<u32>::new();
    let (second, second_resolver) = Deferred::<u32>::new();
    first.chain_to(second_resolver);
    let slot = record(second);
    first_resolver.resolve(8);
    assert_eq!(value(&slot), 8);
}

#[test]
fn callbacks_may_fire_other_deferreds_reentrantly() {
    let (a, a_resolver) = Deferred::<u32>::new();
    let (b, b_resolver) = Deferred::<u32>::new();
    let b_slot = record(b.map(|n| n * 2));
    let a_slot = record(a.map(move |n| {
        b_resolver.resolve(n + 1);
        n
    }));
    a_resolver.resolve(1);
    assert_eq!(value(&a_slot), 1);
    assert_eq!(value(&b_slot), 4);
}

const DEEP: usize = 100_000;

#[test]
fn chain_100000_links_long_resolves_without_overflow() {
    let (deferred, resolver) = Deferred::<usize>::new();
    let mut chain = deferred;
    for _ in 0..DEEP {
        chain = chain.map(|n| n + 1);
    }
    let slot = record(chain);
    resolver.resolve(0);
    assert_eq!(value(&slot), DEEP);
}

#[test]
fn chain_100000_nested_returned_deferreds_resolves_without_overflow() {
    let mut resolvers = Vec::with_capacity(DEEP);
    let (first, first_resolver) = Deferred::<usize>::new();
    let mut chain = first;
    for _ in 0..DEEP {
        let (inner, inner_resolver) = Deferred::<usize>::new();
        resolvers.push(inner_resolver);
        chain = chain.then(move |_| inner);
    }
    let slot = record(chain);
    first_resolver.resolve(0);
    assert!(pending(&slot));
    for (index, resolver) in resolvers.into_iter().enumerate() {
        resolver.resolve(index);
    }
    assert_eq!(value(&slot), DEEP - 1);
}

#[test]
fn chain_of_100000_deferreds_each_waiting_on_the_next_resolves_innermost_last() {
    fn nest(depth: usize, innermost: Deferred<usize>) -> Deferred<usize> {
        let mut current = innermost;
        for _ in 0..depth {
            let inner = current;
            current = succeed(()).then(move |_| inner);
        }
        current
    }
    let (innermost, resolver) = Deferred::<usize>::new();
    let slot = record(nest(DEEP, innermost).map(|n| n + 1));
    assert!(pending(&slot));
    resolver.resolve(41);
    assert_eq!(value(&slot), 42);
}

#[test]
fn dropping_an_unfired_100000_chain_does_not_overflow() {
    let (deferred, resolver) = Deferred::<usize>::new();
    let mut chain = deferred;
    for _ in 0..DEEP {
        chain = chain.map(|n| n + 1);
    }
    drop(chain);
    drop(resolver);
}

#[test]
fn cancelling_the_end_of_a_long_chain_reaches_the_start() {
    let ran = Rc::new(Cell::new(false));
    let flag = ran.clone();
    let (deferred, _resolver) = Deferred::<usize>::with_canceller(move || flag.set(true));
    let mut chain = deferred;
    for _ in 0..1_000 {
        chain = chain.map(|n| n + 1);
    }
    chain.cancel();
    assert!(ran.get());
    assert!(failed_with::<_, Cancelled>(&record(chain)));
}

#[test]
fn cancelling_the_end_of_a_100000_chain_does_not_overflow() {
    let ran = Rc::new(Cell::new(false));
    let flag = ran.clone();
    let (deferred, _resolver) = Deferred::<usize>::with_canceller(move || flag.set(true));
    let mut chain = deferred;
    for _ in 0..DEEP {
        chain = chain.map(|n| n + 1);
    }
    chain.cancel();
    assert!(ran.get());
    assert!(failed_with::<_, Cancelled>(&record(chain)));
}
