//! System event triggers, shutdown and the stop signals as seen from one
//! process (the signals themselves are tested in child processes, in
//! `tests/signals.rs`).

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::test_support::{entries, log, ms, push, stop_after};
use super::*;
use crate::error::Cancelled;
use crate::testing::log_capture::LogCapture;

#[test]
fn shutdown_timeout_bounds_a_never_firing_before_trigger() {
    let reactor = Reactor::new().unwrap();
    reactor.set_shutdown_timeout(ms(50));
    let held = Rc::new(RefCell::new(None));
    let keep = held.clone();
    reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, move || {
        let (deferred, resolver) = Deferred::<()>::new();
        *keep.borrow_mut() = Some(resolver);
        deferred
    });
    let during = Rc::new(Cell::new(false));
    let d = during.clone();
    reactor.add_system_event_trigger(Phase::During, SystemEvent::Shutdown, move || d.set(true));
    stop_after(&reactor, ms(1));
    let logs = LogCapture::new();
    let started = Instant::now();
    logs.run(|| reactor.run().unwrap());
    let elapsed = started.elapsed();
    assert!(
        elapsed >= ms(50) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    assert!(during.get());
    assert_eq!(logs.count("shutdown timed out"), 1, "{}", logs.text());
}

#[test]
fn failed_before_trigger_deferred_does_not_block_shutdown() {
    let reactor = Reactor::new().unwrap();
    reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, || {
        Deferred::<()>::fail(Cancelled)
    });
    let after = Rc::new(Cell::new(false));
    let a = after.clone();
    reactor.add_system_event_trigger(Phase::After, SystemEvent::Shutdown, move || a.set(true));
    stop_after(&reactor, ms(1));
    let logs = LogCapture::new();
    logs.run(|| reactor.run().unwrap());
    assert!(after.get());
    assert_eq!(
        logs.count("trigger's Deferred failed"),
        1,
        "{}",
        logs.text()
    );
}

#[test]
fn removed_trigger_does_not_run_and_removing_twice_fails() {
    let reactor = Reactor::new().unwrap();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let id =
        reactor.add_system_event_trigger(Phase::During, SystemEvent::Shutdown, move || r.set(true));
    assert_eq!(reactor.remove_system_event_trigger(id), Ok(()));
    assert_eq!(
        reactor.remove_system_event_trigger(id),
        Err(ReactorError::NoSuchTrigger)
    );
    stop_after(&reactor, ms(1));
    reactor.run().unwrap();
    assert!(!ran.get());
}

#[test]
fn trigger_added_during_its_phase_runs_in_that_phase() {
    let reactor = Reactor::new().unwrap();
    let order = log();
    let (r, o) = (reactor.clone(), order.clone());
    reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, move || {
        push(&o, "first");
        let o2 = o.clone();
        r.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, move || {
            push(&o2, "added")
        });
    });
    stop_after(&reactor, ms(1));
    reactor.run().unwrap();
    assert_eq!(entries(&order), ["first", "added"]);
}

#[test]
fn panic_in_a_trigger_is_logged_and_the_others_run() {
    let reactor = Reactor::new().unwrap();
    reactor.add_system_event_trigger(Phase::During, SystemEvent::Shutdown, || -> () {
        panic!("trigger exploded")
    });
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    reactor.add_system_event_trigger(Phase::During, SystemEvent::Shutdown, move || r.set(true));
    stop_after(&reactor, ms(1));
    let logs = LogCapture::new();
    logs.run(|| reactor.run().unwrap());
    assert!(ran.get());
    assert!(logs.text().contains("trigger exploded"), "{}", logs.text());
}

#[test]
fn a_reactor_driven_by_a_host_loop_leaves_the_signals_alone() {
    let reactor = Reactor::new().unwrap();
    reactor.start().unwrap();
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert!(!reactor.handles_signals());
    reactor.stop().unwrap();
    while !reactor.is_finished() {
        reactor.run_once(Some(Duration::ZERO)).unwrap();
    }
}

#[test]
fn a_finished_reactor_refuses_to_take_the_signals() {
    let reactor = Reactor::new().unwrap();
    let r = reactor.clone();
    reactor.call_when_running(move || r.stop().unwrap());
    reactor.run_with(Signals::LeaveAlone).unwrap();
    assert!(matches!(
        reactor.install_signal_handlers(),
        Err(crate::error::SignalError::Finished)
    ));
    assert!(!reactor.handles_signals());
}

#[test]
fn a_task_the_shutdown_ends_is_not_reported_as_an_unhandled_error() {
    let reactor = Reactor::new().unwrap();
    drop(reactor.spawn(std::future::pending::<Result<(), Failure>>()));
    let r = reactor.clone();
    reactor.call_when_running(move || r.stop().unwrap());
    let logs = LogCapture::new();
    logs.run(|| reactor.run_with(Signals::LeaveAlone).unwrap());
    assert_eq!(logs.count("Unhandled error"), 0, "{}", logs.text());
}

#[test]
fn a_failure_other_than_the_shutdown_is_still_reported_as_unhandled() {
    let reactor = Reactor::new().unwrap();
    drop(reactor.spawn(async { Err::<(), _>(Failure::new(Cancelled)) }));
    let r = reactor.clone();
    reactor.call_when_running(move || r.stop().unwrap());
    let logs = LogCapture::new();
    logs.run(|| reactor.run_with(Signals::LeaveAlone).unwrap());
    assert_eq!(logs.count("Unhandled error"), 1, "{}", logs.text());
}

#[test]
fn a_host_loop_sleeps_while_shutdown_waits_for_a_before_trigger() {
    let reactor = Reactor::new().unwrap();
    let held = Rc::new(RefCell::new(None));
    let keep = held.clone();
    reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, move || {
        let (deferred, resolver) = Deferred::<()>::new();
        *keep.borrow_mut() = Some(resolver);
        deferred
    });
    reactor.start().unwrap();
    reactor.stop().unwrap();
    // Asked to stop: the next turn starts the shutdown at once.
    assert_eq!(reactor.next_timeout(), Some(Duration::ZERO));
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert!(!reactor.is_finished());
    // Waiting for the trigger's Deferred: nothing to do before the
    // shutdown timeout, so a host loop may sleep (it used to be told to
    // turn at once, forever).
    let wait = reactor.next_timeout().unwrap();
    assert!(wait > Duration::from_secs(25), "{wait:?}");
    // The Deferred fires in a callback of the turn's I/O step: the host is
    // told to turn again at once, not after the timeout.
    let (writer, reader) = std::os::unix::net::UnixStream::pair().unwrap();
    let resolver = held.borrow_mut().take().unwrap();
    let resolver = RefCell::new(Some(resolver));
    reactor
        .add_reader(reader, move |_| {
            if let Some(resolver) = resolver.borrow_mut().take() {
                resolver.resolve(());
            }
        })
        .unwrap();
    (&writer).write_all(b"x").unwrap();
    reactor.run_once(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(reactor.next_timeout(), Some(Duration::ZERO));
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert!(reactor.is_finished());
}
