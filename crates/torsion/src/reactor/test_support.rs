//! What the reactor's unit tests share: a log of what happened, in order,
//! and a stop that keeps a test from hanging.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use super::Reactor;

pub(super) type Log = Rc<RefCell<Vec<String>>>;

pub(super) fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

pub(super) fn push(log: &Log, entry: impl Into<String>) {
    log.borrow_mut().push(entry.into());
}

pub(super) fn entries(log: &Log) -> Vec<String> {
    log.borrow().clone()
}

/// Stops `reactor` after `delay`, so no test can hang.
pub(super) fn stop_after(reactor: &Reactor, delay: Duration) {
    let stopper = reactor.clone();
    reactor.call_later(delay, move || {
        let _ = stopper.stop();
    });
}

pub(super) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
