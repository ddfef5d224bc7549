//! `pool`: round trips of a small call to one worker process, one call
//! at a time. torsion: `ProcessPool::do_work` of an AMP command to a Rust
//! worker (this program, `pool-worker`) serving it with
//! `torsion_amp::pool::run_worker`. tokio: `tokio::process` with a line
//! protocol over the child's pipes ("a b\n" in, "a+b\n" out) to a child
//! (this program, `line-worker`) doing the same sum with blocking std I/O.
//! Figures: round trips per second, p50 and p99 latency.

use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use torsion::{Failure, Reactor};
use torsion_amp::pool::{PoolOptions, ProcessPool, ProcessStarter};
use torsion_amp::{NoError, Responders};

use crate::measure::{Better, Row};

/// Two numbers to add.
#[derive(Serialize, Deserialize)]
pub struct Pair {
    a: i64,
    b: i64,
}

/// Their sum.
#[derive(Serialize, Deserialize)]
pub struct Total {
    total: i64,
}

torsion_amp::command! {
    /// Adds two integers.
    pub struct Sum = "Sum" { arguments: Pair, response: Total, errors: NoError }
}

/// The torsion side's worker: AMP on stdin and stdout.
pub fn amp_worker() -> std::io::Result<()> {
    torsion_amp::pool::run_worker(
        Responders::new().respond::<Sum>(|_, p| Ok(Total { total: p.a + p.b })),
    )
}

/// The tokio side's worker: a line in, its sum out, until end of file.
pub fn line_worker() -> std::io::Result<()> {
    let stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lines() {
        let line = line?;
        let total: i64 = line.split(' ').filter_map(|n| n.parse::<i64>().ok()).sum();
        writeln!(stdout, "{total}")?;
        stdout.flush()?;
    }
    Ok(())
}

/// Latencies of `count` round trips, and the wall time of all of them.
struct Sample {
    latencies: Vec<Duration>,
    wall: Duration,
}

fn torsion_sample(count: usize) -> Sample {
    let reactor = Reactor::new().expect("reactor");
    let exe = std::env::current_exe().expect("this program");
    let pool = ProcessPool::new(
        &reactor,
        PoolOptions::new(ProcessStarter::new(exe).arg("pool-worker"))
            .min(1)
            .max(1)
            .recycle_after(0),
    );
    let r = reactor.clone();
    let sample = reactor.spawn(async move {
        pool.start();
        // The worker's start is not measured.
        pool.do_work::<Sum>(Pair { a: 0, b: 0 }).await?;
        let mut latencies = Vec::with_capacity(count);
        let began = Instant::now();
        for i in 0..count as i64 {
            let start = Instant::now();
            let total = pool.do_work::<Sum>(Pair { a: i, b: 1 }).await?.total;
            latencies.push(start.elapsed());
            assert_eq!(total, i + 1);
        }
        let wall = began.elapsed();
        pool.stop().await?;
        r.stop()?;
        Ok::<_, Failure>(Sample { latencies, wall })
    });
    reactor.run().expect("reactor");
    let outcome = std::rc::Rc::new(std::cell::RefCell::new(None));
    let slot = outcome.clone();
    drop(sample.both(move |result| {
        *slot.borrow_mut() = Some(result);
        Ok::<(), Failure>(())
    }));
    let result = outcome.borrow_mut().take();
    result.expect("finished").expect("pool round trips")
}

fn tokio_sample(count: usize) -> Sample {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut child = tokio::process::Command::new(std::env::current_exe().expect("exe"))
            .arg("line-worker")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("line worker");
        let mut stdin = child.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        let mut call = async |a: i64, b: i64, line: &mut String| {
            stdin
                .write_all(format!("{a} {b}\n").as_bytes())
                .await
                .expect("write");
            line.clear();
            stdout.read_line(line).await.expect("read");
            line.trim().parse::<i64>().expect("a sum")
        };
        call(0, 0, &mut line).await;
        let mut latencies = Vec::with_capacity(count);
        let began = Instant::now();
        for i in 0..count as i64 {
            let start = Instant::now();
            let total = call(i, 1, &mut line).await;
            latencies.push(start.elapsed());
            assert_eq!(total, i + 1);
        }
        let wall = began.elapsed();
        drop(stdin);
        child.wait().await.expect("the line worker's exit");
        Sample { latencies, wall }
    })
}

fn percentile(latencies: &[Duration], p: f64) -> f64 {
    let mut sorted = latencies.to_vec();
    sorted.sort();
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted
        .get(index)
        .map_or(f64::NAN, |d| d.as_secs_f64() * 1e6)
}

/// Runs both `runs` times, alternating, and returns the rows.
pub fn compare(count: usize, runs: usize) -> Vec<Row> {
    let mut rows = [
        Row::new("round trips per second", Better::Higher),
        Row::new("p50 round trip (us)", Better::Lower),
        Row::new("p99 round trip (us)", Better::Lower),
    ];
    // A short warm-up of each, not counted.
    torsion_sample(count / 10 + 1);
    tokio_sample(count / 10 + 1);
    for _ in 0..runs {
        let (torsion, tokio) = (torsion_sample(count), tokio_sample(count));
        for (sample, torsion_side) in [(torsion, true), (tokio, false)] {
            let figures = [
                count as f64 / sample.wall.as_secs_f64(),
                percentile(&sample.latencies, 0.5),
                percentile(&sample.latencies, 0.99),
            ];
            for (row, figure) in rows.iter_mut().zip(figures) {
                if torsion_side {
                    row.torsion.push(figure);
                } else {
                    row.tokio.push(figure);
                }
            }
        }
    }
    rows.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_from_the_sorted_latencies() {
        let latencies: Vec<_> = (1..=100).rev().map(Duration::from_micros).collect();
        assert_eq!(percentile(&latencies, 0.5), 51.0);
        assert_eq!(percentile(&latencies, 0.99), 99.0);
    }
}
