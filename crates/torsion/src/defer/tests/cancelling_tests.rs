//! Cancelling, pausing and timeouts.

use super::*;

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
