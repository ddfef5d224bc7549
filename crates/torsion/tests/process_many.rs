//! Load: 200 short-lived children at once, reaped both ways (pidfd and
//! SIGCHLD), leave no zombie and no descriptor behind. Alone in its binary
//! so that the descriptor count is this test's own.

mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::turn_until;
use torsion::process::{
    ProcessProtocol, ProcessTerminated, ProcessTransport, Reaping, SpawnOptions, set_reaping,
    unreaped_children,
};
use torsion::{Failure, Reactor};

const CHILDREN: usize = 200;

/// Each child's output and exit code, by index.
type Results = Rc<RefCell<Vec<Option<(Vec<u8>, i32)>>>>;

struct Collect {
    index: usize,
    out: Vec<u8>,
    results: Results,
}

impl ProcessProtocol for Collect {
    fn connection_made(&mut self, transport: &ProcessTransport) {
        transport.close_stdin();
    }
    fn out_received(&mut self, data: &[u8]) {
        self.out.extend_from_slice(data);
    }
    fn process_ended(&mut self, reason: Failure) {
        let code = reason
            .downcast_ref::<ProcessTerminated>()
            .map_or(0, |terminated| terminated.exit_code.unwrap_or(-1));
        self.results.borrow_mut()[self.index] = Some((std::mem::take(&mut self.out), code));
    }
}

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// This process's children that have exited and not been reaped.
fn zombies() -> Vec<u32> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so split after it.
        let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(1) == Some(&me.as_str()) && fields.first() == Some(&"Z") {
            found.push(pid);
        }
    }
    found
}

fn run_many(reaping: Reaping) {
    let reactor = Reactor::new().unwrap();
    set_reaping(&reactor, reaping);
    let results: Results = Rc::new(RefCell::new(vec![None; CHILDREN]));
    let started = Instant::now();
    for index in 0..CHILDREN {
        let protocol = Collect {
            index,
            out: Vec::new(),
            results: results.clone(),
        };
        let script = "echo child $1; exit $2";
        let code = (index % 5).to_string();
        let args = ["-c", script, "sh", &index.to_string(), &code];
        reactor
            .spawn_process(protocol, "/bin/sh", args, SpawnOptions::new())
            .unwrap();
    }
    turn_until(&reactor, Duration::from_secs(20), || {
        results.borrow().iter().all(Option::is_some)
    });
    for (index, result) in results.borrow().iter().enumerate() {
        let (out, code) = result.as_ref().unwrap();
        assert_eq!(out, format!("child {index}\n").as_bytes());
        assert_eq!(*code, (index % 5) as i32, "child {index}'s exit code");
    }
    assert_eq!(unreaped_children(&reactor), 0);
    let stats = reactor.stats();
    assert_eq!(stats.sources, 0, "a pipe is still open");
    let signal_watch = usize::from(reaping == Reaping::ChildSignal);
    assert_eq!(stats.watches, signal_watch, "a pidfd is still watched");
    eprintln!(
        "{CHILDREN} children ({reaping:?}) in {:?}",
        started.elapsed()
    );
}

#[test]
fn two_hundred_children_leave_no_zombies_and_no_descriptors() {
    let before = open_descriptors();
    run_many(Reaping::Auto);
    assert_eq!(zombies(), Vec::<u32>::new(), "zombies after pidfd reaping");
    assert_eq!(open_descriptors(), before, "descriptors leaked (pidfd)");
    run_many(Reaping::ChildSignal);
    assert_eq!(
        zombies(),
        Vec::<u32>::new(),
        "zombies after SIGCHLD reaping"
    );
    // The SIGCHLD subscription's pipe stays for the next subscriber (the
    // handler may still write into it), so one pair more than before.
    let after = open_descriptors();
    assert!(
        after <= before + 2,
        "descriptors leaked (SIGCHLD): {before} -> {after}"
    );
}
