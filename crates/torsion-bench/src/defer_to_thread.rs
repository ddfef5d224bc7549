//! `defer-to-thread`: handing a job to a thread pool and getting its result
//! back on the loop thread.
//!
//! torsion's side is `Reactor::defer_to_thread` with a callback on the
//! Deferred; tokio's is `tokio::task::spawn_blocking` awaited on a
//! current-thread runtime (both pools at most 10 threads, Twisted's
//! default). Two measurements: round trips one at a time (latency
//! percentiles, from the call to the result on the loop thread), and a
//! burst of jobs all queued at once (jobs completed per second). The jobs
//! do nothing, so the figures are the cost of the trip. Before measuring,
//! each engine starts all ten workers and pins them to CPU 1 (the loop
//! thread is on CPU 0).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use torsion::Reactor;

use crate::measure::{Better, Row, pin_current_thread};

const POOL_THREADS: usize = 10;

/// One run's figures.
struct Sample {
    p50: Duration,
    p99: Duration,
    burst_rate: f64,
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

    // Phase 1: warm up every worker; then round trips one at a time; then
    // the burst.
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(POOL_THREADS));
    let warmed = Rc::new(Cell::new(0));
    let start_round_trips = {
        let (reactor, latencies, burst_rate) =
            (reactor.clone(), latencies.clone(), burst_rate.clone());
        move || round_trip(reactor, latencies, round_trips, burst, burst_rate)
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
    Sample {
        p50,
        p99,
        burst_rate: burst_rate.get(),
    }
}

/// Issues one round trip, and the next from its callback; after the last,
/// starts the burst.
fn round_trip(
    reactor: Reactor,
    latencies: Rc<RefCell<Vec<Duration>>>,
    left: usize,
    burst: usize,
    burst_rate: Rc<Cell<f64>>,
) {
    if left == 0 {
        run_burst(&reactor, burst, burst_rate);
        return;
    }
    let sent = Instant::now();
    let r = reactor.clone();
    drop(reactor.defer_to_thread(|| ()).map(move |()| {
        latencies.borrow_mut().push(sent.elapsed());
        round_trip(r, latencies, left - 1, burst, burst_rate);
    }));
}

fn run_burst(reactor: &Reactor, burst: usize, burst_rate: Rc<Cell<f64>>) {
    let done = Rc::new(Cell::new(0));
    let started = Instant::now();
    for _ in 0..burst {
        let (done, rate, r) = (done.clone(), burst_rate.clone(), reactor.clone());
        drop(reactor.defer_to_thread(|| ()).map(move |()| {
            done.set(done.get() + 1);
            if done.get() == burst {
                rate.set(burst as f64 / started.elapsed().as_secs_f64());
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
        for _ in 0..round_trips {
            let sent = Instant::now();
            tokio::task::spawn_blocking(|| ()).await.expect("job");
            latencies.push(sent.elapsed());
        }

        let started = Instant::now();
        let handles: Vec<_> = (0..burst)
            .map(|_| tokio::task::spawn_blocking(|| ()))
            .collect();
        for handle in handles {
            handle.await.expect("job");
        }
        let burst_rate = burst as f64 / started.elapsed().as_secs_f64();

        let (p50, p99) = percentiles(latencies);
        Sample {
            p50,
            p99,
            burst_rate,
        }
    })
}

/// Runs both engines `runs` times, alternating, and returns the table rows.
pub fn compare(round_trips: usize, burst: usize, runs: usize) -> Vec<Row> {
    let mut p50 = Row::new("round trip p50 (us)", Better::Lower);
    let mut p99 = Row::new("round trip p99 (us)", Better::Lower);
    let mut rate = Row::new("burst: jobs completed per second", Better::Higher);
    for _ in 0..runs {
        let torsion = run_torsion(round_trips, burst);
        let tokio = run_tokio(round_trips, burst);
        let micros = |d: Duration| d.as_secs_f64() * 1e6;
        p50.torsion.push(micros(torsion.p50));
        p50.tokio.push(micros(tokio.p50));
        p99.torsion.push(micros(torsion.p99));
        p99.tokio.push(micros(tokio.p99));
        rate.torsion.push(torsion.burst_rate);
        rate.tokio.push(tokio.burst_rate);
    }
    vec![p50, p99, rate]
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
