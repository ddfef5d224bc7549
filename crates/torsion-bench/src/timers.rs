//! `timers`: 1,000,000 calls scheduled with random delays below one second,
//! every other one cancelled right away, run until the other half fired.
//!
//! torsion schedules with `call_later` and cancels the `DelayedCall`. tokio's
//! side is what a tokio program writes for the same job: a task per timer
//! awaiting `tokio::time::sleep`, cancelled by aborting it, on a
//! current-thread runtime. The headline is the CPU time the loop's thread
//! spends; wall time is mostly the one second of delays.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use torsion::Reactor;

use crate::measure::{Better, Row, thread_cpu_time};

/// Delays drawn from a fixed-seed xorshift, the same for both engines.
fn delays(count: usize) -> Vec<Duration> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            Duration::from_nanos(state % 1_000_000_000)
        })
        .collect()
}

/// One run's figures.
struct Sample {
    schedule: Duration,
    cpu: Duration,
    wall: Duration,
}

fn run_torsion(delays: &[Duration]) -> Sample {
    let reactor = Reactor::new().expect("reactor");
    let expected = delays.len() / 2;
    let fired = Rc::new(Cell::new(0usize));
    let cpu_start = thread_cpu_time();
    let start = Instant::now();
    for (index, delay) in delays.iter().enumerate() {
        let (count, stopper) = (fired.clone(), reactor.clone());
        let call = reactor.call_later(*delay, move || {
            count.set(count.get() + 1);
            if count.get() == expected {
                stopper.stop().expect("running");
            }
        });
        if index % 2 == 1 {
            call.cancel().expect("pending");
        }
    }
    let schedule = start.elapsed();
    reactor.run().expect("run");
    let sample = Sample {
        schedule,
        cpu: thread_cpu_time() - cpu_start,
        wall: start.elapsed(),
    };
    assert_eq!(fired.get(), expected, "every uncancelled call fired");
    sample
}

fn run_tokio(delays: &[Duration]) -> Sample {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    let expected = delays.len() / 2;
    let fired = Rc::new(Cell::new(0usize));
    let all_fired = Rc::new(tokio::sync::Notify::new());
    let cpu_start = thread_cpu_time();
    let start = Instant::now();
    let schedule = local.block_on(&runtime, async {
        for (index, delay) in delays.iter().enumerate() {
            let (count, done, delay) = (fired.clone(), all_fired.clone(), *delay);
            let task = tokio::task::spawn_local(async move {
                tokio::time::sleep(delay).await;
                count.set(count.get() + 1);
                if count.get() == expected {
                    done.notify_one();
                }
            });
            if index % 2 == 1 {
                task.abort();
            }
        }
        let schedule = start.elapsed();
        all_fired.notified().await;
        schedule
    });
    let sample = Sample {
        schedule,
        cpu: thread_cpu_time() - cpu_start,
        wall: start.elapsed(),
    };
    assert_eq!(fired.get(), expected, "every uncancelled timer fired");
    sample
}

/// Runs both engines `runs` times, alternating, and returns the table rows.
pub fn compare(count: usize, runs: usize) -> Vec<Row> {
    let delays = delays(count);
    let mut cpu = Row::new("loop thread CPU time (ms)", Better::Lower);
    let mut schedule = Row::new("schedule + cancel all (ms)", Better::Lower);
    let mut wall = Row::new("wall time to last fire (ms)", Better::Lower);
    for _ in 0..runs {
        for (engine, sample) in [
            ("torsion", run_torsion(&delays)),
            ("tokio", run_tokio(&delays)),
        ] {
            let figures = [
                (&mut cpu, sample.cpu),
                (&mut schedule, sample.schedule),
                (&mut wall, sample.wall),
            ];
            for (row, value) in figures {
                let ms = value.as_secs_f64() * 1e3;
                if engine == "torsion" {
                    row.torsion.push(ms);
                } else {
                    row.tokio.push(ms);
                }
            }
        }
    }
    vec![cpu, schedule, wall]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_are_below_one_second_and_repeatable() {
        let first = delays(1_000);
        assert_eq!(first, delays(1_000));
        assert!(first.iter().all(|delay| *delay < Duration::from_secs(1)));
    }

    #[test]
    fn both_engines_fire_exactly_the_uncancelled_half() {
        let delays: Vec<Duration> = (0..200).map(|i| Duration::from_micros(i * 10)).collect();
        run_torsion(&delays);
        run_tokio(&delays);
    }
}
