//! SIGINT and SIGTERM against real processes: each scenario runs in a
//! child process (this same test binary, running one of the ignored
//! `child_*` tests) so the signal hits nothing else. The child prints what
//! happens on stdout; the parent sends signals with `kill` and reads.

use std::os::unix::process::ExitStatusExt;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use torsion::reactor::{Phase, Signals, SystemEvent};
use torsion::testing::{Exited, WatchedChild, stop_signals_at_default};
use torsion::{Deferred, Reactor};

/// A child process running one ignored test of this binary, watched.
fn child_reactor(test: &str) -> WatchedChild {
    let mut command = stop_signals_at_default(std::env::current_exe().unwrap());
    command.args([
        "--exact",
        test,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    WatchedChild::spawn(&mut command)
        .unwrap()
        .with_limit(Duration::from_secs(10))
}

/// Prints at each shutdown phase, and when `run` returns.
fn announce_shutdown(reactor: &Reactor) {
    reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, || {
        println!("BEFORE-SHUTDOWN");
        Deferred::succeed(())
    });
    reactor.add_system_event_trigger(Phase::After, SystemEvent::Shutdown, || {
        println!("AFTER-SHUTDOWN");
    });
}

#[test]
#[ignore = "a child process of the tests below"]
fn child_runs_a_reactor() {
    let reactor = Reactor::new().unwrap();
    reactor.call_when_running(|| println!("READY"));
    announce_shutdown(&reactor);
    reactor.run().unwrap();
    println!("RUN-RETURNED");
}

fn stops_gracefully_on(signal: &str) {
    let mut child = child_reactor("child_runs_a_reactor");
    child.wait_for_stdout("READY");
    child.signal(signal);
    let Exited {
        status,
        out: printed,
        ..
    } = child.wait();
    assert!(status.success(), "{status:?}: {printed:?}");
    for expected in ["BEFORE-SHUTDOWN", "AFTER-SHUTDOWN", "RUN-RETURNED"] {
        assert!(
            printed.iter().any(|line| line.contains(expected)),
            "{expected} missing from {printed:?}"
        );
    }
}

#[test]
fn sigint_stops_a_running_reactor_gracefully() {
    stops_gracefully_on("INT");
}

#[test]
#[ignore = "a child process of the tests below"]
fn child_runs_a_reactor_leaving_signals_alone() {
    let reactor = Reactor::new().unwrap();
    reactor.call_when_running(|| println!("READY"));
    announce_shutdown(&reactor);
    reactor.run_with(Signals::LeaveAlone).unwrap();
    println!("RUN-RETURNED");
}

#[test]
fn with_signals_left_alone_sigint_ends_the_process_as_by_default() {
    let mut child = child_reactor("child_runs_a_reactor_leaving_signals_alone");
    child.wait_for_stdout("READY");
    child.signal("INT");
    let Exited {
        status,
        out: printed,
        ..
    } = child.wait();
    assert_eq!(status.signal(), Some(2), "{status:?}: {printed:?}");
    assert!(
        !printed.iter().any(|line| line.contains("SHUTDOWN")),
        "{printed:?}"
    );
}

#[test]
#[ignore = "a child process of the tests below"]
fn child_runs_a_reactor_then_waits() {
    let reactor = Reactor::new().unwrap();
    let r = reactor.clone();
    reactor.call_when_running(move || r.stop().unwrap());
    reactor.run().unwrap();
    println!("RUN-RETURNED");
    std::thread::sleep(Duration::from_secs(20));
    println!("STILL-ALIVE");
}

#[test]
fn once_run_returns_sigint_has_its_default_effect_again() {
    let mut child = child_reactor("child_runs_a_reactor_then_waits");
    child.wait_for_stdout("RUN-RETURNED");
    child.signal("INT");
    let Exited {
        status,
        out: printed,
        ..
    } = child.wait();
    assert_eq!(status.signal(), Some(2), "{status:?}: {printed:?}");
}

#[test]
#[ignore = "a child process of the tests below"]
fn child_runs_two_reactors() {
    let first = Reactor::new().unwrap();
    let (to_first, first_handle) = mpsc::channel();
    let (first_running, go) = mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let second = Reactor::new().unwrap();
        to_first.send(second.handle()).unwrap();
        // The first reactor runs (and holds the signals) before this one.
        go.recv().unwrap();
        let s = second.clone();
        second.call_when_running(move || {
            println!("SECOND-READY handles_signals={}", s.handles_signals());
        });
        second.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, || {
            println!("SECOND-SHUTDOWN");
        });
        second.run().unwrap();
    });
    let second = first_handle.recv().unwrap();
    let f = first.clone();
    first.call_when_running(move || {
        println!("FIRST-READY handles_signals={}", f.handles_signals());
        first_running.send(()).unwrap();
    });
    first.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, || {
        println!("FIRST-SHUTDOWN");
    });
    first.run().unwrap();
    second
        .call_from_thread(|second| {
            println!("SECOND-RUNNING-AFTER-FIRST={}", second.is_running());
            second.stop().unwrap();
        })
        .unwrap();
    thread.join().unwrap();
}

#[test]
fn a_second_reactor_does_not_take_the_signals_another_holds() {
    let mut child = child_reactor("child_runs_two_reactors");
    child.wait_for_stdout("FIRST-READY handles_signals=true");
    child.wait_for_stdout("SECOND-READY handles_signals=false");
    child.signal("INT");
    let Exited {
        status,
        out: printed,
        ..
    } = child.wait();
    assert!(status.success(), "{status:?}: {printed:?}");
    let position = |needle: &str| printed.iter().position(|line| line.contains(needle));
    let first_stopped = position("FIRST-SHUTDOWN").expect("the first reactor stopped");
    let still_running = position("SECOND-RUNNING-AFTER-FIRST=true")
        .unwrap_or_else(|| panic!("the signal stopped the second reactor: {printed:?}"));
    assert!(first_stopped < still_running, "{printed:?}");
}

#[test]
#[ignore = "a child process of the tests below"]
fn child_waits_for_a_shutdown_trigger_that_never_fires() {
    let reactor = Reactor::new().unwrap();
    reactor.set_shutdown_timeout(Duration::from_secs(60));
    reactor.call_when_running(|| println!("READY"));
    // Held here, so the trigger's Deferred never fires (a dropped resolver
    // would fail it, which ends the wait too).
    let waiting = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let w = waiting.clone();
    reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, move || {
        println!("BEFORE-SHUTDOWN");
        let (never, resolver) = Deferred::<()>::new();
        w.borrow_mut().push(resolver);
        never
    });
    reactor.add_system_event_trigger(Phase::After, SystemEvent::Shutdown, || {
        println!("AFTER-SHUTDOWN");
    });
    reactor.run().unwrap();
    println!("RUN-RETURNED still-waiting={}", waiting.borrow().len());
}

#[test]
fn a_second_sigint_while_stopping_stops_without_waiting() {
    let mut child = child_reactor("child_waits_for_a_shutdown_trigger_that_never_fires");
    child.wait_for_stdout("READY");
    child.signal("INT");
    child.wait_for_stdout("BEFORE-SHUTDOWN");
    let second_signal = Instant::now();
    child.signal("INT");
    let Exited {
        status,
        out: printed,
        ..
    } = child.wait();
    assert!(
        second_signal.elapsed() < Duration::from_secs(2),
        "{printed:?}"
    );
    assert!(status.success(), "{status:?}: {printed:?}");
    for expected in ["AFTER-SHUTDOWN", "RUN-RETURNED still-waiting=1"] {
        assert!(
            printed.iter().any(|line| line.contains(expected)),
            "{expected} missing from {printed:?}"
        );
    }
}

#[test]
#[ignore = "a child process of the tests below"]
fn child_hangs_in_a_during_shutdown_trigger() {
    let reactor = Reactor::new().unwrap();
    reactor.set_shutdown_timeout(Duration::from_secs(60));
    reactor.call_when_running(|| println!("READY"));
    let waiting = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let w = waiting.clone();
    reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, move || {
        println!("BEFORE-SHUTDOWN");
        let (never, resolver) = Deferred::<()>::new();
        w.borrow_mut().push(resolver);
        never
    });
    reactor.add_system_event_trigger(Phase::During, SystemEvent::Shutdown, || {
        println!("DURING-SHUTDOWN");
        // A shutdown step that hangs (a thread pool joining a job that
        // never ends, say).
        std::thread::sleep(Duration::from_secs(30));
    });
    reactor.run().unwrap();
    println!("RUN-RETURNED");
}

#[test]
fn a_third_sigint_ends_a_shutdown_that_hangs() {
    let mut child = child_reactor("child_hangs_in_a_during_shutdown_trigger");
    child.wait_for_stdout("READY");
    child.signal("INT");
    child.wait_for_stdout("BEFORE-SHUTDOWN");
    child.signal("INT");
    child.wait_for_stdout("DURING-SHUTDOWN");
    child.signal("INT");
    let Exited {
        status,
        out: printed,
        ..
    } = child.wait();
    assert_eq!(status.signal(), Some(2), "{status:?}: {printed:?}");
    assert!(
        !printed.iter().any(|line| line.contains("RUN-RETURNED")),
        "{printed:?}"
    );
}
