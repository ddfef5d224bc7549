//! One pool running a Rust worker and a Python Twisted worker
//! (`tests/data/pool_worker.py`, AMP over `StandardIO`) side by side:
//! both answer the same commands alike, and a Python worker's crash
//! fails only its call.

mod pool_support;

use std::collections::HashSet;

use pool_support::commands::{
    Code, Exit, HashJob, Nothing, Pid, Seconds, Sleep, SlowHash, slow_hash,
};
use pool_support::{check, python, run, rust_worker};
use torsion::Failure;
use torsion_amp::pool::{PoolError, PoolOptions, ProcessPool, ProcessStarter};

fn python_worker() -> ProcessStarter {
    ProcessStarter::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/pool_worker.py"
        ))
        .env("PYTHONPATH", python::twisted())
        .env("PYTHONDONTWRITEBYTECODE", "1")
}

fn is_python(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|line| String::from_utf8_lossy(&line).contains("pool_worker.py"))
}

#[test]
fn rust_and_python_workers_answer_side_by_side() {
    python::twisted();
    run(60, |r| async move {
        let pool = ProcessPool::new(
            &r,
            PoolOptions::new(rust_worker())
                .also(python_worker())
                .min(2)
                .max(2),
        );
        pool.start();
        let pids = pool.pids();
        check(pids.len() == 2, format!("{pids:?}"))?;
        // Two at once: one on each worker.
        let both = [
            pool.do_work::<Sleep>(Seconds { seconds: 0.3 }),
            pool.do_work::<Sleep>(Seconds { seconds: 0.3 }),
        ];
        let mut answered = HashSet::new();
        for call in both {
            answered.insert(call.await?.pid as u32);
        }
        check(
            answered == pids.iter().copied().collect(),
            format!("{answered:?} vs {pids:?}"),
        )?;
        // Asked only now: until it answers, a worker may still be on its
        // way to Python through a launcher's execs.
        check(
            pids.iter().filter(|&&pid| is_python(pid)).count() == 1,
            "one Python worker, one Rust worker",
        )?;
        // The same slow hash from both languages.
        let expected = format!("{:016x}", slow_hash("pool ✓".as_bytes(), 2000));
        let hashes = [
            pool.do_work::<SlowHash>(HashJob {
                data: "pool ✓".into(),
                rounds: 2000,
            }),
            pool.do_work::<SlowHash>(HashJob {
                data: "pool ✓".into(),
                rounds: 2000,
            }),
        ];
        for hash in hashes {
            let digest = hash.await?.digest;
            check(digest == expected, format!("{digest} vs {expected}"))?;
        }
        pool.stop().await
    });
}

#[test]
fn a_python_worker_crash_fails_only_its_call() {
    python::twisted();
    run(60, |r| async move {
        let pool = ProcessPool::new(&r, PoolOptions::new(python_worker()).min(2).max(2));
        pool.start();
        let busy = pool.do_work::<Sleep>(Seconds { seconds: 0.3 });
        let crash = pool.do_work::<Exit>(Code { code: 5 });
        let failure = crash.await.unwrap_err();
        match failure.downcast_ref::<PoolError>() {
            Some(PoolError::WorkerDied { exit_code, .. }) => {
                check(*exit_code == Some(5), format!("{exit_code:?}"))?
            }
            _ => return Err(Failure::msg(format!("not a death: {failure}"))),
        }
        busy.await?;
        let pid = pool.do_work::<Pid>(Nothing {}).await?.pid as u32;
        check(is_python(pid), "a Python worker answers")?;
        pool.stop().await
    });
}
