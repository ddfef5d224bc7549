//! `ThreadPool`: named workers started on demand within its bounds, jobs in
//! order, panics caught, bounds adjusted, and every way of stopping.

use super::*;

#[test]
fn threads_are_named_after_the_pool() {
    let pool = ThreadPool::new("named", 0, 2);
    let (sender, receiver) = mpsc::channel();
    pool.call_in_thread(move || {
        sender
            .send(std::thread::current().name().map(str::to_owned))
            .unwrap()
    })
    .unwrap();
    assert_eq!(receiver.recv().unwrap().as_deref(), Some("named-1"));
}

#[test]
fn min_workers_start_with_the_pool() {
    let pool = ThreadPool::new("tp-min", 3, 5);
    wait_until(|| pool.stats().idle == 3);
    assert_eq!(pool.stats().workers, 3);
    // A thread names itself as it starts.
    wait_until(|| threads_named("tp-min-") == 3);
}

#[test]
fn bounds_are_normalized() {
    let pool = ThreadPool::new("tp-norm", 7, 0);
    let stats = pool.stats();
    assert_eq!((stats.min, stats.max), (1, 1));
}

#[test]
fn workers_start_on_demand_up_to_max() {
    let pool = ThreadPool::new("tp-demand", 0, 3);
    assert_eq!(pool.stats().workers, 0);
    let (open, wait) = gate();
    for _ in 0..6 {
        let wait = wait.clone();
        pool.call_in_thread(move || {
            let _ = wait.lock().unwrap().recv();
        })
        .unwrap();
    }
    // Workers wake or start one another while jobs remain queued.
    wait_until(|| pool.stats().workers == 3);
    assert!(pool.stats().queued >= 3);
    for _ in 0..6 {
        open.send(()).unwrap();
    }
    wait_until(|| pool.stats().completed == 6);
    assert_eq!(pool.stats().workers, 3);
}

#[test]
fn jobs_run_in_fifo_order() {
    let pool = ThreadPool::new("tp-fifo", 0, 1);
    let (sender, receiver) = mpsc::channel();
    for n in 0..50 {
        let sender = sender.clone();
        pool.call_in_thread(move || sender.send(n).unwrap())
            .unwrap();
    }
    let order: Vec<i32> = receiver.iter().take(50).collect();
    assert_eq!(order, (0..50).collect::<Vec<_>>());
}

#[test]
fn stats_count_workers_idle_queued_and_completed() {
    let pool = ThreadPool::new("tp-stats", 0, 1);
    let (open, wait) = gate();
    let (started, is_started) = mpsc::channel();
    let waiting = wait.clone();
    pool.call_in_thread(move || {
        started.send(()).unwrap();
        let _ = waiting.lock().unwrap().recv();
    })
    .unwrap();
    is_started.recv().unwrap();
    pool.call_in_thread(|| {}).unwrap();
    pool.call_in_thread(|| {}).unwrap();
    let stats = pool.stats();
    assert_eq!(
        (stats.workers, stats.idle, stats.queued, stats.completed),
        (1, 0, 2, 0)
    );
    open.send(()).unwrap();
    wait_until(|| pool.stats().completed == 3);
    wait_until(|| pool.stats().idle == 1);
    let stats = pool.stats();
    assert_eq!((stats.workers, stats.idle, stats.queued), (1, 1, 0));
}

#[test]
fn a_panicking_job_is_caught_and_the_worker_survives() {
    let pool = ThreadPool::new("tp-panic", 0, 1);
    pool.call_in_thread(|| panic!("job exploded")).unwrap();
    let (sender, receiver) = mpsc::channel();
    pool.call_in_thread(move || sender.send(thread_tid()).unwrap())
        .unwrap();
    receiver.recv_timeout(LIMIT).unwrap();
    wait_until(|| pool.stats().completed == 2);
    assert_eq!(pool.stats().workers, 1);
}

#[test]
fn adjust_starts_workers_up_to_the_new_min() {
    let pool = ThreadPool::new("tp-grow", 0, 2);
    pool.adjust(4, 6);
    wait_until(|| pool.stats().idle == 4);
    let stats = pool.stats();
    assert_eq!((stats.workers, stats.min, stats.max), (4, 4, 6));
}

#[test]
fn adjust_raising_max_starts_workers_for_queued_jobs() {
    let pool = ThreadPool::new("tp-raise", 0, 1);
    let (open, wait) = gate();
    for _ in 0..3 {
        let wait = wait.clone();
        pool.call_in_thread(move || {
            let _ = wait.lock().unwrap().recv();
        })
        .unwrap();
    }
    wait_until(|| pool.stats().queued == 2);
    assert_eq!(pool.stats().workers, 1);
    pool.adjust(0, 3);
    assert_eq!(pool.stats().workers, 3);
    for _ in 0..3 {
        open.send(()).unwrap();
    }
    wait_until(|| pool.stats().completed == 3);
}

#[test]
fn adjust_lowering_max_retires_extra_workers() {
    let pool = ThreadPool::new("tp-shrink", 4, 4);
    let (sender, receiver) = mpsc::channel();
    for _ in 0..4 {
        let sender = sender.clone();
        pool.call_in_thread(move || sender.send(thread_tid()).unwrap())
            .unwrap();
    }
    wait_until(|| pool.stats().idle == 4);
    pool.adjust(0, 1);
    wait_until(|| pool.stats().workers == 1);
    wait_until(|| threads_named("tp-shrink-") == 1);
    drop(receiver);
}

#[test]
fn stop_joins_every_thread() {
    let pool = ThreadPool::new("tp-join", 2, 4);
    let (sender, receiver) = mpsc::channel();
    let (open, wait) = gate();
    let ends = Ends::default();
    for _ in 0..4 {
        let (sender, wait, ends) = (sender.clone(), wait.clone(), ends.clone());
        pool.call_in_thread(move || {
            ends.count_this_thread();
            sender.send(thread_tid()).unwrap();
            let _ = wait.lock().unwrap().recv();
        })
        .unwrap();
    }
    let tids: Vec<String> = receiver.iter().take(4).collect();
    assert!(tids.iter().all(|tid| thread_alive(tid)));
    assert_eq!(threads_named("tp-join-"), 4);
    drop(open);
    pool.stop(StopMode::FinishQueued);
    // Every worker has ended by the time stop returns...
    assert_eq!(ends.all_ended(), (true, 4));
    assert_eq!(pool.stats().workers, 0);
    // ...and the kernel takes their /proc entries away a moment after a
    // join returns (on a loaded machine, a visible moment).
    wait_until(|| tids.iter().all(|tid| !thread_alive(tid)));
    wait_until(|| threads_named("tp-join-") == 0);
}

#[test]
fn stop_finish_queued_runs_every_queued_job() {
    let pool = ThreadPool::new("tp-finish", 0, 1);
    let (open, wait) = gate();
    pool.call_in_thread(move || {
        let _ = wait.lock().unwrap().recv();
    })
    .unwrap();
    let (sender, receiver) = mpsc::channel();
    for n in 0..5 {
        let sender = sender.clone();
        pool.call_in_thread(move || sender.send(n).unwrap())
            .unwrap();
    }
    drop(sender);
    open.send(()).unwrap();
    pool.stop(StopMode::FinishQueued);
    assert_eq!(receiver.iter().collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
}

#[test]
fn stop_drop_queued_drops_unstarted_jobs() {
    let pool = ThreadPool::new("tp-drop", 0, 1);
    let (open, wait) = gate();
    let (started, is_started) = mpsc::channel();
    pool.call_in_thread(move || {
        started.send(()).unwrap();
        let _ = wait.lock().unwrap().recv();
    })
    .unwrap();
    is_started.recv().unwrap();
    let (sender, receiver) = mpsc::channel();
    for n in 0..5 {
        let sender = sender.clone();
        pool.call_in_thread(move || sender.send(n).unwrap())
            .unwrap();
    }
    drop(sender);
    let stopper = {
        let pool = pool.clone();
        std::thread::spawn(move || pool.stop(StopMode::DropQueued))
    };
    wait_until(|| pool.stats().queued == 0);
    open.send(()).unwrap();
    stopper.join().unwrap();
    assert_eq!(receiver.iter().count(), 0);
    assert_eq!(pool.stats().completed, 1);
}

#[test]
fn stop_drop_queued_drops_the_function_of_a_queued_deferred_job() {
    let reactor = Reactor::new().unwrap();
    let pool = ThreadPool::new("tp-drop-deferred", 0, 1);
    let (open, wait) = gate();
    let (started, is_started) = mpsc::channel();
    pool.call_in_thread(move || {
        started.send(()).unwrap();
        let _ = wait.lock().unwrap().recv();
    })
    .unwrap();
    is_started.recv().unwrap();
    let (sender, receiver) = mpsc::channel::<()>();
    let deferred = defer_to_thread_pool(&reactor, &pool, move || drop(sender));
    let stopper = {
        let pool = pool.clone();
        std::thread::spawn(move || pool.stop(StopMode::DropQueued))
    };
    wait_until(|| pool.stats().queued == 0);
    open.send(()).unwrap();
    stopper.join().unwrap();
    // The function (and the sender it holds) is gone, though its Deferred
    // is still waiting.
    assert_eq!(
        receiver.recv_timeout(LIMIT),
        Err(mpsc::RecvTimeoutError::Disconnected)
    );
    drop(deferred);
}

#[test]
fn work_after_stop_is_refused() {
    let pool = ThreadPool::new("tp-refuse", 0, 1);
    pool.stop(StopMode::FinishQueued);
    assert!(pool.is_stopped());
    assert_eq!(pool.call_in_thread(|| {}), Err(PoolStopped));
}

#[test]
fn dropping_the_last_clone_stops_and_joins_the_pool() {
    let pool = ThreadPool::new("tp-dropped", 2, 2);
    let (sender, receiver) = mpsc::channel();
    let ends = Ends::default();
    for _ in 0..2 {
        let (sender, ends) = (sender.clone(), ends.clone());
        pool.call_in_thread(move || {
            ends.count_this_thread();
            sender.send(thread_tid()).unwrap();
        })
        .unwrap();
    }
    let tids: Vec<String> = receiver.iter().take(2).collect();
    drop(pool);
    // (Both jobs may have run on one worker.)
    assert!(
        ends.all_ended().0,
        "every worker ended before drop returned"
    );
    wait_until(|| tids.iter().all(|tid| !thread_alive(tid)));
}

#[test]
fn stop_from_a_worker_joins_the_others_without_deadlock() {
    let pool = ThreadPool::new("tp-self", 2, 2);
    let (sender, receiver) = mpsc::channel();
    let inside = pool.clone();
    pool.call_in_thread(move || {
        inside.stop(StopMode::FinishQueued);
        sender.send(()).unwrap();
    })
    .unwrap();
    receiver.recv_timeout(LIMIT).unwrap();
    wait_until(|| pool.stats().workers == 0);
}
