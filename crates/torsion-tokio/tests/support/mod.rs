//! What the tests share: bounded waits and drop guards.
#![allow(dead_code)]

use std::time::{Duration, Instant};

/// Long enough for anything that works; a test that needs it has failed.
pub const LONG: Duration = Duration::from_secs(10);

/// Polls `done` every millisecond until it holds or `LONG` passes.
pub fn wait_until(mut done: impl FnMut() -> bool) -> bool {
    let give_up = Instant::now() + LONG;
    while Instant::now() < give_up {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    done()
}

/// Sets its flag when dropped: the drop guard of a future.
pub struct DropGuard(pub std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A flag and the guard that sets it.
pub fn drop_guard() -> (std::sync::Arc<std::sync::atomic::AtomicBool>, DropGuard) {
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    (flag.clone(), DropGuard(flag))
}

pub fn dropped(flag: &std::sync::atomic::AtomicBool) -> bool {
    flag.load(std::sync::atomic::Ordering::SeqCst)
}
