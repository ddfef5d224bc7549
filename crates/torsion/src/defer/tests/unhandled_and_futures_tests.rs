//! Unhandled failures reported once, Deferreds as futures, and conversions.

use super::*;

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
