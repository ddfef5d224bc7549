//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

use torsion::Reactor;
// Not every test binary that shares this module uses it.
#[allow(unused_imports)]
pub use torsion::protocols::wire::Echo;

/// Turns the loop until `done` holds; panics after `limit`.
pub fn turn_until(reactor: &Reactor, limit: Duration, mut done: impl FnMut() -> bool) {
    if !reactor.is_running() {
        reactor.start().unwrap();
    }
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out after {limit:?}");
        reactor.run_once(Some(Duration::from_millis(10))).unwrap();
    }
}

/// Sets this process's descriptor limit (soft and hard) with util-linux's
/// `prlimit`, which needs no unsafe code here. Returns the soft limit now
/// in force.
pub fn set_fd_limit(limit: u64) -> u64 {
    let pid = std::process::id().to_string();
    let value = format!("--nofile={limit}:{limit}");
    let status = Command::new("prlimit")
        .args(["--pid", &pid, &value])
        .status();
    if !matches!(status, Ok(s) if s.success()) {
        // Not allowed to raise the hard limit: take the soft one up to it.
        let _ = Command::new("prlimit")
            .args(["--pid", &pid, &format!("--nofile={limit}:")])
            .status();
    }
    current_fd_limit()
}

/// This process's soft descriptor limit.
pub fn current_fd_limit() -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    line.split_whitespace().nth(3).unwrap().parse().unwrap()
}

/// CPU time (user + system) a process has used, from /proc/<pid>/stat.
pub fn process_cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which is in parentheses.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

/// FNV-1a, 64 bits: the same value whatever the chunking of the input.
#[derive(Clone, Copy)]
pub struct Fnv(pub u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    pub fn update(&mut self, data: &[u8]) {
        for byte in data {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// A small deterministic random generator (xorshift64*).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
