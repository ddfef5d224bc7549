use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use super::*;
use crate::error::{Cancelled, ConnectionLost};
use crate::testing::Clock;
use crate::testing::outcome::record;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn millis(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn counter() -> (Rc<Cell<u32>>, impl FnMut() + 'static) {
    let count = Rc::new(Cell::new(0));
    let c = count.clone();
    (count, move || c.set(c.get() + 1))
}

#[test]
fn start_now_calls_at_once_and_then_every_interval() {
    let clock = Clock::new();
    let (count, tick) = counter();
    let looping = LoopingCall::new(clock.clone(), tick);
    let _done = looping.start(secs(1), true).unwrap();
    assert_eq!(count.get(), 1);
    clock.advance(secs(1));
    clock.advance(secs(1));
    assert_eq!(count.get(), 3);
}

#[test]
fn start_later_waits_one_interval() {
    let clock = Clock::new();
    let (count, tick) = counter();
    let looping = LoopingCall::new(clock.clone(), tick);
    let _done = looping.start(secs(1), false).unwrap();
    assert_eq!(count.get(), 0);
    clock.advance(secs(1));
    assert_eq!(count.get(), 1);
}

#[test]
fn skipped_slots_give_a_single_call_with_count() {
    let clock = Clock::new();
    let counts = Rc::new(RefCell::new(Vec::new()));
    let into = counts.clone();
    let looping =
        LoopingCall::with_count(clock.clone(), move |count| into.borrow_mut().push(count));
    let _done = looping.start(secs(1), true).unwrap();
    clock.advance(millis(3_500));
    assert_eq!(*counts.borrow(), [1, 3]);
    clock.advance(millis(500));
    assert_eq!(*counts.borrow(), [1, 3, 1]);
}

#[test]
fn calls_stay_aligned_to_the_start_time() {
    let clock = Clock::new();
    let times = Rc::new(RefCell::new(Vec::new()));
    let (c, into) = (clock.clone(), times.clone());
    let looping = LoopingCall::new(clock.clone(), move || into.borrow_mut().push(c.elapsed()));
    let _done = looping.start(secs(1), true).unwrap();
    clock.pump(&[millis(1_300), millis(1_300), millis(1_300)]);
    assert_eq!(
        *times.borrow(),
        [secs(0), millis(1_300), millis(2_600), millis(3_900)]
    );
    assert_eq!(clock.pending_calls()[0].time(), clock.now() + millis(100));
}

#[test]
fn starting_a_running_loop_is_an_error() {
    let clock = Clock::new();
    let looping = LoopingCall::new(clock.clone(), || {});
    let _done = looping.start(secs(1), false).unwrap();
    assert_eq!(
        looping.start(secs(1), false).unwrap_err(),
        LoopingCallError::AlreadyRunning
    );
}

#[test]
fn stop_fires_the_start_deferred_and_cancels_the_next_call() {
    let clock = Clock::new();
    let looping = LoopingCall::new(clock.clone(), || {});
    let done = record(looping.start(secs(1), true).unwrap());
    assert!(done.borrow().is_none());
    looping.stop();
    assert!(matches!(*done.borrow(), Some(Ok(()))));
    assert!(!looping.running());
    assert!(clock.pending_calls().is_empty());
}

#[test]
fn stop_is_idempotent() {
    let clock = Clock::new();
    let looping = LoopingCall::new(clock.clone(), || {});
    looping.stop();
    let _done = looping.start(secs(1), true).unwrap();
    looping.stop();
    looping.stop();
    assert!(!looping.running());
}

#[test]
fn running_is_false_when_the_start_deferred_fires() {
    let clock = Clock::new();
    let looping = LoopingCall::new(clock.clone(), || {});
    let observed = Rc::new(Cell::new(None));
    let (l, o) = (looping.clone(), observed.clone());
    drop(
        looping
            .start(secs(1), true)
            .unwrap()
            .map(move |()| o.set(Some(l.running()))),
    );
    looping.stop();
    assert_eq!(observed.get(), Some(false));
}

#[test]
fn function_returning_a_pending_deferred_delays_the_next_call() {
    let clock = Clock::new();
    let pending: Rc<RefCell<Vec<Resolver<()>>>> = Rc::new(RefCell::new(Vec::new()));
    let (count, into) = (Rc::new(Cell::new(0)), pending.clone());
    let c = count.clone();
    let looping = LoopingCall::new(clock.clone(), move || {
        c.set(c.get() + 1);
        let (deferred, resolver) = Deferred::<()>::new();
        into.borrow_mut().push(resolver);
        deferred
    });
    let _done = looping.start(secs(1), true).unwrap();
    clock.advance(secs(5));
    assert_eq!(
        count.get(),
        1,
        "not called again while its Deferred is pending"
    );
    pending.borrow_mut().pop().unwrap().resolve(());
    clock.advance(secs(1));
    assert_eq!(count.get(), 2);
}

#[test]
fn stop_while_the_functions_deferred_is_pending_fires_when_it_fires() {
    let clock = Clock::new();
    let pending: Rc<RefCell<Option<Resolver<()>>>> = Rc::new(RefCell::new(None));
    let into = pending.clone();
    let looping = LoopingCall::new(clock.clone(), move || {
        let (deferred, resolver) = Deferred::<()>::new();
        *into.borrow_mut() = Some(resolver);
        deferred
    });
    let done = record(looping.start(secs(1), true).unwrap());
    looping.stop();
    assert!(done.borrow().is_none());
    pending.borrow_mut().take().unwrap().resolve(());
    assert!(matches!(*done.borrow(), Some(Ok(()))));
}

#[test]
fn failure_stops_the_loop_and_fails_the_start_deferred() {
    let clock = Clock::new();
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    let looping = LoopingCall::new(clock.clone(), move || {
        c.set(c.get() + 1);
        if c.get() == 2 {
            Err(ConnectionLost::new())
        } else {
            Ok(())
        }
    });
    let done = record(looping.start(secs(1), true).unwrap());
    clock.advance(secs(1));
    clock.advance(secs(5));
    assert_eq!(calls.get(), 2);
    assert!(!looping.running());
    assert!(matches!(&*done.borrow(), Some(Err(f)) if f.is::<ConnectionLost>()));
}

#[test]
fn failed_deferred_stops_the_loop() {
    let clock = Clock::new();
    let looping = LoopingCall::new(
        clock.clone(),
        || Deferred::<()>::fail(ConnectionLost::new()),
    );
    let done = record(looping.start(secs(1), true).unwrap());
    assert!(matches!(&*done.borrow(), Some(Err(f)) if f.is::<ConnectionLost>()));
}

#[test]
fn panic_stops_the_loop_and_fails_the_start_deferred() {
    let clock = Clock::new();
    let looping = LoopingCall::new(clock.clone(), || -> () { panic!("tick exploded") });
    let done = record(looping.start(secs(1), true).unwrap());
    assert!(matches!(&*done.borrow(), Some(Err(f)) if f.is_panic()));
    assert!(clock.pending_calls().is_empty());
}

#[test]
fn zero_interval_calls_once_per_turn() {
    let clock = Clock::new();
    let looping_slot: Rc<RefCell<Option<LoopingCall>>> = Rc::new(RefCell::new(None));
    let (count, slot) = (Rc::new(Cell::new(0)), looping_slot.clone());
    let c = count.clone();
    let looping = LoopingCall::new(clock.clone(), move || {
        c.set(c.get() + 1);
        if c.get() == 5 {
            slot.borrow().as_ref().unwrap().stop();
        }
    });
    *looping_slot.borrow_mut() = Some(looping.clone());
    let _done = looping.start(Duration::ZERO, false).unwrap();
    // Each call schedules the next with a zero delay: one pending call at a
    // time, each its own turn.
    assert_eq!(clock.pending_calls().len(), 1);
    clock.advance(Duration::ZERO);
    assert_eq!(count.get(), 5);
    assert!(!looping.running());
    looping_slot.borrow_mut().take();
}

#[test]
fn reset_restarts_the_interval_from_now() {
    let clock = Clock::new();
    let (count, tick) = counter();
    let looping = LoopingCall::new(clock.clone(), tick);
    let _done = looping.start(secs(2), false).unwrap();
    clock.advance(secs(1));
    looping.reset();
    clock.advance(secs(1));
    assert_eq!(count.get(), 0);
    clock.advance(secs(1));
    assert_eq!(count.get(), 1);
}

#[test]
fn defer_later_fires_with_the_functions_result_after_the_delay() {
    let clock = Clock::new();
    let later = defer_later(&clock, secs(2), || Ok::<u32, Failure>(7));
    let value = Rc::new(Cell::new(None));
    let into = value.clone();
    drop(later.map(move |n| into.set(Some(n))));
    clock.advance(secs(1));
    assert_eq!(value.get(), None);
    clock.advance(secs(1));
    assert_eq!(value.get(), Some(7));
}

#[test]
fn defer_later_cancelled_never_calls_and_leaves_no_pending_call() {
    let clock = Clock::new();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let later = defer_later(&clock, secs(2), move || {
        r.set(true);
        Ok::<(), Failure>(())
    });
    later.cancel();
    assert!(clock.pending_calls().is_empty());
    clock.advance(secs(5));
    assert!(!ran.get());
    let slot = record(later);
    assert!(matches!(&*slot.borrow(), Some(Err(f)) if f.is::<Cancelled>()));
}
