//! The process-wide blocking bridge. `setup()` holds for the whole process,
//! so each scenario runs in a child process: this same test binary, running
//! the ignored `bridge_child` test with the scenario named in an
//! environment variable. The parent checks what the child printed.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use torsion::blocking::{self, BridgeError};
use torsion::reactor::{Phase, SystemEvent};
use torsion::testing::stop_signals_at_default;
use torsion::{Deferred, Failure, Reactor};

const SCENARIO: &str = "TORSION_BRIDGE_SCENARIO";
const LONG: Duration = Duration::from_secs(10);

/// This test binary, set to run `scenario` as its only test.
fn child_command(scenario: &str) -> Command {
    let mut command = stop_signals_at_default(std::env::current_exe().unwrap());
    command
        .args([
            "--exact",
            "bridge_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SCENARIO, scenario);
    command
}

/// Runs `scenario` in a child process and returns its standard output.
fn run_child(scenario: &str) -> String {
    let output = child_command(scenario).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "child {scenario} failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn never(_: Reactor) -> Deferred<u32> {
    let (deferred, resolver) = Deferred::new();
    std::mem::forget(resolver);
    deferred
}

#[test]
#[ignore = "runs as a child process of the tests below"]
fn bridge_child() {
    match std::env::var(SCENARIO).as_deref() {
        Ok("not-set-up") => not_set_up(),
        Ok("no-guard") => no_guard(),
        Ok("interrupted") => interrupted(),
        Ok("explicit-shutdown") => explicit_shutdown(),
        Ok("use-reactor") => use_reactor(),
        other => panic!("unknown scenario {other:?}"),
    }
}

fn not_set_up() {
    let result = blocking::run_in_reactor(|_| Ok::<_, Failure>(1));
    let error = result.wait(LONG).unwrap_err();
    assert!(matches!(error, BridgeError::NotSetUp), "{error}");
    println!("NOT-SET-UP: {error}");
    assert!(matches!(
        blocking::wait_for(LONG, |_| Ok::<_, Failure>(1)),
        Err(BridgeError::NotSetUp)
    ));
    assert!(matches!(
        blocking::shutdown(LONG),
        Err(BridgeError::NotSetUp)
    ));
    assert!(matches!(blocking::global(), Err(BridgeError::NotSetUp)));
    println!("CHILD-DONE");
}

/// A literal port of crochet's program shape: `setup()` at the top of
/// `main`, no guard held, and `main` simply returns. The process's exit
/// is what stops the reactor.
fn no_guard() {
    blocking::setup().unwrap();
    blocking::setup().unwrap();
    let name = |_: Reactor| Ok::<_, Failure>(std::thread::current().name().map(str::to_owned));
    let a = blocking::wait_for(LONG, name).unwrap();
    let b = blocking::wait_for(LONG, name).unwrap();
    assert_eq!(a.as_deref(), Some("torsion-reactor"));
    assert_eq!(a, b);
    println!("ONE-REACTOR: {}", a.unwrap());
    blocking::wait_for(LONG, |reactor| {
        reactor.add_system_event_trigger(Phase::During, SystemEvent::Shutdown, || {
            println!("SHUTDOWN-TRIGGER-RAN");
        });
        Ok::<_, Failure>(())
    })
    .unwrap();
    println!("RETURNING");
}

/// Blocks in `wait` until the parent sends SIGINT.
fn interrupted() {
    blocking::setup().unwrap();
    blocking::wait_for(LONG, |reactor| {
        reactor.add_system_event_trigger(Phase::During, SystemEvent::Shutdown, || {
            println!("SHUTDOWN-TRIGGER-RAN");
        });
        Ok::<_, Failure>(())
    })
    .unwrap();
    let result = blocking::run_in_reactor(never);
    println!("WAITING");
    let error = result.wait(Duration::from_secs(60)).unwrap_err();
    println!("WOKE: {error}");
    assert!(error.is_reactor_stopped());
    // The same error again, and for new work.
    assert!(result.wait(LONG).unwrap_err().is_reactor_stopped());
    assert!(
        blocking::run_in_reactor(|_| Ok::<_, Failure>(1))
            .wait(LONG)
            .unwrap_err()
            .is_reactor_stopped()
    );
    println!("CHILD-DONE");
}

fn explicit_shutdown() {
    blocking::setup().unwrap();
    let waiter = std::thread::spawn(|| {
        let result = blocking::run_in_reactor(never);
        let started = Instant::now();
        let outcome = result.wait(Duration::from_secs(60));
        (outcome, started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(100));
    blocking::shutdown(LONG).unwrap();
    let (outcome, waited) = waiter.join().unwrap();
    assert!(outcome.unwrap_err().is_reactor_stopped());
    assert!(waited < Duration::from_secs(5));
    println!("WAITER-WOKE");
    let started = Instant::now();
    assert!(
        blocking::run_in_reactor(|_| Ok::<_, Failure>(1))
            .wait(LONG)
            .unwrap_err()
            .is_reactor_stopped()
    );
    assert!(matches!(
        blocking::setup(),
        Err(BridgeError::ReactorStopped)
    ));
    assert!(started.elapsed() < Duration::from_secs(1));
    println!("CHILD-DONE");
}

fn use_reactor() {
    let reactor = Reactor::new().unwrap();
    blocking::use_reactor(&reactor).unwrap();
    assert!(matches!(
        blocking::use_reactor(&reactor),
        Err(BridgeError::AlreadySetUp)
    ));
    // setup() starts nothing now.
    blocking::setup().unwrap();
    let worker = std::thread::spawn(|| {
        let on_main = blocking::wait_for(LONG, |_| {
            Ok::<_, Failure>(blocking::global().unwrap().is_reactor_thread())
        });
        let id = blocking::run_in_reactor(|_| Ok::<_, Failure>(5u8)).stash();
        let value = blocking::retrieve_result::<u8>(id).unwrap().wait(LONG);
        assert!(blocking::retrieve_result::<u8>(id).is_none());
        blocking::shutdown(LONG).unwrap();
        (on_main, value)
    });
    reactor.run().unwrap();
    let (on_main, value) = worker.join().unwrap();
    assert!(on_main.unwrap());
    assert_eq!(value.unwrap(), 5);
    println!("CHILD-DONE");
}

#[test]
fn using_the_bridge_before_setup_is_a_clear_error() {
    let out = run_child("not-set-up");
    assert!(
        out.contains("NOT-SET-UP: the blocking bridge is not set up"),
        "{out}"
    );
    assert!(out.contains("CHILD-DONE"), "{out}");
}

#[test]
fn setup_without_a_guard_keeps_the_reactor_until_the_process_exits() {
    let out = run_child("no-guard");
    assert!(out.contains("ONE-REACTOR: torsion-reactor"), "{out}");
    let returning = out.find("RETURNING").expect(&out);
    let trigger = out.find("SHUTDOWN-TRIGGER-RAN").expect(&out);
    assert!(returning < trigger, "{out}");
}

#[test]
fn ctrl_c_stops_the_reactor_and_wakes_the_waiter_with_an_error() {
    let mut child = child_command("interrupted")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut out = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        out.push_str(&line);
        out.push('\n');
        if line.ends_with("WAITING") {
            break;
        }
    }
    assert!(out.contains("WAITING"), "{out}");
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    // Bounded: the child's own waits are at most a minute, and the reactor
    // stops at once.
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the child did not exit after SIGINT: {out}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    for line in lines {
        out.push_str(&line.unwrap());
        out.push('\n');
    }
    assert!(status.success(), "{status}: {out}");
    assert!(out.contains("WOKE: the reactor has stopped"), "{out}");
    assert!(out.contains("SHUTDOWN-TRIGGER-RAN"), "{out}");
    assert!(out.contains("CHILD-DONE"), "{out}");
}

#[test]
fn shutdown_wakes_waiters_and_later_calls_fail_quickly() {
    let out = run_child("explicit-shutdown");
    assert!(out.contains("WAITER-WOKE"), "{out}");
    assert!(out.contains("CHILD-DONE"), "{out}");
}

#[test]
fn a_program_can_bring_its_own_reactor() {
    let out = run_child("use-reactor");
    assert!(out.contains("CHILD-DONE"), "{out}");
}
