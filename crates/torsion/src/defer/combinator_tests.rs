use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::*;
use crate::Failure;
use crate::error::{
    Cancelled, ConnectionLost, FailureGroup, FirstError, QueueOverflow, QueueUnderflow,
};
use crate::testing::log_capture::LogCapture;
use crate::testing::outcome::{Slot, record};

fn value<T: Clone>(slot: &Slot<T>) -> T {
    match &*slot.borrow() {
        Some(Ok(value)) => value.clone(),
        Some(Err(failure)) => panic!("expected a value, got {failure}"),
        None => panic!("not fired"),
    }
}

fn with_failure<T, R>(slot: &Slot<T>, f: impl FnOnce(&Failure) -> R) -> R {
    match &*slot.borrow() {
        Some(Err(failure)) => f(failure),
        _ => panic!("expected a failure"),
    }
}

fn cancel_flag<T: 'static>() -> (Deferred<T>, Resolver<T>, Rc<Cell<bool>>) {
    let flag = Rc::new(Cell::new(false));
    let set = flag.clone();
    let (deferred, resolver) = Deferred::with_canceller(move || set.set(true));
    (deferred, resolver, flag)
}

#[test]
fn gather_keeps_input_order_whatever_the_completion_order() {
    let (a, ra) = Deferred::<u32>::new();
    let (b, rb) = Deferred::<u32>::new();
    let (c, rc) = Deferred::<u32>::new();
    let slot = record(gather(vec![a, b, c]));
    rc.resolve(3);
    ra.resolve(1);
    assert!(slot.borrow().is_none());
    rb.resolve(2);
    assert_eq!(value(&slot), vec![1, 2, 3]);
}

#[test]
fn gather_fails_at_the_first_failure_without_waiting() {
    let (a, _ra) = Deferred::<u32>::new();
    let (b, rb) = Deferred::<u32>::new();
    let slot = record(gather(vec![a, b]));
    rb.reject(ConnectionLost::new());
    with_failure(&slot, |failure| {
        let first = failure.downcast_ref::<FirstError>().expect("FirstError");
        assert_eq!(first.index, 1);
        assert!(first.failure.is::<ConnectionLost>());
    });
}

#[test]
fn gather_cancel_cancels_every_member() {
    let (a, _ra, a_cancelled) = cancel_flag::<u32>();
    let (b, _rb, b_cancelled) = cancel_flag::<u32>();
    let gathered = gather(vec![a, b]);
    gathered.cancel();
    assert!(a_cancelled.get() && b_cancelled.get());
    assert!(with_failure(&record(gathered), |f| f.is::<Cancelled>()
        || f.is::<FirstError>()));
}

#[test]
fn gather_of_nothing_succeeds_at_once() {
    assert!(value(&record(gather(Vec::<Deferred<u32>>::new()))).is_empty());
}

#[test]
fn gather_later_failures_are_not_logged_as_unhandled() {
    let logs = LogCapture::new();
    logs.run(|| {
        let (a, ra) = Deferred::<u32>::new();
        let (b, rb) = Deferred::<u32>::new();
        let slot = record(gather(vec![a, b]));
        ra.reject(ConnectionLost::new());
        rb.reject(Cancelled);
        drop(slot);
    });
    assert_eq!(logs.count("Unhandled error"), 0, "{}", logs.text());
}

#[test]
fn deferred_list_gives_per_item_results_in_input_order() {
    let (a, ra) = Deferred::<u32>::new();
    let (b, rb) = Deferred::<u32>::new();
    let slot = record(DeferredList::all(vec![a, b]));
    rb.reject(ConnectionLost::new());
    ra.resolve(1);
    let results = slot.borrow_mut().take().unwrap().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(*results[0].as_ref().unwrap(), 1);
    assert!(results[1].as_ref().unwrap_err().is::<ConnectionLost>());
}

#[test]
fn deferred_list_member_failures_are_not_logged() {
    let logs = LogCapture::new();
    logs.run(|| {
        let (a, ra) = Deferred::<u32>::new();
        let slot = record(DeferredList::all(vec![a, fail(Cancelled)]));
        ra.resolve(1);
        drop(slot);
    });
    assert_eq!(logs.count("Unhandled error"), 0, "{}", logs.text());
}

#[test]
fn deferred_list_fire_on_one_callback_fires_at_first_success() {
    let (a, _ra) = Deferred::<u32>::new();
    let (b, rb) = Deferred::<u32>::new();
    let slot = record(DeferredList::fire_on_one_callback(vec![a, b]));
    rb.resolve(9);
    assert_eq!(value(&slot), (9, 1));
}

#[test]
fn deferred_list_fire_on_one_errback_fails_with_first_error() {
    let (a, _ra) = Deferred::<u32>::new();
    let slot = record(DeferredList::fire_on_one_errback(vec![
        a,
        fail(ConnectionLost::new()),
    ]));
    with_failure(&slot, |f| {
        assert_eq!(f.downcast_ref::<FirstError>().unwrap().index, 1)
    });
}

#[test]
fn deferred_list_cancel_cancels_members() {
    let (a, _ra, a_cancelled) = cancel_flag::<u32>();
    let list = DeferredList::all(vec![a]);
    list.cancel();
    assert!(a_cancelled.get());
}

#[test]
fn race_first_success_wins_and_the_others_are_cancelled() {
    let (a, _ra, a_cancelled) = cancel_flag::<u32>();
    let (b, rb, b_cancelled) = cancel_flag::<u32>();
    let (c, _rc, c_cancelled) = cancel_flag::<u32>();
    let slot = record(race(vec![a, b, c]));
    rb.resolve(5);
    assert_eq!(value(&slot), (1, 5));
    assert!(a_cancelled.get() && c_cancelled.get());
    assert!(!b_cancelled.get());
}

#[test]
fn race_all_failing_is_a_failure_group_in_index_order() {
    let (a, ra) = Deferred::<u32>::new();
    let (b, rb) = Deferred::<u32>::new();
    let (c, rc) = Deferred::<u32>::new();
    let slot = record(race(vec![a, b, c]));
    rc.reject(Cancelled);
    ra.reject(ConnectionLost::new());
    rb.reject(Failure::msg("b"));
    with_failure(&slot, |failure| {
        let group = failure
            .downcast_ref::<FailureGroup>()
            .expect("FailureGroup");
        assert_eq!(group.failures.len(), 3);
        assert!(group.failures[0].is::<ConnectionLost>());
        assert_eq!(group.failures[1].to_string(), "b");
        assert!(group.failures[2].is::<Cancelled>());
    });
}

#[test]
fn race_cancel_cancels_every_member() {
    let (a, _ra, a_cancelled) = cancel_flag::<u32>();
    let (b, _rb, b_cancelled) = cancel_flag::<u32>();
    let raced = race(vec![a, b]);
    raced.cancel();
    assert!(a_cancelled.get() && b_cancelled.get());
}

#[test]
fn lock_serves_waiters_in_fifo_order() {
    let lock = DeferredLock::new();
    let order = Rc::new(RefCell::new(Vec::new()));
    let mut releases = Vec::new();
    for name in ["a", "b", "c"] {
        let (done, release) = Deferred::<()>::new();
        releases.push(release);
        let order = order.clone();
        drop(lock.run(move || {
            order.borrow_mut().push(name);
            done
        }));
    }
    assert_eq!(*order.borrow(), ["a"]);
    assert!(lock.is_locked());
    for release in releases {
        release.resolve(());
    }
    assert_eq!(*order.borrow(), ["a", "b", "c"]);
    assert!(!lock.is_locked());
}

#[test]
fn lock_cancelled_waiter_is_skipped() {
    let lock = DeferredLock::new();
    let held = record(lock.acquire());
    let waiter = lock.acquire();
    let next = record(lock.acquire());
    waiter.cancel();
    assert!(with_failure(&record(waiter), |f| f.is::<Cancelled>()));
    drop(held.borrow_mut().take());
    assert!(matches!(&*next.borrow(), Some(Ok(_))));
}

#[test]
fn lock_run_releases_on_failure() {
    let lock = DeferredLock::new();
    let slot = record(lock.run(|| Err::<u32, _>(ConnectionLost::new())));
    assert!(with_failure(&slot, |f| f.is::<ConnectionLost>()));
    assert!(!lock.is_locked());
}

#[test]
fn lock_run_releases_when_the_function_panics() {
    let lock = DeferredLock::new();
    let slot = record(lock.run(|| -> Result<u32, Failure> { panic!("inside the lock") }));
    assert!(with_failure(&slot, Failure::is_panic));
    assert!(!lock.is_locked());
}

#[test]
fn lock_can_be_reacquired_from_a_callback_that_released_it() {
    let lock = DeferredLock::new();
    let again = Rc::new(RefCell::new(None));
    let (l, a) = (lock.clone(), again.clone());
    drop(lock.acquire().map(move |permit| {
        drop(permit);
        *a.borrow_mut() = Some(record(l.acquire()));
    }));
    assert!(matches!(
        &*again.borrow().as_ref().unwrap().borrow(),
        Some(Ok(_))
    ));
}

#[test]
fn semaphore_limits_jobs_in_flight_and_keeps_fifo_order() {
    let semaphore = DeferredSemaphore::new(2);
    let in_flight = Rc::new(Cell::new(0));
    let peak = Rc::new(Cell::new(0));
    let started = Rc::new(RefCell::new(Vec::new()));
    let mut finishers = Vec::new();
    for job in 0..5 {
        let (done, finish) = Deferred::<()>::new();
        finishers.push(finish);
        let (in_flight, peak, started) = (in_flight.clone(), peak.clone(), started.clone());
        let leaving = in_flight.clone();
        drop(semaphore.run(move || {
            in_flight.set(in_flight.get() + 1);
            peak.set(peak.get().max(in_flight.get()));
            started.borrow_mut().push(job);
            done.map(move |()| leaving.set(leaving.get() - 1))
        }));
    }
    assert_eq!(semaphore.available(), 0);
    for finish in finishers {
        finish.resolve(());
    }
    assert_eq!(peak.get(), 2);
    assert_eq!(*started.borrow(), [0, 1, 2, 3, 4]);
    assert_eq!(semaphore.available(), semaphore.limit());
}

#[test]
fn semaphore_cancelled_acquire_is_removed() {
    let semaphore = DeferredSemaphore::new(1);
    let held = record(semaphore.acquire());
    let waiter = semaphore.acquire();
    waiter.cancel();
    drop(held.borrow_mut().take());
    assert_eq!(semaphore.available(), 1);
}

#[test]
#[should_panic(expected = "at least one token")]
fn semaphore_with_zero_tokens_panics() {
    let _ = DeferredSemaphore::new(0);
}

#[test]
fn queue_put_without_getters_buffers_until_full() {
    let queue = DeferredQueue::new(Some(1), Some(1));
    queue.put(1).unwrap();
    assert_eq!(queue.put(2), Err(QueueOverflow));
    assert_eq!(queue.len(), 1);
    assert_eq!(value(&record(queue.get().unwrap())), 1);
}

#[test]
fn queue_second_pending_get_over_backlog_underflows() {
    let queue = DeferredQueue::<u32>::new(Some(1), Some(1));
    let first = queue.get().unwrap();
    assert!(matches!(queue.get(), Err(QueueUnderflow)));
    drop(first);
}

#[test]
fn queue_put_wakes_the_oldest_getter() {
    let queue = DeferredQueue::new(None, None);
    let first = record(queue.get().unwrap());
    let second = record(queue.get().unwrap());
    queue.put("x").unwrap();
    assert_eq!(value(&first), "x");
    assert!(second.borrow().is_none());
    assert_eq!(queue.pending_gets(), 1);
}

#[test]
fn queue_cancelled_get_is_skipped() {
    let queue = DeferredQueue::new(None, None);
    let cancelled = queue.get().unwrap();
    let next = record(queue.get().unwrap());
    cancelled.cancel();
    queue.put(7).unwrap();
    assert_eq!(value(&next), 7);
    assert!(with_failure(&record(cancelled), |f| f.is::<Cancelled>()));
}
