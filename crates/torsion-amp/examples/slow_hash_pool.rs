//! A CPU-heavy job fanned out over a process pool while the reactor keeps
//! serving: sixteen deliberately slow hashes run on four worker
//! processes (this same program, started with `--worker`), while a 10 ms
//! timer on the reactor keeps ticking; its worst lateness is printed with
//! the results.
//!
//! ```text
//! cargo run -p torsion-amp --example slow_hash_pool
//! ```

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use torsion::time::LoopingCall;
use torsion::{Failure, Reactor};
use torsion_amp::Responders;
use torsion_amp::pool::{PoolOptions, ProcessPool, ProcessStarter};

/// The commands of the demonstration worker (`SlowHash` and its
/// `slow_hash`), shared rather than written again.
#[path = "../src/bin/torsion-amp-worker/commands.rs"]
#[allow(dead_code)]
mod commands;

use commands::{Digest, HashJob, SlowHash, slow_hash};

const JOBS: usize = 16;
const ROUNDS: i64 = 1_000_000;
const TICK: Duration = Duration::from_millis(10);

/// The worker: serves SlowHash on stdin and stdout until the pool closes
/// stdin.
fn worker() -> std::io::Result<()> {
    torsion_amp::pool::run_worker(Responders::new().respond::<SlowHash>(|_, job| {
        Ok(Digest {
            digest: format!(
                "{:016x}",
                slow_hash(job.data.as_bytes(), job.rounds.max(0) as u64)
            ),
        })
    }))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().nth(1).as_deref() == Some("--worker") {
        return Ok(worker()?);
    }
    let reactor = Reactor::new()?;

    // The reactor's own work: a tick every 10 ms, and how late it ran.
    let worst = Rc::new(Cell::new(Duration::ZERO));
    let (ticks, last) = (Rc::new(Cell::new(0u32)), Rc::new(Cell::new(Instant::now())));
    let (w, t, l) = (worst.clone(), ticks.clone(), last.clone());
    let ticker = LoopingCall::new(reactor.clone(), move || {
        let now = Instant::now();
        w.set(
            w.get()
                .max(now.duration_since(l.get()).saturating_sub(TICK)),
        );
        l.set(now);
        t.set(t.get() + 1);
    });
    drop(ticker.start(TICK, true)?);

    let starter = ProcessStarter::new(std::env::current_exe()?).arg("--worker");
    let pool = ProcessPool::new(
        &reactor,
        PoolOptions::new(starter).min(4).max(4).name("hashers"),
    );
    pool.start();

    let r = reactor.clone();
    let done = reactor.spawn(async move {
        let began = Instant::now();
        let jobs: Vec<_> = (0..JOBS)
            .map(|i| {
                pool.do_work::<SlowHash>(HashJob {
                    data: format!("job {i}"),
                    rounds: ROUNDS,
                })
            })
            .collect();
        for (i, job) in jobs.into_iter().enumerate() {
            let digest = job.await?.digest;
            println!("job {i:2}: {digest}");
        }
        let elapsed = began.elapsed();
        pool.stop().await?;
        ticker.stop();
        println!(
            "{JOBS} hashes of {ROUNDS} rounds on 4 worker processes in {:.2} s",
            elapsed.as_secs_f64()
        );
        println!(
            "meanwhile the reactor ticked {} times every {} ms, at worst {:.1} ms late",
            ticks.get(),
            TICK.as_millis(),
            worst.get().as_secs_f64() * 1e3
        );
        r.stop()?;
        Ok::<(), Failure>(())
    });
    let r = reactor.clone();
    let outcome = done.both(move |result| {
        let _ = r.stop();
        result
    });
    reactor.run()?;
    match outcome.is_fired() {
        true => Ok(()),
        false => Err("the example did not finish".into()),
    }
}
