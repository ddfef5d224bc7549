//! loom models of an [`EventualResult`]'s slot: a blocked `wait` always
//! wakes with the result, a cancel racing the operation's start gives the
//! value or `Cancelled` (the same one to every wait), and a wait that times
//! out leaves the result for the next.

use std::time::Duration;

use super::{Core, EventualResult};
use crate::Failure;
use crate::blocking::BridgeError;
use crate::error::Cancelled;
use crate::sync::{Arc, model};

/// Long enough never to pass in a model: a lost wake-up shows as a
/// deadlock, not as a timeout.
const LONG: Duration = Duration::from_secs(3600);

fn pending() -> (EventualResult<u32>, Arc<Core<u32>>) {
    let core = Core::pending(None);
    (EventualResult::new(core.clone()), core)
}

#[test]
fn loom_model_a_blocked_wait_always_wakes_with_the_result() {
    model(|| {
        let (result, core) = pending();
        let reactor = loom::thread::spawn(move || core.complete(Ok(5)));
        assert_eq!(result.wait(LONG).unwrap(), 5);
        assert_eq!(result.wait(LONG).unwrap(), 5);
        reactor.join().unwrap();
    });
}

#[test]
fn loom_model_a_cancel_racing_the_start_gives_the_value_or_cancelled() {
    model(|| {
        let (result, core) = pending();
        let result = Arc::new(result);
        let canceller = {
            let result = result.clone();
            loom::thread::spawn(move || result.cancel())
        };
        // The reactor side, as a queued job starts.
        let reactor = loom::thread::spawn(move || {
            if core.cancel_requested() {
                core.complete(Err(BridgeError::failed(Failure::new(Cancelled))));
            } else {
                core.complete(Ok(5));
            }
        });
        let first = result.wait(LONG);
        match &first {
            Ok(5) => {}
            Err(error) if error.is_cancelled() => {}
            other => panic!("unexpected {other:?}"),
        }
        let second = result.wait(LONG);
        assert_eq!(first.is_ok(), second.is_ok());
        canceller.join().unwrap();
        reactor.join().unwrap();
    });
}

#[test]
fn loom_model_a_wait_that_times_out_leaves_the_result_for_the_next() {
    model(|| {
        let (result, core) = pending();
        let reactor = loom::thread::spawn(move || core.complete(Ok(5)));
        match result.wait(Duration::ZERO) {
            Ok(5) | Err(BridgeError::TimedOut(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(result.wait(LONG).unwrap(), 5);
        reactor.join().unwrap();
    });
}
