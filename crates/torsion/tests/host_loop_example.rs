//! The host-loop example (`examples/host_loop.rs`): a hand-written mio
//! loop drives a reactor through `start`, its descriptor, `next_timeout`
//! and `run_once`, and both loops keep their 10 ms timers while the other
//! does I/O. The example's own code runs here, not a copy of it.

#[path = "../examples/host_loop.rs"]
#[allow(dead_code)]
mod host_loop;

use std::time::{Duration, Instant};

use host_loop::{Until, run};

#[test]
fn a_foreign_loop_drives_the_reactor_through_io_timers_and_shutdown() {
    let started = Instant::now();
    let report = run(Until::ClientDone { lines: 100 }).unwrap();
    let elapsed = started.elapsed();
    assert_eq!(report.echoed, 100, "{report:?}");
    assert_eq!(report.datagrams, 100, "{report:?}");
    assert!(report.shutdown_ran, "{report:?}");
    // Each 10 ms timer kept time while the other loop did I/O: roughly one
    // tick per interval, none more than 5 ms late.
    let expected = (elapsed.as_millis() / 10) as u32;
    for ticks in [report.host_ticks, report.reactor_ticks] {
        assert!(
            ticks >= expected * 8 / 10 && ticks <= expected + 2,
            "{ticks} ticks in {elapsed:?}: {report:?}"
        );
    }
    assert!(
        report.worst_host_lateness <= Duration::from_millis(5),
        "{report:?}"
    );
    assert!(
        report.worst_reactor_lateness <= Duration::from_millis(5),
        "{report:?}"
    );
}
