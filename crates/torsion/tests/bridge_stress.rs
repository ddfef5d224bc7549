//! The blocking bridge's cross-thread paths under contention: many threads
//! starting operations, waiting with short timeouts, cancelling each
//! other's operations and awaiting results, then a shutdown while threads
//! are still calling in and blocked. Every outcome must be one of the
//! allowed ones, and nothing may hang.
//!
//! One iteration by default; `TORSION_BRIDGE_STRESS_ITERATIONS=50` for CI's
//! repeated run (release mode keeps that well under a minute).

use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use torsion::blocking::{Bridge, BridgeError, EventualResult};
use torsion::time::defer_later;
use torsion::{Deferred, Failure, Reactor};

const THREADS: u64 = 8;
const OPS: u64 = 1000;
const LONG: Duration = Duration::from_secs(10);
/// Nothing in an iteration may take longer than this.
const BOUND: Duration = Duration::from_secs(20);

/// xorshift64*: enough randomness to mix the operations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn delayed(bridge: &Bridge, value: u64, delay_us: u64) -> EventualResult<u64> {
    bridge.run_in_reactor(move |reactor| {
        defer_later(&reactor, Duration::from_micros(delay_us), move || {
            Ok::<_, Failure>(value)
        })
    })
}

fn never(_: Reactor) -> Deferred<u64> {
    let (deferred, resolver) = Deferred::new();
    std::mem::forget(resolver);
    deferred
}

/// The value, or a cancellation when one was asked for.
fn value_or_cancelled(outcome: Result<u64, BridgeError>, value: u64) {
    match outcome {
        Ok(got) => assert_eq!(got, value),
        Err(error) => assert!(error.is_cancelled(), "unexpected {error}"),
    }
}

fn contention(bridge: &Bridge, seed: u64) {
    // One thread cancels whatever the others hand it.
    let (to_cancel, cancel_queue) = mpsc::channel::<Arc<EventualResult<u64>>>();
    let canceller = thread::spawn(move || {
        for result in cancel_queue {
            result.cancel();
        }
    });
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let bridge = bridge.clone();
            let to_cancel = to_cancel.clone();
            thread::spawn(move || {
                let mut rng = Rng(seed ^ (t + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                for i in 0..OPS {
                    let value = t << 32 | i;
                    match rng.below(6) {
                        0 => {
                            let result = bridge.run_in_reactor(move |_| Ok::<_, Failure>(value));
                            assert_eq!(result.wait(LONG).unwrap(), value);
                        }
                        1 => {
                            let result = delayed(&bridge, value, rng.below(2000));
                            match result.wait(Duration::from_micros(rng.below(1000))) {
                                Ok(got) => assert_eq!(got, value),
                                Err(error) => {
                                    assert!(error.is_timeout(), "{error}");
                                    if rng.below(2) == 0 {
                                        assert_eq!(result.wait(LONG).unwrap(), value);
                                    } else {
                                        result.cancel();
                                        value_or_cancelled(result.wait(LONG), value);
                                    }
                                }
                            }
                        }
                        2 => {
                            let result = Arc::new(delayed(&bridge, value, rng.below(500)));
                            to_cancel.send(result.clone()).unwrap();
                            value_or_cancelled(result.wait(LONG), value);
                        }
                        3 => {
                            let delay = rng.below(2000);
                            let outcome = bridge.wait_for(
                                Duration::from_micros(rng.below(2000)),
                                move |reactor| {
                                    defer_later(&reactor, Duration::from_micros(delay), move || {
                                        Ok::<_, Failure>(value)
                                    })
                                },
                            );
                            match outcome {
                                Ok(got) => assert_eq!(got, value),
                                Err(error) => assert!(error.is_timeout(), "{error}"),
                            }
                        }
                        4 => {
                            // Cancel at once, from this thread, racing the start.
                            let result = delayed(&bridge, value, rng.below(500));
                            result.cancel();
                            value_or_cancelled(result.wait(LONG), value);
                        }
                        _ => {
                            // Abandoned without a wait.
                            drop(delayed(&bridge, value, rng.below(500)));
                        }
                    }
                }
            })
        })
        .collect();
    drop(to_cancel);
    for worker in workers {
        worker.join().expect("worker");
    }
    canceller.join().expect("canceller");
}

/// Shuts the bridge down while threads call in and wait; all must finish
/// promptly with a value or "reactor stopped".
fn shutdown_under_load(bridge: Bridge) {
    let (done, finished) = mpsc::channel::<()>();
    let mut threads = Vec::new();
    for t in 0..4u64 {
        let (waiter_bridge, waiter_done) = (bridge.clone(), done.clone());
        threads.push(thread::spawn(move || {
            let result = waiter_bridge.run_in_reactor(never);
            assert!(
                result
                    .wait(Duration::from_secs(60))
                    .unwrap_err()
                    .is_reactor_stopped()
            );
            waiter_done.send(()).unwrap();
        }));
        let bridge = bridge.clone();
        let done = done.clone();
        threads.push(thread::spawn(move || {
            let mut i = 0u64;
            loop {
                let value = t << 32 | i;
                match bridge
                    .run_in_reactor(move |_| Ok::<_, Failure>(value))
                    .wait(LONG)
                {
                    Ok(got) => assert_eq!(got, value),
                    Err(error) => {
                        assert!(error.is_reactor_stopped(), "{error}");
                        break;
                    }
                }
                i += 1;
            }
            done.send(()).unwrap();
        }));
    }
    drop(done);
    thread::sleep(Duration::from_millis(5));
    bridge.shutdown(LONG).expect("shutdown");
    let deadline = Instant::now() + BOUND;
    for _ in 0..threads.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        finished
            .recv_timeout(left)
            .expect("a thread still blocked after shutdown");
    }
    for thread in threads {
        thread.join().expect("thread");
    }
}

#[test]
fn bridge_under_contention() {
    let iterations: u64 = std::env::var("TORSION_BRIDGE_STRESS_ITERATIONS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(1);
    let started = Instant::now();
    for iteration in 0..iterations {
        let bridge = Bridge::start().expect("bridge");
        let began = Instant::now();
        contention(&bridge, 0x5eed ^ iteration);
        shutdown_under_load(bridge);
        assert!(
            began.elapsed() < BOUND,
            "iteration {iteration} took {:?}",
            began.elapsed()
        );
    }
    println!(
        "{iterations} iteration(s) in {:.2} s",
        started.elapsed().as_secs_f64()
    );
}
