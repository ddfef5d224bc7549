//! Protocols and loop helpers shared by the unit tests that use real sockets.

use std::time::{Duration, Instant};

use crate::Reactor;
pub(crate) use crate::protocols::wire::Echo;

/// Turns the loop (starting it if needed) until `done` holds; panics after
/// `limit`.
pub(crate) fn turn_until(reactor: &Reactor, limit: Duration, mut done: impl FnMut() -> bool) {
    if !reactor.is_running() && !reactor.is_finished() {
        // Already running and stopping is fine too.
        let _ = reactor.start();
    }
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out after {limit:?}");
        reactor.run_once(Some(Duration::from_millis(10))).unwrap();
    }
}
