//! The process pool with real worker processes (the Rust demonstration
//! worker): the minimum started, the maximum kept with calls queued,
//! recycling, a stuck worker killed on timeout and replaced, a crash that
//! fails only its own call, cancelling queued and running calls, idle
//! workers reaped, and a stop that leaves no process behind.

mod pool_support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use pool_support::commands::{Code, Exit, HashJob, Nothing, Pid, Seconds, Sleep, SlowHash};
use pool_support::{check, gone_within, process_exists, run, rust_worker, sleep};
use torsion::Failure;
use torsion::error::Cancelled;
use torsion::process::{ProcessTerminated, Signal, unreaped_children};
use torsion::service::Service;
use torsion_amp::pool::{PoolError, PoolOptions, ProcessPool, ProcessStarter, WorkOptions};

fn options() -> PoolOptions {
    PoolOptions::new(rust_worker())
}

fn pool_error(failure: &Failure) -> &PoolError {
    failure
        .downcast_ref::<PoolError>()
        .unwrap_or_else(|| panic!("not a PoolError: {failure}"))
}

#[test]
fn the_minimum_of_workers_is_started_and_each_answers() {
    run(20, |r| async move {
        let pool = ProcessPool::new(&r, options().min(3).max(5));
        pool.start();
        check(pool.stats().workers == 3, format!("{:?}", pool.stats()))?;
        let started: HashSet<u32> = pool.pids().into_iter().collect();
        check(started.len() == 3, "three distinct processes")?;
        // Three at once, one on each worker.
        let calls: Vec<_> = (0..3)
            .map(|_| pool.do_work::<Sleep>(Seconds { seconds: 0.2 }))
            .collect();
        let mut answered = HashSet::new();
        for call in calls {
            answered.insert(call.await?.pid as u32);
        }
        check(answered == started, format!("{answered:?} vs {started:?}"))?;
        pool.stop().await
    });
}

#[test]
fn calls_beyond_the_maximum_wait_their_turn() {
    run(20, |r| async move {
        let pool = ProcessPool::new(&r, options().min(0).max(2));
        pool.start();
        let began = Instant::now();
        let calls: Vec<_> = (0..6)
            .map(|_| pool.do_work::<Sleep>(Seconds { seconds: 0.2 }))
            .collect();
        let stats = pool.stats();
        check(
            stats.workers == 2 && stats.busy == 2 && stats.queued == 4,
            format!("{stats:?}"),
        )?;
        let mut pids = HashSet::new();
        for call in calls {
            pids.insert(call.await?.pid);
        }
        check(pids.len() == 2, format!("two workers served: {pids:?}"))?;
        // Six calls of 0.2 s on two workers take three rounds.
        check(
            began.elapsed() >= Duration::from_millis(600),
            format!("{:?}", began.elapsed()),
        )?;
        pool.stop().await
    });
}

#[test]
fn a_worker_is_recycled_after_its_calls() {
    run(20, |r| async move {
        let pool = ProcessPool::new(&r, options().min(1).max(1).recycle_after(2));
        pool.start();
        let mut pids = Vec::new();
        for _ in 0..6 {
            pids.push(pool.do_work::<Pid>(Nothing {}).await?.pid);
        }
        check(
            pids[0] == pids[1] && pids[2] == pids[3] && pids[4] == pids[5],
            format!("{pids:?}"),
        )?;
        let distinct: HashSet<_> = pids.iter().collect();
        check(distinct.len() == 3, format!("{pids:?}"))?;
        pool.stop().await
    });
}

#[test]
fn a_stuck_worker_is_killed_on_timeout_and_replaced() {
    run(30, |r| async move {
        let pool = ProcessPool::new(
            &r,
            options().min(1).max(1).timeout(Duration::from_millis(300)),
        );
        pool.start();
        let stuck_pid = pool.pids()[0];
        let began = Instant::now();
        let failure = pool
            .do_work::<Sleep>(Seconds { seconds: 60.0 })
            .await
            .unwrap_err();
        let waited = began.elapsed();
        match pool_error(&failure) {
            PoolError::TimedOut { after, pid } => {
                check(*after == Duration::from_millis(300), format!("{after:?}"))?;
                check(*pid == Some(stuck_pid), format!("{pid:?}"))?;
            }
            other => return Err(Failure::msg(format!("not a timeout: {other}"))),
        }
        check(
            waited >= Duration::from_millis(300) && waited < Duration::from_secs(5),
            format!("{waited:?}"),
        )?;
        // The next call is served, by another process.
        let next = pool.do_work::<Pid>(Nothing {}).await?;
        check(next.pid as u32 != stuck_pid, "replaced")?;
        // The stuck one was killed and reaped.
        check(
            gone_within(&r, stuck_pid, Duration::from_secs(2)).await,
            "the stuck worker is gone",
        )?;
        // A call's own timeout overrides the pool's.
        let quick = pool
            .do_work_with::<Sleep>(
                Seconds { seconds: 60.0 },
                WorkOptions::new().timeout(Duration::from_millis(100)),
            )
            .await
            .unwrap_err();
        check(pool_error(&quick).is_timed_out(), format!("{quick}"))?;
        let patient = pool
            .do_work_with::<Sleep>(Seconds { seconds: 0.5 }, WorkOptions::new().no_timeout())
            .await;
        check(patient.is_ok(), "no timeout for this call")?;
        pool.stop().await
    });
}

#[test]
fn a_worker_deaf_to_the_timeout_signal_is_killed_after_the_grace() {
    run(30, |r| async move {
        // A torsion worker handles SIGTERM on its reactor, which a stuck
        // responder blocks: the signal does nothing until the grace ends.
        let pool = ProcessPool::new(
            &r,
            options()
                .min(1)
                .timeout(Duration::from_millis(200))
                .timeout_signal(Signal::TERM)
                .stop_grace(Duration::from_millis(300)),
        );
        pool.start();
        let stuck = pool.pids()[0];
        let began = Instant::now();
        let failure = pool
            .do_work::<Sleep>(Seconds { seconds: 60.0 })
            .await
            .unwrap_err();
        check(pool_error(&failure).is_timed_out(), format!("{failure}"))?;
        check(
            began.elapsed() < Duration::from_secs(3),
            format!("{:?}", began.elapsed()),
        )?;
        // A replacement serves at once; the stuck one, which stops
        // counting against the maximum, is killed when the grace ends.
        let next = pool.do_work::<Pid>(Nothing {}).await?;
        check(next.pid as u32 != stuck, "replaced")?;
        check(pool.stats().stopping == 1, format!("{:?}", pool.stats()))?;
        sleep(&r, Duration::from_millis(600)).await;
        check(!process_exists(stuck), "killed after the grace")?;
        check(pool.stats().stopping == 0, format!("{:?}", pool.stats()))?;
        pool.stop().await
    });
}

#[test]
fn a_worker_crash_fails_exactly_its_own_call() {
    run(30, |r| async move {
        let pool = ProcessPool::new(&r, options().min(3).max(3));
        pool.start();
        let first = pool.do_work::<Sleep>(Seconds { seconds: 0.3 });
        let crash = pool.do_work::<Exit>(Code { code: 3 });
        let second = pool.do_work::<Sleep>(Seconds { seconds: 0.3 });
        check(pool.stats().busy == 3, format!("{:?}", pool.stats()))?;
        let crashed = crash.await.unwrap_err();
        match pool_error(&crashed) {
            PoolError::WorkerDied {
                exit_code, reason, ..
            } => {
                check(*exit_code == Some(3), format!("{exit_code:?}"))?;
                check(
                    reason.find::<ProcessTerminated>().is_some(),
                    format!("{reason}"),
                )?;
            }
            other => return Err(Failure::msg(format!("not a death: {other}"))),
        }
        first.await?;
        second.await?;
        // The dead worker was replaced, and the pool goes on serving.
        let digest = pool
            .do_work::<SlowHash>(HashJob {
                data: "abc".into(),
                rounds: 10,
            })
            .await?;
        check(
            digest.digest == format!("{:016x}", pool_support::commands::slow_hash(b"abc", 10)),
            "the hash",
        )?;
        check(pool.stats().workers == 3, format!("{:?}", pool.stats()))?;
        pool.stop().await
    });
}

#[test]
fn a_queued_call_cancelled_never_runs() {
    run(20, |r| async move {
        let pool = ProcessPool::new(&r, options().min(1).max(1));
        pool.start();
        let busy = pool.do_work::<Sleep>(Seconds { seconds: 0.3 });
        // Queued behind it: would kill the only worker if it ran.
        let doomed = pool.do_work::<Exit>(Code { code: 9 });
        check(pool.stats().queued == 1, format!("{:?}", pool.stats()))?;
        doomed.cancel();
        check(pool.stats().queued == 0, "taken out of the queue")?;
        let failure = doomed.await.unwrap_err();
        check(failure.is::<Cancelled>(), format!("{failure}"))?;
        let pid = busy.await?.pid;
        // The same worker answers: the Exit never reached it.
        let after = pool.do_work::<Pid>(Nothing {}).await?;
        check(after.pid == pid, format!("{} vs {pid}", after.pid))?;
        pool.stop().await
    });
}

#[test]
fn a_running_call_cancelled_fails_at_once_and_its_worker_finishes_it() {
    run(20, |r| async move {
        let pool = ProcessPool::new(&r, options().min(1).max(1));
        pool.start();
        let worker = pool.pids()[0];
        let began = Instant::now();
        let running = pool.do_work::<Sleep>(Seconds { seconds: 0.4 });
        sleep(&r, Duration::from_millis(50)).await;
        running.cancel();
        let failure = running.await.unwrap_err();
        check(failure.is::<Cancelled>(), format!("{failure}"))?;
        check(
            began.elapsed() < Duration::from_millis(300),
            "fails at once",
        )?;
        // The worker was not killed: it answers the next call once it has
        // finished the cancelled one.
        let next = pool.do_work::<Pid>(Nothing {}).await?;
        check(next.pid as u32 == worker, "the same worker")?;
        check(
            began.elapsed() >= Duration::from_millis(400),
            format!("{:?}", began.elapsed()),
        )?;
        pool.stop().await
    });
}

#[test]
fn a_deadline_passed_in_the_queue_fails_the_call() {
    run(20, |r| async move {
        let pool = ProcessPool::new(&r, options().min(1).max(1));
        pool.start();
        let busy = pool.do_work::<Sleep>(Seconds { seconds: 0.5 });
        let late = pool.do_work_with::<Pid>(
            Nothing {},
            WorkOptions::new().deadline(Instant::now() + Duration::from_millis(100)),
        );
        let failure = late.await.unwrap_err();
        check(
            matches!(pool_error(&failure), PoolError::TimedOut { pid: None, .. }),
            format!("{failure}"),
        )?;
        busy.await?;
        pool.stop().await
    });
}

#[test]
fn idle_workers_above_the_minimum_are_stopped() {
    run(30, |r| async move {
        let pool = ProcessPool::new(
            &r,
            options().min(1).max(3).max_idle(Duration::from_millis(200)),
        );
        pool.start();
        let calls: Vec<_> = (0..3)
            .map(|_| pool.do_work::<Sleep>(Seconds { seconds: 0.1 }))
            .collect();
        for call in calls {
            call.await?;
        }
        check(pool.stats().workers == 3, format!("{:?}", pool.stats()))?;
        let three = pool.pids();
        sleep(&r, Duration::from_millis(800)).await;
        let stats = pool.stats();
        check(
            stats.workers == 1 && stats.stopping == 0,
            format!("{stats:?}"),
        )?;
        let gone = three.iter().filter(|&&pid| !process_exists(pid)).count();
        check(gone == 2, format!("{gone} of {three:?} gone"))?;
        pool.stop().await
    });
}

#[test]
fn stop_fails_queued_calls_ends_every_worker_and_leaves_no_zombie() {
    let reactor = run(30, |r| async move {
        let pool = ProcessPool::new(&r, options().min(3).max(3).name("stopping"));
        // Started and stopped as a service.
        pool.start_service()?;
        let pids = pool.pids();
        check(pids.len() == 3, format!("{pids:?}"))?;
        let running: Vec<_> = (0..3)
            .map(|_| pool.do_work::<Sleep>(Seconds { seconds: 0.2 }))
            .collect();
        let queued = pool.do_work::<Pid>(Nothing {});
        pool.stop_service().await?;
        // The calls running were let finish; the queued one was not run.
        for call in running {
            call.await?;
        }
        let failure = queued.await.unwrap_err();
        check(pool_error(&failure).is_stopped(), format!("{failure}"))?;
        check(pids.iter().all(|&pid| !process_exists(pid)), "all gone")?;
        check(unreaped_children(&r) == 0, "no zombie")?;
        let after = pool.do_work::<Pid>(Nothing {}).await.unwrap_err();
        check(pool_error(&after).is_stopped(), format!("{after}"))?;
        Ok(())
    });
    assert_eq!(unreaped_children(&reactor), 0);
}

#[test]
fn a_worker_that_will_not_exit_is_killed_after_the_grace() {
    run(30, |r| async move {
        let pool = ProcessPool::new(
            &r,
            options()
                .min(1)
                .max(1)
                .stop_grace(Duration::from_millis(200)),
        );
        pool.start();
        let pid = pool.pids()[0];
        let stuck = pool.do_work::<Sleep>(Seconds { seconds: 60.0 });
        let began = Instant::now();
        pool.stop().await?;
        check(
            began.elapsed() < Duration::from_secs(5),
            format!("{:?}", began.elapsed()),
        )?;
        let failure = stuck.await.unwrap_err();
        match pool_error(&failure) {
            PoolError::WorkerDied { signal, .. } => {
                check(*signal == Some(Signal::KILL), format!("{signal:?}"))?
            }
            other => return Err(Failure::msg(format!("{other}"))),
        }
        check(!process_exists(pid), "killed and reaped")
    });
}

#[test]
fn a_worker_that_cannot_start_fails_the_call_waiting() {
    run(20, |r| async move {
        let pool = ProcessPool::new(
            &r,
            PoolOptions::new(ProcessStarter::new("/nonexistent/worker")).min(0),
        );
        let failure = pool.do_work::<Pid>(Nothing {}).await.unwrap_err();
        check(
            matches!(pool_error(&failure), PoolError::StartFailed(_)),
            format!("{failure}"),
        )?;
        pool.stop().await
    });
}
