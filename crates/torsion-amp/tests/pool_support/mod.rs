//! What the process-pool tests share: the demonstration worker's
//! commands, its binary, and a reactor run bounded in time.

#![allow(dead_code)]

#[path = "../../src/bin/torsion-amp-worker/commands.rs"]
pub mod commands;
#[path = "../support/twisted.rs"]
pub mod python;

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use torsion::time::defer_later;
use torsion::{Failure, Reactor};
use torsion_amp::pool::ProcessStarter;

/// The Rust demonstration worker.
pub fn rust_worker() -> ProcessStarter {
    ProcessStarter::new(env!("CARGO_BIN_EXE_torsion-amp-worker"))
}

/// [`run_test`](torsion::testing::run_test) with its limit in seconds;
/// gives the reactor, run to its end.
pub fn run<Fut>(seconds: u64, test: impl FnOnce(Reactor) -> Fut) -> Reactor
where
    Fut: Future<Output = Result<(), Failure>> + 'static,
{
    torsion::testing::run_test(Duration::from_secs(seconds), test)
}

/// Waits `delay` on `reactor`.
pub async fn sleep(reactor: &Reactor, delay: Duration) {
    defer_later(reactor, delay, || Ok::<(), Failure>(()))
        .await
        .expect("timer");
}

/// True while a process with this pid exists (a zombie counts: it has not
/// been reaped).
pub fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Fails the test with `message` unless `condition`.
pub fn check(condition: bool, message: impl Into<String>) -> Result<(), Failure> {
    if condition {
        Ok(())
    } else {
        Err(Failure::msg(message))
    }
}

/// Waits up to `limit` for the process `pid` to be gone (reaped); true if
/// it went.
pub async fn gone_within(reactor: &Reactor, pid: u32, limit: Duration) -> bool {
    let began = std::time::Instant::now();
    while process_exists(pid) {
        if began.elapsed() > limit {
            return false;
        }
        sleep(reactor, Duration::from_millis(20)).await;
    }
    true
}
