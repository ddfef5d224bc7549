//! `bridge`: blocking code calling into a loop on another thread and
//! waiting for the answer.
//!
//! torsion's caller does `run_in_reactor(ready value)` then `wait` on a
//! [`Bridge`] whose reactor runs on a background thread. tokio's caller
//! drives a current-thread runtime that runs on a background thread through
//! its `Handle`, two ways: `Handle::block_on` of a ready future (the usual
//! way sync code calls into tokio; the future is polled on the caller's
//! thread, so nothing crosses threads), and `Handle::block_on` of the
//! `JoinHandle` of a spawned ready future (the work runs on the runtime's
//! thread, as it does in torsion). The caller is pinned to CPU 0 and the
//! loop thread to CPU 1 when `taskset` is available.
//!
//! Figures: p50 and p99 of one round trip, round trips per second one at a
//! time, and, for the spawn comparison, calls per second with 1,000 in
//! flight (start them all, then wait for each). crochet (Python, Twisted)
//! doing the same round trip is a third reference (see [`crochet`]).

use std::time::{Duration, Instant};

use torsion::Failure;
use torsion::blocking::Bridge;

use crate::crochet;
use crate::measure::{Better, Row, pin_current_thread};

const LONG: Duration = Duration::from_secs(30);
const IN_FLIGHT: usize = 1000;

/// One engine's figures from one run.
struct Sample {
    /// Round trips one at a time, each timed.
    latencies: Vec<Duration>,
    /// Wall time of all of them.
    wall: Duration,
    /// Calls per second with `IN_FLIGHT` outstanding (when measured).
    pipelined: Option<f64>,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_nanos() as f64 / 1000.0
}

fn time_each(count: usize, mut round_trip: impl FnMut(usize)) -> (Vec<Duration>, Duration) {
    for i in 0..count.min(1000) {
        round_trip(i);
    }
    let mut latencies = Vec::with_capacity(count);
    let start = Instant::now();
    for i in 0..count {
        let began = Instant::now();
        round_trip(i);
        latencies.push(began.elapsed());
    }
    let wall = start.elapsed();
    latencies.sort_unstable();
    (latencies, wall)
}

fn run_torsion(count: usize) -> Sample {
    let bridge = Bridge::start().expect("bridge");
    bridge
        .wait_for(LONG, |_| Ok::<_, Failure>(pin_current_thread(1)))
        .expect("pinned");
    let (latencies, wall) = time_each(count, |i| {
        let value = bridge
            .run_in_reactor(move |_| Ok::<_, Failure>(i))
            .wait(LONG)
            .expect("round trip");
        assert_eq!(value, i);
    });
    let start = Instant::now();
    let mut done = 0;
    while done < count {
        let batch: Vec<_> = (0..IN_FLIGHT)
            .map(|i| bridge.run_in_reactor(move |_| Ok::<_, Failure>(i)))
            .collect();
        for (i, result) in batch.into_iter().enumerate() {
            assert_eq!(result.wait(LONG).expect("pipelined"), i);
        }
        done += IN_FLIGHT;
    }
    let pipelined = done as f64 / start.elapsed().as_secs_f64();
    bridge.shutdown(LONG).expect("shutdown");
    Sample {
        latencies,
        wall,
        pipelined: Some(pipelined),
    }
}

/// A current-thread runtime running on its own thread until dropped.
struct Runtime {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Runtime {
    fn start() -> Runtime {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            pin_current_thread(1);
            runtime.block_on(async {
                let _ = stopped.await;
            });
        });
        Runtime {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().expect("runtime thread");
        }
    }
}

fn run_tokio_block_on(count: usize) -> Sample {
    let runtime = Runtime::start();
    let handle = &runtime.handle;
    let (latencies, wall) = time_each(count, |i| {
        let value = handle.block_on(async move { i });
        assert_eq!(value, i);
    });
    Sample {
        latencies,
        wall,
        pipelined: None,
    }
}

fn run_tokio_spawn(count: usize) -> Sample {
    let runtime = Runtime::start();
    let handle = &runtime.handle;
    let (latencies, wall) = time_each(count, |i| {
        let value = handle
            .block_on(handle.spawn(async move { i }))
            .expect("task");
        assert_eq!(value, i);
    });
    let start = Instant::now();
    let mut done = 0;
    while done < count {
        let batch: Vec<_> = (0..IN_FLIGHT)
            .map(|i| handle.spawn(async move { i }))
            .collect();
        for (i, task) in batch.into_iter().enumerate() {
            assert_eq!(handle.block_on(task).expect("pipelined"), i);
        }
        done += IN_FLIGHT;
    }
    let pipelined = done as f64 / start.elapsed().as_secs_f64();
    Sample {
        latencies,
        wall,
        pipelined: Some(pipelined),
    }
}

struct Rows {
    p50: Row,
    p99: Row,
    rate: Row,
    pipelined: Option<Row>,
}

impl Rows {
    fn new(pipelined: bool) -> Rows {
        Rows {
            p50: Row::new("round trip p50 (us)", Better::Lower),
            p99: Row::new("round trip p99 (us)", Better::Lower),
            rate: Row::new("round trips per second", Better::Higher),
            pipelined: pipelined
                .then(|| Row::new("calls per second, 1000 in flight", Better::Higher)),
        }
    }

    fn add(&mut self, count: usize, sample: &Sample, torsion: bool) {
        let figures = [
            (&mut self.p50, percentile(&sample.latencies, 0.50)),
            (&mut self.p99, percentile(&sample.latencies, 0.99)),
            (&mut self.rate, count as f64 / sample.wall.as_secs_f64()),
        ];
        for (row, value) in figures {
            if torsion {
                row.torsion.push(value);
            } else {
                row.tokio.push(value);
            }
        }
        if let (Some(row), Some(value)) = (&mut self.pipelined, sample.pipelined) {
            if torsion {
                row.torsion.push(value);
            } else {
                row.tokio.push(value);
            }
        }
    }

    fn into_vec(self) -> Vec<Row> {
        let mut rows = vec![self.p50, self.p99, self.rate];
        rows.extend(self.pipelined);
        rows
    }
}

/// The bridge benchmark's tables.
pub struct Compared {
    /// Against `Handle::block_on` of a ready future.
    pub direct: Vec<Row>,
    /// Against `Handle::block_on` of a spawned one.
    pub spawned: Vec<Row>,
    /// Against crochet (torsion left, crochet right), or why crochet
    /// could not run.
    pub crochet: Result<Vec<Row>, String>,
}

/// Runs torsion, both tokio variants and crochet `runs` times,
/// alternating.
pub fn compare(count: usize, runs: usize) -> Compared {
    let mut direct = Rows::new(false);
    let mut spawned = Rows::new(true);
    let mut crochet_rows = Rows::new(false);
    // crochet is some fifty times slower: a tenth of the round trips
    // gives it as many samples per second of the run.
    let crochet_count = (count / 10).max(1000);
    let mut crochet = crochet::prepare();
    for _ in 0..runs {
        let torsion = run_torsion(count);
        let tokio_direct = run_tokio_block_on(count);
        let tokio_spawned = run_tokio_spawn(count);
        direct.add(count, &torsion, true);
        direct.add(count, &tokio_direct, false);
        spawned.add(count, &torsion, true);
        spawned.add(count, &tokio_spawned, false);
        if crochet.is_ok() {
            match crochet::run(crochet_count) {
                Ok(sample) => {
                    crochet_rows.add(count, &torsion, true);
                    crochet_rows.p50.tokio.push(sample.p50);
                    crochet_rows.p99.tokio.push(sample.p99);
                    crochet_rows.rate.tokio.push(sample.rate);
                }
                Err(why) => crochet = Err(why),
            }
        }
    }
    Compared {
        direct: direct.into_vec(),
        spawned: spawned.into_vec(),
        crochet: crochet.map(|()| crochet_rows.into_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_engine_completes_its_round_trips() {
        for sample in [
            run_torsion(2000),
            run_tokio_block_on(2000),
            run_tokio_spawn(2000),
        ] {
            assert_eq!(sample.latencies.len(), 2000);
        }
    }

    #[test]
    fn percentiles_of_sorted_latencies() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        assert_eq!(percentile(&sorted, 0.5), 51.0);
        assert_eq!(percentile(&sorted, 0.99), 99.0);
    }
}
