//! The host-loop example (`examples/host_loop.rs`): a hand-written mio
//! loop drives a reactor through `start`, its descriptor, `next_timeout`
//! and `run_once`, and both loops keep their 10 ms timers while the other
//! does I/O. The example's own code runs here, not a copy of it.

#[path = "../examples/host_loop.rs"]
#[allow(dead_code)]
mod host_loop;

use std::time::{Duration, Instant};

use host_loop::{Until, run};
use torsion::testing::cpu_wait;

#[test]
fn a_foreign_loop_drives_the_reactor_through_io_timers_and_shutdown() {
    let started = Instant::now();
    let waited_before = cpu_wait();
    let report = run(Until::ClientDone { lines: 100 }).unwrap();
    // On a machine busy with other work the system may keep the loop's
    // thread off the CPU past a tick; no loop can help that, so the time
    // it did is allowed on top of the bound.
    let waited = cpu_wait().saturating_sub(waited_before);
    let elapsed = started.elapsed();
    assert_eq!(report.echoed, 100, "{report:?}");
    assert_eq!(report.datagrams, 100, "{report:?}");
    assert!(report.shutdown_ran, "{report:?}");
    // Each 10 ms timer kept time while the other loop did I/O: roughly one
    // tick per interval (fewer when ticks were skipped for lateness), none
    // more than 5 ms late.
    let expected = (elapsed.as_millis() / 10) as u32;
    let bound = Duration::from_millis(5) + waited;
    for ticks in [report.host_ticks, report.reactor_ticks] {
        assert!(
            ticks >= expected / 2 && ticks <= expected + 2,
            "{ticks} ticks in {elapsed:?}: {report:?}"
        );
    }
    assert!(
        report.worst_host_lateness <= bound,
        "{report:?}, waited {waited:?}"
    );
    assert!(
        report.worst_reactor_lateness <= bound,
        "{report:?}, waited {waited:?}"
    );
}
