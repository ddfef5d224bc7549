//! Timed calls.

use std::cell::Cell;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::{Duration, Instant};

use torsion::Reactor;

use crate::Runner;
use crate::support::{entries, log, ms, push, stop_after};

/// Calls run in the order of their deadlines, not of scheduling.
pub fn timers_fire_in_deadline_order(run: Runner) {
    let reactor = Reactor::new().unwrap();
    let order = log();
    for (delay, name) in [(20, "c"), (5, "a"), (10, "b")] {
        let o = order.clone();
        reactor.call_later(ms(delay), move || push(&o, name));
    }
    stop_after(&reactor, ms(30));
    run(&reactor).unwrap();
    assert_eq!(entries(&order), ["a", "b", "c"]);
}

/// A call never runs before its delay has passed.
pub fn timer_fires_no_earlier_than_its_delay(run: Runner) {
    let reactor = Reactor::new().unwrap();
    let fired_after = Rc::new(Cell::new(None));
    let started = Instant::now();
    let (r, f) = (reactor.clone(), fired_after.clone());
    reactor.call_later(ms(20), move || {
        f.set(Some(started.elapsed()));
        r.stop().unwrap();
    });
    run(&reactor).unwrap();
    assert!(fired_after.get().unwrap() >= ms(20));
}

/// A cancelled call never runs.
pub fn cancelled_timer_does_not_fire(run: Runner) {
    let reactor = Reactor::new().unwrap();
    let call = reactor.call_later(ms(1), || panic!("cancelled timer ran"));
    call.cancel().unwrap();
    stop_after(&reactor, ms(5));
    run(&reactor).unwrap();
}

/// A zero-delay call made from a timer runs on the next turn, after the
/// I/O that was ready (Twisted's way to yield to the network).
pub fn zero_delay_call_scheduled_from_a_timer_runs_after_ready_io(run: Runner) {
    let reactor = Reactor::new().unwrap();
    let order = log();
    let (left, mut right) = UnixStream::pair().unwrap();
    left.set_nonblocking(true).unwrap();
    right.set_nonblocking(true).unwrap();
    let o = order.clone();
    let left = Rc::new(left);
    let watched = left.clone();
    reactor
        .add_reader(watched, move |_| {
            let mut buffer = [0u8; 16];
            let mut reader = &*left;
            while reader.read(&mut buffer).is_ok_and(|n| n > 0) {}
            push(&o, "io");
        })
        .unwrap();
    let (r, o) = (reactor.clone(), order.clone());
    reactor.call_later(ms(5), move || {
        right.write_all(b"x").unwrap();
        push(&o, "timer");
        let (r2, o2) = (r.clone(), o.clone());
        r.call_later(Duration::ZERO, move || {
            push(&o2, "zero-delay");
            r2.stop().unwrap();
        });
        push(&o, "timer end");
        drop(right);
    });
    stop_after(&reactor, crate::support::LIMIT);
    run(&reactor).unwrap();
    assert_eq!(entries(&order), ["timer", "timer end", "io", "zero-delay"]);
}

/// Finishing cancels the calls still pending.
pub fn finishing_cancels_pending_timers(run: Runner) {
    let reactor = Reactor::new().unwrap();
    let call = reactor.call_later(Duration::from_secs(60), || {});
    stop_after(&reactor, ms(1));
    run(&reactor).unwrap();
    assert!(!call.active());
    assert_eq!(reactor.stats().pending_calls, 0);
}
