use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use super::*;
use crate::error::ConnectionLost;
use crate::testing::Clock;
use crate::testing::log_capture::LogCapture;
use crate::testing::outcome::record;

/// A cooperator whose slices are `steps` steps long, on a fake clock.
fn counted(clock: &Clock, steps: usize) -> Cooperator {
    Cooperator::with_terminator(clock.clone(), move || {
        let mut left = steps;
        move || {
            left -= 1;
            left == 0
        }
    })
}

fn logging_steps(
    log: &Rc<RefCell<Vec<String>>>,
    name: &'static str,
    count: usize,
) -> impl Iterator<Item = Step> + 'static {
    let log = log.clone();
    (0..count).map(move |i| {
        log.borrow_mut().push(format!("{name}{i}"));
        Step::Continue
    })
}

fn turn(clock: &Clock) {
    clock.advance(Duration::ZERO);
}

#[test]
fn two_tasks_interleave_round_robin() {
    let clock = Clock::new();
    let cooperator = counted(&clock, 4);
    let log = Rc::new(RefCell::new(Vec::new()));
    let a = record(cooperator.coiterate(logging_steps(&log, "a", 1_000)));
    let b = record(cooperator.coiterate(logging_steps(&log, "b", 1_000)));
    assert!(
        log.borrow().is_empty(),
        "nothing runs before the scheduler's turn"
    );
    // The fake clock runs zero-delay calls as they come: everything finishes.
    turn(&clock);
    let log = log.borrow();
    assert_eq!(log.len(), 2_000);
    assert_eq!(&log[..4], ["a0", "b0", "a1", "b1"]);
    assert!(matches!(*a.borrow(), Some(Ok(()))));
    assert!(matches!(*b.borrow(), Some(Ok(()))));
    assert!(
        clock.pending_calls().is_empty(),
        "no call left once no task is runnable"
    );
}

#[test]
fn a_slice_ends_when_the_terminator_says_so_and_yields_to_the_scheduler() {
    let clock = Clock::new();
    let slices = Rc::new(Cell::new(0));
    let s = slices.clone();
    let cooperator = Cooperator::with_terminator(clock.clone(), move || {
        s.set(s.get() + 1);
        let mut left = 3;
        move || {
            left -= 1;
            left == 0
        }
    });
    let log = Rc::new(RefCell::new(Vec::new()));
    let done = record(cooperator.coiterate(logging_steps(&log, "a", 9)));
    // One zero-delay call is pending: the first slice waits for a turn.
    assert_eq!(clock.pending_calls().len(), 1);
    assert_eq!(slices.get(), 0);
    turn(&clock);
    // Nine steps in slices of three, then a fourth slice finds the end.
    assert_eq!(slices.get(), 4);
    assert_eq!(log.borrow().len(), 9);
    assert!(matches!(*done.borrow(), Some(Ok(()))));
}

#[test]
fn a_task_waiting_on_a_deferred_pauses_alone() {
    let clock = Clock::new();
    let cooperator = counted(&clock, 100);
    let log = Rc::new(RefCell::new(Vec::new()));
    let gate: Rc<RefCell<Option<Resolver<()>>>> = Rc::new(RefCell::new(None));
    let (g, l) = (gate.clone(), log.clone());
    let waiting = (0..3).map(move |i| {
        l.borrow_mut().push(format!("w{i}"));
        if i == 0 {
            let (deferred, resolver) = Deferred::<()>::new();
            *g.borrow_mut() = Some(resolver);
            Step::Wait(deferred)
        } else {
            Step::Continue
        }
    });
    let w = record(cooperator.coiterate(waiting));
    let other = record(cooperator.coiterate(logging_steps(&log, "o", 5)));
    turn(&clock);
    assert!(
        matches!(*other.borrow(), Some(Ok(()))),
        "the other task finished"
    );
    assert!(w.borrow().is_none());
    assert_eq!(
        log.borrow().iter().filter(|e| e.starts_with('w')).count(),
        1
    );
    gate.borrow_mut().take().unwrap().resolve(());
    turn(&clock);
    assert!(matches!(*w.borrow(), Some(Ok(()))));
    assert_eq!(
        log.borrow().iter().filter(|e| e.starts_with('w')).count(),
        3
    );
}

#[test]
fn a_failed_deferred_ends_its_task_with_that_failure() {
    let clock = Clock::new();
    let cooperator = counted(&clock, 10);
    let steps = std::iter::once(Step::Wait(Deferred::fail(ConnectionLost::new())));
    let done = record(cooperator.coiterate(steps));
    turn(&clock);
    assert!(matches!(&*done.borrow(), Some(Err(f)) if f.is::<ConnectionLost>()));
}

#[test]
fn stop_fails_when_done_with_task_stopped() {
    let clock = Clock::new();
    let cooperator = counted(&clock, 10);
    let task = cooperator.cooperate(std::iter::repeat_with(|| Step::Continue));
    let done = record(task.when_done());
    task.stop().unwrap();
    assert!(
        matches!(&*done.borrow(), Some(Err(f)) if f.is::<TaskError>() && *f.downcast_ref::<TaskError>().unwrap() == TaskError::Stopped)
    );
    assert_eq!(task.stop(), Err(TaskError::Stopped));
    assert_eq!(task.pause(), Err(TaskError::Stopped));
    turn(&clock);
    assert!(clock.pending_calls().is_empty());
}

#[test]
fn when_done_after_completion_is_already_fired() {
    let clock = Clock::new();
    let cooperator = counted(&clock, 10);
    let task = cooperator.cooperate((0..3).map(|_| ()));
    turn(&clock);
    let done = task.when_done();
    assert!(done.is_fired());
    assert_eq!(task.pause(), Err(TaskError::Done));
}

#[test]
fn pause_and_resume_are_counted() {
    let clock = Clock::new();
    let cooperator = counted(&clock, 10);
    let log = Rc::new(RefCell::new(Vec::new()));
    let task = cooperator.cooperate(logging_steps(&log, "a", 5));
    task.pause().unwrap();
    task.pause().unwrap();
    turn(&clock);
    assert!(log.borrow().is_empty());
    task.resume().unwrap();
    turn(&clock);
    assert!(log.borrow().is_empty());
    task.resume().unwrap();
    turn(&clock);
    assert_eq!(log.borrow().len(), 5);
}

#[test]
fn resume_when_not_paused_is_not_paused() {
    let clock = Clock::new();
    let task = counted(&clock, 10).cooperate((0..3).map(|_| ()));
    assert_eq!(task.resume(), Err(TaskError::NotPaused));
}

#[test]
fn stopping_the_cooperator_ends_every_task_and_later_ones_at_once() {
    let clock = Clock::new();
    let cooperator = counted(&clock, 10);
    let first = record(cooperator.coiterate((0..100).map(|_| ())));
    cooperator.stop();
    let later = record(cooperator.coiterate((0..100).map(|_| ())));
    for slot in [first, later] {
        assert!(
            matches!(&*slot.borrow(), Some(Err(f)) if f.downcast_ref::<TaskError>() == Some(&TaskError::SchedulerStopped))
        );
    }
    assert!(!cooperator.running());
    assert!(clock.pending_calls().is_empty());
}

#[test]
fn panic_in_a_step_is_logged_and_fails_only_that_task() {
    let clock = Clock::new();
    let cooperator = counted(&clock, 10);
    let logs = LogCapture::new();
    let (bad, good) = logs.run(|| {
        let bad = record(cooperator.coiterate((0..3).map(|i| {
            if i == 1 {
                panic!("step exploded");
            }
        })));
        let good = record(cooperator.coiterate((0..3).map(|_| ())));
        turn(&clock);
        (bad, good)
    });
    assert!(matches!(&*bad.borrow(), Some(Err(f)) if f.is_panic()));
    assert!(matches!(*good.borrow(), Some(Ok(()))));
    assert!(logs.text().contains("step exploded"), "{}", logs.text());
}

#[test]
fn cooperate_free_function_keeps_its_cooperator_alive() {
    let clock = Clock::new();
    let done = record(coiterate(clock.clone(), (0..10).map(|_| ())));
    turn(&clock);
    assert!(matches!(*done.borrow(), Some(Ok(()))));
}

#[test]
fn panic_in_a_step_on_a_real_reactor_is_logged_and_later_work_runs() {
    use crate::Reactor;
    let reactor = Reactor::new().unwrap();
    let cooperator = Cooperator::new(reactor.clone());
    drop(cooperator.coiterate((0..3).map(|i| {
        if i == 1 {
            panic!("step exploded on the reactor");
        }
    })));
    let later = Rc::new(Cell::new(false));
    let (r, l) = (reactor.clone(), later.clone());
    reactor.call_later(Duration::from_millis(5), move || {
        l.set(true);
        r.stop().unwrap();
    });
    let logs = LogCapture::new();
    logs.run(|| reactor.run().unwrap());
    assert!(later.get());
    assert!(
        logs.text().contains("step exploded on the reactor"),
        "{}",
        logs.text()
    );
    assert!(
        logs.text().contains("Unhandled error in Deferred"),
        "the failed when_done is reported"
    );
}
