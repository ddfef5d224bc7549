//! `cross-thread`: 1,000,000 calls posted from another thread to the loop.
//!
//! torsion's poster uses `ReactorHandle::call_from_thread`, which holds a
//! closure this small inline. tokio has two peers: an unbounded `mpsc`
//! channel of boxed closures that one task on a current-thread runtime
//! receives and runs (how a tokio program hands a closure to a loop: a
//! box made on the poster, run and freed on the loop), and
//! `Handle::spawn` to a current-thread runtime, the standard way to hand
//! work to a runtime from outside it. The loop thread and the poster are
//! pinned to different cores when `taskset` is available. Figures: calls
//! run per second, and the loop thread's CPU time per call.

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use torsion::Reactor;

use crate::measure::{Better, Row, pin_current_thread, thread_cpu_time};

struct Sample {
    wall: Duration,
    cpu: Duration,
}

thread_local! {
    static RAN: Cell<usize> = const { Cell::new(0) };
    /// The `mpsc` peer's last call ran.
    static ALL_RAN: Cell<bool> = const { Cell::new(false) };
}

fn run_torsion(count: usize) -> Sample {
    RAN.with(|ran| ran.set(0));
    let reactor = Reactor::new().expect("reactor");
    let handle = reactor.handle();
    let cpu_start = thread_cpu_time();
    let start = Instant::now();
    let poster = std::thread::spawn(move || {
        pin_current_thread(1);
        for _ in 0..count {
            handle
                .call_from_thread(move |reactor| {
                    let ran = RAN.with(|ran| {
                        ran.set(ran.get() + 1);
                        ran.get()
                    });
                    if ran == count {
                        reactor.stop().expect("running");
                    }
                })
                .expect("reactor alive");
        }
    });
    reactor.run().expect("run");
    let sample = Sample {
        wall: start.elapsed(),
        cpu: thread_cpu_time() - cpu_start,
    };
    poster.join().expect("poster");
    assert_eq!(RAN.with(Cell::get), count, "every call ran");
    sample
}

fn run_tokio(count: usize) -> Sample {
    RAN.with(|ran| ran.set(0));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let handle = runtime.handle().clone();
    let all_ran = Arc::new(tokio::sync::Notify::new());
    let done = all_ran.clone();
    let cpu_start = thread_cpu_time();
    let start = Instant::now();
    let poster = std::thread::spawn(move || {
        pin_current_thread(1);
        for _ in 0..count {
            let done = done.clone();
            handle.spawn(async move {
                let ran = RAN.with(|ran| {
                    ran.set(ran.get() + 1);
                    ran.get()
                });
                if ran == count {
                    done.notify_one();
                }
            });
        }
    });
    runtime.block_on(all_ran.notified());
    let sample = Sample {
        wall: start.elapsed(),
        cpu: thread_cpu_time() - cpu_start,
    };
    poster.join().expect("poster");
    assert_eq!(RAN.with(Cell::get), count, "every task ran");
    sample
}

/// A call as the `mpsc` peer carries it.
type BoxedCall = Box<dyn FnOnce() + Send>;

fn run_tokio_mpsc(count: usize) -> Sample {
    RAN.with(|ran| ran.set(0));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<BoxedCall>();
    let cpu_start = thread_cpu_time();
    let start = Instant::now();
    let poster = std::thread::spawn(move || {
        pin_current_thread(1);
        for _ in 0..count {
            // Like torsion's call, the closure captures `count` (so its
            // box is a real allocation, freed on the loop thread) and
            // checks it.
            sender
                .send(Box::new(move || {
                    let ran = RAN.with(|ran| {
                        ran.set(ran.get() + 1);
                        ran.get()
                    });
                    if ran == count {
                        ALL_RAN.with(|all| all.set(true));
                    }
                }))
                .expect("receiver alive");
        }
    });
    ALL_RAN.with(|all| all.set(false));
    runtime.block_on(async {
        while !ALL_RAN.with(Cell::get) {
            match receiver.recv().await {
                Some(call) => call(),
                None => break,
            }
        }
    });
    let sample = Sample {
        wall: start.elapsed(),
        cpu: thread_cpu_time() - cpu_start,
    };
    poster.join().expect("poster");
    assert_eq!(RAN.with(Cell::get), count, "every call ran");
    sample
}

/// Calls per second and loop CPU per call, torsion against one peer.
struct Rows {
    throughput: Row,
    cpu: Row,
}

impl Rows {
    fn new() -> Rows {
        Rows {
            throughput: Row::new("calls run per second", Better::Higher),
            cpu: Row::new("loop CPU per call (ns)", Better::Lower),
        }
    }

    fn add(&mut self, count: usize, sample: &Sample, torsion: bool) {
        let rate = count as f64 / sample.wall.as_secs_f64();
        let per_call = sample.cpu.as_nanos() as f64 / count as f64;
        if torsion {
            self.throughput.torsion.push(rate);
            self.cpu.torsion.push(per_call);
        } else {
            self.throughput.tokio.push(rate);
            self.cpu.tokio.push(per_call);
        }
    }

    fn into_vec(self) -> Vec<Row> {
        vec![self.throughput, self.cpu]
    }
}

/// Runs torsion and both tokio peers `runs` times, alternating, and
/// returns the rows against the `mpsc` channel and against `Handle::spawn`.
pub fn compare(count: usize, runs: usize) -> (Vec<Row>, Vec<Row>) {
    let mut channel = Rows::new();
    let mut spawned = Rows::new();
    for _ in 0..runs {
        let torsion = run_torsion(count);
        let mpsc = run_tokio_mpsc(count);
        let spawn = run_tokio(count);
        channel.add(count, &torsion, true);
        channel.add(count, &mpsc, false);
        spawned.add(count, &torsion, true);
        spawned.add(count, &spawn, false);
    }
    (channel.into_vec(), spawned.into_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_engines_run_every_posted_call() {
        run_torsion(10_000);
        run_tokio_mpsc(10_000);
        run_tokio(10_000);
    }
}
