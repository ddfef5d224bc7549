//! `defer-to-thread`: handing a job to a thread pool and getting its result
//! back on the loop thread.
//!
//! torsion's side is `Reactor::defer_to_thread` with a callback on the
//! Deferred; tokio's is `tokio::task::spawn_blocking` awaited on a
//! current-thread runtime (both pools at most 10 threads, Twisted's
//! default). Two measurements: round trips one at a time (latency
//! percentiles, from the call to the result on the loop thread), and a
//! burst of jobs all queued at once (jobs completed per second). The jobs
//! do nothing, so the figures are the cost of the trip. Beside the speed,
//! the CPU time of the whole process (loop thread and workers, waiting
//! included if it spins) per job in each phase: a pool that spins instead
//! of sleeping is faster and costs more, and both show. Before measuring,
//! each engine starts all ten workers and pins them to CPU 1 (the loop
//! thread is on CPU 0).
//!
//! Each sample runs in a fresh process of its own (the hidden
//! `defer-sample` command): both engines allocate hundreds of thousands of
//! jobs in a burst, and in one shared process each one's speed depended on
//! the free memory the other had left in the heap.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use torsion::Reactor;

use crate::measure::{Better, Row, pin_current_thread, process_cpu_time};

const POOL_THREADS: usize = 10;

/// One run's figures.
struct Sample {
    p50: Duration,
    p99: Duration,
    burst_rate: f64,
    /// Process CPU time per round trip, and per job of the burst.
    round_trip_cpu: Duration,
    burst_cpu: Duration,
}

/// Process CPU time spent since a mark, per operation.
#[derive(Clone, Copy)]
struct CpuMark(Duration);

impl CpuMark {
    fn now() -> CpuMark {
        CpuMark(process_cpu_time())
    }

    fn per(self, operations: usize) -> Duration {
        process_cpu_time().saturating_sub(self.0) / operations.max(1) as u32
    }
}

fn percentiles(mut latencies: Vec<Duration>) -> (Duration, Duration) {
    latencies.sort_unstable();
    let n = latencies.len();
    (latencies[n / 2], latencies[(n * 99 / 100).min(n - 1)])
}

/// A warm-up job: makes the pool start a thread for it (they all wait
/// together) and pins that thread to CPU 1.
fn warm_up_job(barrier: std::sync::Arc<std::sync::Barrier>) -> impl FnOnce() + Send + 'static {
    move || {
        pin_current_thread(1);
        barrier.wait();
    }
}

fn run_torsion(round_trips: usize, burst: usize) -> Sample {
    let reactor = Reactor::new().expect("reactor");
    reactor.thread_pool().adjust(0, POOL_THREADS);
    let latencies = Rc::new(RefCell::new(Vec::with_capacity(round_trips)));
    let burst_rate = Rc::new(Cell::new(0.0));
    let cpu = Rc::new(Cell::new((Duration::ZERO, Duration::ZERO)));

    // Phase 1: warm up every worker; then round trips one at a time; then
    // the burst.
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(POOL_THREADS));
    let warmed = Rc::new(Cell::new(0));
    let start_round_trips = {
        let (reactor, latencies, burst_rate, cpu) = (
            reactor.clone(),
            latencies.clone(),
            burst_rate.clone(),
            cpu.clone(),
        );
        move || {
            let trips = Trips {
                reactor,
                latencies,
                total: round_trips,
                burst,
                burst_rate,
                cpu,
                started: CpuMark::now(),
            };
            round_trip(trips, round_trips)
        }
    };
    let start_round_trips = Rc::new(RefCell::new(Some(start_round_trips)));
    for _ in 0..POOL_THREADS {
        let (warmed, start) = (warmed.clone(), start_round_trips.clone());
        drop(
            reactor
                .defer_to_thread(warm_up_job(barrier.clone()))
                .map(move |()| {
                    warmed.set(warmed.get() + 1);
                    if warmed.get() == POOL_THREADS
                        && let Some(start) = start.borrow_mut().take()
                    {
                        start();
                    }
                }),
        );
    }
    reactor.run().expect("run");
    let (p50, p99) = percentiles(latencies.take());
    let (round_trip_cpu, burst_cpu) = cpu.get();
    Sample {
        p50,
        p99,
        burst_rate: burst_rate.get(),
        round_trip_cpu,
        burst_cpu,
    }
}

/// What the chain of round trips carries from one to the next.
struct Trips {
    reactor: Reactor,
    latencies: Rc<RefCell<Vec<Duration>>>,
    total: usize,
    burst: usize,
    burst_rate: Rc<Cell<f64>>,
    cpu: Rc<Cell<(Duration, Duration)>>,
    started: CpuMark,
}

/// Issues one round trip, and the next from its callback; after the last,
/// starts the burst.
fn round_trip(trips: Trips, left: usize) {
    if left == 0 {
        let round_trip_cpu = trips.started.per(trips.total);
        trips.cpu.set((round_trip_cpu, Duration::ZERO));
        run_burst(&trips.reactor, trips.burst, trips.burst_rate, trips.cpu);
        return;
    }
    let sent = Instant::now();
    let reactor = trips.reactor.clone();
    drop(reactor.defer_to_thread(|| ()).map(move |()| {
        trips.latencies.borrow_mut().push(sent.elapsed());
        round_trip(trips, left - 1);
    }));
}

fn run_burst(
    reactor: &Reactor,
    burst: usize,
    burst_rate: Rc<Cell<f64>>,
    cpu: Rc<Cell<(Duration, Duration)>>,
) {
    let done = Rc::new(Cell::new(0));
    let started = Instant::now();
    let mark = CpuMark::now();
    for _ in 0..burst {
        let (done, rate, r, cpu) = (
            done.clone(),
            burst_rate.clone(),
            reactor.clone(),
            cpu.clone(),
        );
        drop(reactor.defer_to_thread(|| ()).map(move |()| {
            done.set(done.get() + 1);
            if done.get() == burst {
                rate.set(burst as f64 / started.elapsed().as_secs_f64());
                cpu.set((cpu.get().0, mark.per(burst)));
                r.stop().expect("running");
            }
        }));
    }
}

fn run_tokio(round_trips: usize, burst: usize) -> Sample {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(POOL_THREADS)
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(POOL_THREADS));
        let warm_ups: Vec<_> = (0..POOL_THREADS)
            .map(|_| tokio::task::spawn_blocking(warm_up_job(barrier.clone())))
            .collect();
        for warm_up in warm_ups {
            warm_up.await.expect("warm-up");
        }

        let mut latencies = Vec::with_capacity(round_trips);
        let mark = CpuMark::now();
        for _ in 0..round_trips {
            let sent = Instant::now();
            tokio::task::spawn_blocking(|| ()).await.expect("job");
            latencies.push(sent.elapsed());
        }
        let round_trip_cpu = mark.per(round_trips);

        let started = Instant::now();
        let mark = CpuMark::now();
        let handles: Vec<_> = (0..burst)
            .map(|_| tokio::task::spawn_blocking(|| ()))
            .collect();
        for handle in handles {
            handle.await.expect("job");
        }
        let burst_rate = burst as f64 / started.elapsed().as_secs_f64();
        let burst_cpu = mark.per(burst);

        let (p50, p99) = percentiles(latencies);
        Sample {
            p50,
            p99,
            burst_rate,
            round_trip_cpu,
            burst_cpu,
        }
    })
}

/// Which engine a `defer-sample` process measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    /// `Reactor::defer_to_thread`.
    Torsion,
    /// `tokio::task::spawn_blocking`.
    Tokio,
}

/// Measures one engine in this process and prints its figures on one line
/// (the `defer-sample` command).
pub fn print_sample(engine: Engine, round_trips: usize, burst: usize) {
    let sample = match engine {
        Engine::Torsion => run_torsion(round_trips, burst),
        Engine::Tokio => run_tokio(round_trips, burst),
    };
    println!(
        "{} {} {} {} {}",
        sample.p50.as_nanos(),
        sample.p99.as_nanos(),
        sample.burst_rate,
        sample.round_trip_cpu.as_nanos(),
        sample.burst_cpu.as_nanos()
    );
}

/// Runs `engine` in a child process (see the module documentation).
fn sample_in_child(engine: Engine, round_trips: usize, burst: usize) -> Sample {
    let exe = std::env::current_exe().expect("own executable");
    let output = std::process::Command::new(exe)
        .args([
            "defer-sample",
            "--engine",
            match engine {
                Engine::Torsion => "torsion",
                Engine::Tokio => "tokio",
            },
            "--round-trips",
            &round_trips.to_string(),
            "--burst",
            &burst.to_string(),
        ])
        .output()
        .expect("run a defer-sample process");
    assert!(output.status.success(), "defer-sample failed: {output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    let fields: Vec<f64> = text
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .map(|field| field.parse().expect("a number"))
        .collect();
    let nanos = |index: usize| Duration::from_nanos(fields[index] as u64);
    Sample {
        p50: nanos(0),
        p99: nanos(1),
        burst_rate: fields[2],
        round_trip_cpu: nanos(3),
        burst_cpu: nanos(4),
    }
}

/// Runs both engines `runs` times, alternating, each run in a fresh
/// process, and returns the table rows.
pub fn compare(round_trips: usize, burst: usize, runs: usize) -> Vec<Row> {
    let mut p50 = Row::new("round trip p50 (us)", Better::Lower);
    let mut p99 = Row::new("round trip p99 (us)", Better::Lower);
    let mut trip_cpu = Row::new("round trip: CPU per trip (us)", Better::Lower);
    let mut rate = Row::new("burst: jobs completed per second", Better::Higher);
    let mut burst_cpu = Row::new("burst: CPU per job (us)", Better::Lower);
    for _ in 0..runs {
        let torsion = sample_in_child(Engine::Torsion, round_trips, burst);
        let tokio = sample_in_child(Engine::Tokio, round_trips, burst);
        let micros = |d: Duration| d.as_secs_f64() * 1e6;
        p50.torsion.push(micros(torsion.p50));
        p50.tokio.push(micros(tokio.p50));
        p99.torsion.push(micros(torsion.p99));
        p99.tokio.push(micros(tokio.p99));
        trip_cpu.torsion.push(micros(torsion.round_trip_cpu));
        trip_cpu.tokio.push(micros(tokio.round_trip_cpu));
        rate.torsion.push(torsion.burst_rate);
        rate.tokio.push(tokio.burst_rate);
        burst_cpu.torsion.push(micros(torsion.burst_cpu));
        burst_cpu.tokio.push(micros(tokio.burst_cpu));
    }
    vec![p50, p99, trip_cpu, rate, burst_cpu]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_engines_finish_every_job() {
        let torsion = run_torsion(100, 1_000);
        let tokio = run_tokio(100, 1_000);
        assert!(torsion.burst_rate > 0.0 && tokio.burst_rate > 0.0);
        assert!(torsion.p50 <= torsion.p99 && tokio.p50 <= tokio.p99);
    }
}
