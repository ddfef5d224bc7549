//! `mixed`: round trips of futures across the two loops. torsion code
//! hands a ready future to tokio (`torsion_tokio::from_future`) and awaits
//! the Deferred of its result, one round trip at a time:
//!
//! - inside: the reactor hosted by a tokio current-thread runtime, so the
//!   task runs on the same thread between torsion's turns;
//! - beside: the reactor on this thread, tokio on a current-thread runtime
//!   driven by a thread of its own (on CPU 1 when `taskset` works), with
//!   `from_future_on`. (Not a one-worker multi-thread runtime: that
//!   scheduler alone would link libm into the benchmark binary, and with
//!   it into every server process the binary starts.)
//!
//! The peer is tokio alone making the same hop: `tokio::spawn` of the same
//! future and `.await` of its `JoinHandle`, from a task on one thread, and
//! from a current-thread runtime into the other runtime across threads.
//! Figures: wall time and process CPU time per round trip.

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use torsion::{Failure, Reactor};

use crate::measure::{Better, Row, pin_current_thread, process_cpu_time};

/// Wall time and CPU time of one whole run.
struct Cost {
    wall: Duration,
    cpu: Duration,
}

fn timed(f: impl FnOnce()) -> Cost {
    let (cpu, start) = (process_cpu_time(), Instant::now());
    f();
    Cost {
        wall: start.elapsed(),
        cpu: process_cpu_time() - cpu,
    }
}

/// A tokio runtime beside the caller: a current-thread runtime that a
/// thread of its own drives until [`shutdown`](Self::shutdown).
struct OtherRuntime {
    handle: tokio::runtime::Handle,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: JoinHandle<()>,
}

impl OtherRuntime {
    fn start() -> OtherRuntime {
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            pin_current_thread(1);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            handle_tx.send(runtime.handle().clone()).expect("handle");
            let _ = runtime.block_on(stopped);
        });
        OtherRuntime {
            handle: handle_rx.recv().expect("the runtime's thread starts"),
            stop,
            thread,
        }
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        &self.handle
    }

    fn shutdown(self) {
        let _ = self.stop.send(());
        self.thread.join().expect("the runtime's thread");
    }
}

/// torsion code awaiting `count` tokio tasks, one after another, on
/// `handle`'s runtime (`None`: the runtime hosting the reactor).
fn torsion_round_trips(reactor: &Reactor, count: usize, handle: Option<tokio::runtime::Handle>) {
    let r = reactor.clone();
    drop(reactor.spawn(async move {
        let mut sum = 0usize;
        for i in 0..count {
            let ready = async move { Ok::<_, Failure>(i) };
            sum += match &handle {
                Some(handle) => torsion_tokio::from_future_on(handle, ready).await?,
                None => torsion_tokio::from_future(ready).await?,
            };
        }
        assert_eq!(sum, count * count.saturating_sub(1) / 2);
        r.stop()?;
        Ok::<(), Failure>(())
    }));
}

fn torsion_inside(count: usize) -> Cost {
    timed(|| {
        let reactor = Reactor::new().expect("reactor");
        torsion_round_trips(&reactor, count, None);
        torsion_tokio::block_on_reactor(&reactor).expect("hosted reactor");
    })
}

fn tokio_inside(count: usize) -> Cost {
    timed(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let mut sum = 0usize;
            for i in 0..count {
                sum += tokio::spawn(async move { i }).await.expect("task");
            }
            assert_eq!(sum, count * count.saturating_sub(1) / 2);
        });
    })
}

fn torsion_beside(count: usize) -> Cost {
    let tokio = OtherRuntime::start();
    let cost = timed(|| {
        let reactor = Reactor::new().expect("reactor");
        torsion_round_trips(&reactor, count, Some(tokio.handle().clone()));
        reactor.run().expect("reactor");
    });
    tokio.shutdown();
    cost
}

fn tokio_beside(count: usize) -> Cost {
    let other = OtherRuntime::start();
    let cost = timed(|| {
        let here = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let handle = other.handle().clone();
        here.block_on(async {
            let mut sum = 0usize;
            for i in 0..count {
                sum += handle.spawn(async move { i }).await.expect("task");
            }
            assert_eq!(sum, count * count.saturating_sub(1) / 2);
        });
    });
    other.shutdown();
    cost
}

/// Runs both engines `runs` times each, alternating, and returns the rows.
pub fn compare(count: usize, runs: usize) -> Vec<Row> {
    let mut rows = [
        Row::new("inside: round trip (us)", Better::Lower),
        Row::new("inside: CPU per round trip (us)", Better::Lower),
        Row::new("beside: round trip (us)", Better::Lower),
        Row::new("beside: CPU per round trip (us)", Better::Lower),
    ];
    let per = |d: Duration| d.as_secs_f64() * 1e6 / count.max(1) as f64;
    // One short warm-up of each, not counted.
    for run in [torsion_inside, tokio_inside, torsion_beside, tokio_beside] {
        run(count / 10 + 1);
    }
    for _ in 0..runs {
        let (a, b) = (torsion_inside(count), tokio_inside(count));
        let (c, d) = (torsion_beside(count), tokio_beside(count));
        for (i, (torsion, tokio)) in [(a, b), (c, d)].into_iter().enumerate() {
            rows[2 * i].torsion.push(per(torsion.wall));
            rows[2 * i].tokio.push(per(tokio.wall));
            rows[2 * i + 1].torsion.push(per(torsion.cpu));
            rows[2 * i + 1].tokio.push(per(tokio.cpu));
        }
    }
    rows.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_round_trip_comes_back_inside_and_beside() {
        // The sums are checked inside; a lost round trip would hang the
        // reactor, so each side is bounded by its own stop.
        for cost in [torsion_inside(200), torsion_beside(200)] {
            assert!(cost.wall < Duration::from_secs(30));
        }
    }
}
