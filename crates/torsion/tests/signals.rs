//! SIGTERM stops a reactor that installed signal handlers gracefully: its
//! shutdown triggers run and `run()` returns. The reactor runs in a child
//! process (this same test binary, running the ignored test below) so the
//! signal hits nothing else.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use torsion::reactor::{Phase, SystemEvent};
use torsion::{Deferred, Reactor};

#[test]
#[ignore = "runs as a child process of sigterm_stops_the_reactor_gracefully"]
fn signal_child() {
    let reactor = Reactor::new().unwrap();
    reactor.install_signal_handlers().unwrap();
    reactor.call_when_running(|| println!("READY"));
    reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, || {
        println!("BEFORE-SHUTDOWN");
        Deferred::succeed(())
    });
    reactor.add_system_event_trigger(Phase::After, SystemEvent::Shutdown, || {
        println!("AFTER-SHUTDOWN");
    });
    reactor.run().unwrap();
    println!("RUN-RETURNED");
}

#[test]
fn sigterm_stops_the_reactor_gracefully() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "signal_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|line| line.contains("READY"));
    assert!(ready, "the child reactor started");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the child did not stop within 10 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(status.success(), "{status:?}: {rest:?}");
    for expected in ["BEFORE-SHUTDOWN", "AFTER-SHUTDOWN", "RUN-RETURNED"] {
        assert!(
            rest.iter().any(|line| line.contains(expected)),
            "{expected} missing from {rest:?}"
        );
    }
}
