//! SIGTERM stops a reactor gracefully under any backend, once it took the
//! stop signals through the public API.
//!
//! A signal goes to the whole process, so the reactor runs in a child: this
//! same test binary, running the ignored child test the suite macro
//! generates beside the parent. The child prints what happens; the parent
//! sends SIGTERM and reads ([`WatchedChild`]). Nothing is sent to the test
//! process itself, so the suite runs in parallel with anything.

use std::time::{Duration, Instant};

use torsion::reactor::{Phase, SystemEvent};
use torsion::testing::{Exited, WatchedChild, stop_signals_at_default};
use torsion::{Deferred, Reactor};

use crate::Runner;
use crate::support::stop_after;

/// The child's side: takes SIGINT and SIGTERM, says READY once running,
/// and prints each shutdown phase and the runner's return.
pub fn signal_child(run: Runner) {
    let reactor = Reactor::new().unwrap();
    reactor
        .install_signal_handlers()
        .expect("the parent starts the child with SIGTERM at its default");
    reactor.call_when_running(|| println!("READY"));
    reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, || {
        println!("BEFORE-SHUTDOWN");
        Deferred::succeed(())
    });
    reactor.add_system_event_trigger(Phase::After, SystemEvent::Shutdown, || {
        println!("AFTER-SHUTDOWN");
    });
    // A lost signal must not leave the child behind.
    stop_after(&reactor, Duration::from_secs(20));
    run(&reactor).unwrap();
    println!("RUN-RETURNED");
}

/// The parent's side: runs `child_test` (the full name of the ignored
/// test calling [`signal_child`]) in a child process, sends it SIGTERM once
/// it is running, and expects the whole shutdown and a clean exit.
pub fn sigterm_stops_the_reactor_gracefully(child_test: &str) {
    let mut command = stop_signals_at_default(std::env::current_exe().unwrap());
    command.args([
        "--exact",
        child_test,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    let mut child = WatchedChild::spawn(&mut command)
        .unwrap()
        .with_limit(Duration::from_secs(10));
    child.wait_for_stdout("READY");
    child.signal("TERM");
    let signalled = Instant::now();
    let Exited {
        status, out: seen, ..
    } = child.wait();
    assert!(status.success(), "{status:?}: {seen:?}");
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "stopped by the signal, not the child's guard: {seen:?}"
    );
    let position = |needle: &str| seen.iter().position(|line| line.contains(needle));
    let order: Vec<_> = ["BEFORE-SHUTDOWN", "AFTER-SHUTDOWN", "RUN-RETURNED"]
        .iter()
        .map(|needle| position(needle))
        .collect();
    assert!(
        order.iter().all(Option::is_some) && order.is_sorted(),
        "{seen:?}"
    );
}

/// The full name libtest gives a test `name` generated in the module
/// `module_path` (which starts with the crate's name, not part of it).
pub fn test_name(module_path: &str, name: &str) -> String {
    match module_path.split_once("::") {
        Some((_, module)) => format!("{module}::{name}"),
        None => name.to_owned(),
    }
}
