//! System event triggers and the shutdown event.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use torsion::reactor::{Phase, SystemEvent};
use torsion::{Deferred, Reactor};

use crate::Runner;
use crate::support::{entries, log, ms, push, stop_after};

/// Startup triggers run before, shutdown ones in before, during, after
/// order.
pub fn triggers_run_in_phase_order(run: Runner) {
    let reactor = Reactor::new().unwrap();
    let order = log();
    for (phase, name) in [
        (Phase::After, "after"),
        (Phase::Before, "before"),
        (Phase::During, "during"),
    ] {
        let order = order.clone();
        reactor.add_system_event_trigger(phase, SystemEvent::Shutdown, move || push(&order, name));
    }
    for (phase, name) in [
        (Phase::After, "start-after"),
        (Phase::Before, "start-before"),
    ] {
        let order = order.clone();
        reactor.add_system_event_trigger(phase, SystemEvent::Startup, move || push(&order, name));
    }
    stop_after(&reactor, ms(1));
    run(&reactor).unwrap();
    assert_eq!(
        entries(&order),
        ["start-before", "start-after", "before", "during", "after"]
    );
}

/// A before-shutdown trigger's Deferred holds the later phases until it
/// fires, the loop still serving timers meanwhile.
pub fn before_shutdown_deferred_delays_later_phases_until_it_fires(run: Runner) {
    let reactor = Reactor::new().unwrap();
    let order = log();
    let r = reactor.clone();
    let o = order.clone();
    reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, move || {
        let (deferred, resolver) = Deferred::<()>::new();
        let o2 = o.clone();
        r.call_later(ms(30), move || {
            push(&o2, "cleanup done");
            resolver.resolve(());
        });
        deferred
    });
    let o = order.clone();
    reactor.add_system_event_trigger(Phase::During, SystemEvent::Shutdown, move || {
        push(&o, "during")
    });
    stop_after(&reactor, ms(1));
    let started = Instant::now();
    run(&reactor).unwrap();
    assert!(started.elapsed() >= ms(30));
    assert_eq!(entries(&order), ["cleanup done", "during"]);
}

/// A before-shutdown Deferred that never fires holds shutdown for the
/// shutdown timeout, no longer, and the loop sleeps meanwhile rather than
/// spinning.
pub fn shutdown_waits_for_a_never_firing_trigger_until_the_timeout_without_spinning(run: Runner) {
    let reactor = Reactor::new().unwrap();
    reactor.set_shutdown_timeout(ms(300));
    let held = Rc::new(RefCell::new(None));
    let keep = held.clone();
    reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, move || {
        let (deferred, resolver) = Deferred::<()>::new();
        *keep.borrow_mut() = Some(resolver);
        deferred
    });
    let during = Rc::new(Cell::new(false));
    let d = during.clone();
    reactor.add_system_event_trigger(Phase::During, SystemEvent::Shutdown, move || d.set(true));
    stop_after(&reactor, ms(1));
    let started = Instant::now();
    let cpu_before = thread_cpu_time();
    run(&reactor).unwrap();
    let cpu = thread_cpu_time().saturating_sub(cpu_before);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= ms(300) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    assert!(during.get());
    assert!(cpu < ms(150), "the wait used {cpu:?} of CPU in {elapsed:?}");
}

/// This thread's CPU time (user and system), from /proc, in the kernel's
/// 10 ms ticks.
fn thread_cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    // Fields after the command name, which is in parentheses.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}
