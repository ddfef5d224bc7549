//! Deferreds fired from threads: `defer_to_thread` and the reactor's own
//! pool, cancelling, failures, and what shutdown does to work in flight.

use super::*;

#[test]
fn defer_to_thread_panic_becomes_a_panicked_failure() {
    let reactor = Reactor::new().unwrap();
    let result = outcome(reactor.defer_to_thread(|| -> u32 { panic!("worker exploded") }));
    turn_until(&reactor, LIMIT, || result.borrow().is_some());
    let failure = result.borrow_mut().take().unwrap().unwrap_err();
    let panicked = failure
        .downcast_ref::<Panicked>()
        .expect("a Panicked failure");
    assert!(panicked.message.contains("worker exploded"));
    stop_and_finish(&reactor);
}

#[test]
fn defer_to_thread_result_error_fails_the_deferred() {
    let reactor = Reactor::new().unwrap();
    let result = outcome(reactor.defer_to_thread_result(|| "x".parse::<u32>().map(|n| n + 1)));
    turn_until(&reactor, LIMIT, || result.borrow().is_some());
    let failure = result.borrow_mut().take().unwrap().unwrap_err();
    assert!(failure.is::<std::num::ParseIntError>());
    stop_and_finish(&reactor);
}

#[test]
fn cancelling_before_a_worker_starts_skips_the_function() {
    let reactor = Reactor::new().unwrap();
    let pool = ThreadPool::new("tp-cancel", 0, 1);
    let (open, wait) = gate();
    pool.call_in_thread(move || {
        let _ = wait.lock().unwrap().recv();
    })
    .unwrap();
    let (ran, did_run) = mpsc::channel::<()>();
    let deferred = defer_to_thread_pool(&reactor, &pool, move || ran.send(()).unwrap());
    deferred.cancel();
    let result = outcome(deferred);
    assert!(
        result
            .borrow()
            .as_ref()
            .unwrap()
            .as_ref()
            .unwrap_err()
            .is::<Cancelled>()
    );
    open.send(()).unwrap();
    pool.stop(StopMode::FinishQueued);
    assert!(did_run.try_recv().is_err());
    assert_eq!(reactor.thread_results().len(), 0);
}

#[test]
fn defer_to_thread_pool_runs_on_the_given_pool() {
    let reactor = Reactor::new().unwrap();
    let pool = ThreadPool::new("tp-given", 0, 1);
    let result = outcome(defer_to_thread_pool(&reactor, &pool, || {
        std::thread::current().name().map(str::to_owned)
    }));
    turn_until(&reactor, LIMIT, || result.borrow().is_some());
    let name = result.borrow_mut().take().unwrap().unwrap();
    assert_eq!(name.as_deref(), Some("tp-given-1"));
    stop_and_finish(&reactor);
}

#[test]
fn a_stopped_pool_fails_the_deferred_at_once() {
    let reactor = Reactor::new().unwrap();
    let pool = ThreadPool::new("tp-stopped", 0, 1);
    pool.stop(StopMode::DropQueued);
    let result = outcome(defer_to_thread_pool(&reactor, &pool, || 1));
    let failure = result.borrow_mut().take().unwrap().unwrap_err();
    assert!(failure.is::<PoolStopped>());
}

#[test]
fn the_reactor_pool_is_made_on_first_use_with_twisted_bounds() {
    let reactor = Reactor::new().unwrap();
    assert!(ReactorThreads::of(&reactor).pool.borrow().is_none());
    let pool = reactor.thread_pool();
    let stats = pool.stats();
    assert_eq!((stats.min, stats.max, stats.workers), (0, 10, 0));
    assert_eq!(pool.name(), REACTOR_POOL_NAME);
    assert_eq!(reactor.thread_pool().name(), pool.name());
}

#[test]
fn the_reactor_pool_is_joined_when_the_reactor_finishes() {
    let reactor = Reactor::new().unwrap();
    let pool = reactor.thread_pool();
    pool.adjust(3, 10);
    let tids = Arc::new(crate::sync::Mutex::new(Vec::new()));
    let ends = Ends::default();
    let mut pending = Vec::new();
    for _ in 0..3 {
        let (tids, ends) = (tids.clone(), ends.clone());
        pending.push(outcome(reactor.defer_to_thread(move || {
            ends.count_this_thread();
            tids.lock().unwrap().push(thread_tid());
            std::thread::sleep(Duration::from_millis(20));
        })));
    }
    turn_until(&reactor, LIMIT, || {
        pending.iter().all(|p| p.borrow().is_some())
    });
    let tids = tids.lock().unwrap().clone();
    assert_eq!(tids.len(), 3);
    assert!(tids.iter().all(|tid| thread_alive(tid)));
    stop_and_finish(&reactor);
    assert!(
        ends.all_ended().0,
        "every worker ended before the reactor finished"
    );
    wait_until(|| tids.iter().all(|tid| !thread_alive(tid)));
    assert!(pool.is_stopped());
    assert_eq!(pool.stats().workers, 0);
}

#[test]
fn work_still_running_at_shutdown_fails_its_deferred_with_stopped() {
    let reactor = Reactor::new().unwrap();
    let (started, is_started) = mpsc::channel();
    let result = outcome(reactor.defer_to_thread(move || {
        started.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        7
    }));
    reactor.start().unwrap();
    is_started.recv_timeout(LIMIT).unwrap();
    stop_and_finish(&reactor);
    let failure = result.borrow_mut().take().unwrap().unwrap_err();
    assert!(failure.is::<ReactorError>());
}

#[test]
fn call_in_thread_after_shutdown_is_refused() {
    let reactor = Reactor::new().unwrap();
    reactor.call_in_thread(|| {}).unwrap();
    stop_and_finish(&reactor);
    assert_eq!(reactor.call_in_thread(|| {}), Err(PoolStopped));
    let late = outcome(reactor.defer_to_thread(|| 1));
    assert!(
        late.borrow_mut()
            .take()
            .unwrap()
            .unwrap_err()
            .is::<PoolStopped>()
    );
}
