//! Running, stopping, and running once.

use std::cell::Cell;
use std::rc::Rc;

use torsion::Reactor;
use torsion::error::ReactorError;

use crate::Runner;
use crate::support::{LIMIT, ms, stop_after};

/// The runner returns once the reactor has stopped and finished.
pub fn run_returns_after_stop(run: Runner) {
    let reactor = Reactor::new().unwrap();
    stop_after(&reactor, ms(1));
    run(&reactor).unwrap();
    assert!(reactor.is_finished());
    assert!(!reactor.is_running());
}

/// `stop` fails with `NotRunning` before the reactor runs and after.
pub fn stop_when_not_running_is_not_running(run: Runner) {
    let reactor = Reactor::new().unwrap();
    assert_eq!(reactor.stop(), Err(ReactorError::NotRunning));
    stop_after(&reactor, ms(1));
    run(&reactor).unwrap();
    assert_eq!(reactor.stop(), Err(ReactorError::NotRunning));
}

/// A reactor runs once: running it again is `NotRestartable`.
pub fn running_twice_is_not_restartable(run: Runner) {
    let reactor = Reactor::new().unwrap();
    stop_after(&reactor, ms(1));
    run(&reactor).unwrap();
    assert_eq!(run(&reactor), Err(ReactorError::NotRestartable));
}

/// Running it from inside itself is `AlreadyRunning`.
pub fn running_while_running_is_already_running(run: Runner) {
    let reactor = Reactor::new().unwrap();
    let nested = Rc::new(Cell::new(None));
    let (r, n) = (reactor.clone(), nested.clone());
    reactor.call_later(ms(1), move || {
        n.set(Some(run(&r)));
        r.stop().unwrap();
    });
    run(&reactor).unwrap();
    assert_eq!(nested.get(), Some(Err(ReactorError::AlreadyRunning)));
}

/// `call_when_running` made before the run runs after startup, with the
/// reactor running.
pub fn call_when_running_before_the_run_runs_after_startup(run: Runner) {
    let reactor = Reactor::new().unwrap();
    let seen_running = Rc::new(Cell::new(None));
    let (r, seen) = (reactor.clone(), seen_running.clone());
    let id = reactor.call_when_running(move || {
        seen.set(Some(r.is_running()));
        r.stop().unwrap();
    });
    assert!(id.is_some());
    stop_after(&reactor, LIMIT);
    run(&reactor).unwrap();
    assert_eq!(seen_running.get(), Some(true));
}
