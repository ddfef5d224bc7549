//! Cancellation crosses `.await` on a real reactor: cancelling a task
//! cancels the operation it awaits (a queued thread job, a queued database
//! interaction), the task meets `Cancelled` at its await point and may
//! still return; a Deferred dropped while awaited cancels its operation (a
//! timer leaves the queue); a task the reactor drops at shutdown cancels
//! what it awaited.

mod common;

use std::cell::{Cell, RefCell};
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::mpsc;
use std::task::Poll;
use std::time::Duration;

use common::turn_until;
use torsion::dbpool::{ConnectionPool, DbConnector};
use torsion::testing::Clock;
use torsion::threads::{StopMode, ThreadPool, defer_to_thread_pool};
use torsion::time::defer_later;
use torsion::{Deferred, Failure, Reactor};

const LIMIT: Duration = Duration::from_secs(10);

type Outcome<T> = Rc<RefCell<Option<Result<T, Failure>>>>;

fn outcome<T: 'static>(deferred: Deferred<T>) -> Outcome<T> {
    let slot: Outcome<T> = Rc::new(RefCell::new(None));
    let into = slot.clone();
    drop(deferred.both(move |result| {
        *into.borrow_mut() = Some(result);
        Ok::<(), Failure>(())
    }));
    slot
}

/// A gate a pool thread waits at until the test opens it.
fn gate() -> (mpsc::Sender<()>, mpsc::Receiver<()>) {
    mpsc::channel()
}

/// A pool of one thread, kept busy until the returned sender is used, so
/// the next job waits in its queue.
fn busy_pool(name: &str) -> (ThreadPool, mpsc::Sender<()>) {
    let pool = ThreadPool::new(name, 0, 1);
    let (open, wait) = gate();
    pool.call_in_thread(move || {
        let _ = wait.recv_timeout(LIMIT);
    })
    .unwrap();
    (pool, open)
}

/// Spawns a task that queues a job on `pool`, sets `awaiting`, awaits the
/// job and recovers from `Cancelled` with "cleaned up". The receiver hears
/// from the job if it ever runs.
fn task_awaiting_a_queued_job(
    reactor: &Reactor,
    pool: &ThreadPool,
    awaiting: Rc<Cell<bool>>,
) -> (Deferred<&'static str>, mpsc::Receiver<()>) {
    let (ran, did_run) = mpsc::channel::<()>();
    let (r, p) = (reactor.clone(), pool.clone());
    let task = reactor.spawn(async move {
        let job = defer_to_thread_pool(&r, &p, move || ran.send(()).unwrap());
        awaiting.set(true);
        match job.await {
            Err(failure) if failure.is_cancelled() => Ok::<_, Failure>("cleaned up"),
            Err(failure) => Err(failure),
            Ok(()) => Ok("the job ran"),
        }
    });
    (task, did_run)
}

/// Waits for the task's outcome, checks it recovered, lets the pool go on
/// and checks the queued job never ran.
fn assert_cleaned_up_and_the_job_never_ran(
    reactor: &Reactor,
    result: &Outcome<&'static str>,
    (pool, open): (ThreadPool, mpsc::Sender<()>),
    did_run: &mpsc::Receiver<()>,
) {
    turn_until(reactor, LIMIT, || result.borrow().is_some());
    assert_eq!(
        result.borrow_mut().take().unwrap().unwrap(),
        "cleaned up",
        "the task met Cancelled at its await and returned its own value"
    );
    open.send(()).unwrap();
    pool.stop(StopMode::FinishQueued);
    assert!(did_run.try_recv().is_err(), "the queued job never ran");
}

#[test]
fn cancelling_a_task_skips_the_queued_thread_job_it_awaits_and_the_task_still_returns() {
    let reactor = Reactor::new().unwrap();
    let (pool, open) = busy_pool("cancel-await");
    let awaiting = Rc::new(Cell::new(false));
    let (task, did_run) = task_awaiting_a_queued_job(&reactor, &pool, awaiting.clone());
    let cancel = task.cancel_handle();
    let result = outcome(task);
    turn_until(&reactor, LIMIT, || awaiting.get());
    cancel.cancel();
    assert_cleaned_up_and_the_job_never_ran(&reactor, &result, (pool, open), &did_run);
}

#[test]
fn dropping_an_awaited_defer_later_takes_its_timer_off_the_queue() {
    let reactor = Reactor::new().unwrap();
    let r = reactor.clone();
    let task = reactor.spawn(async move {
        let mut later = defer_later(&r, Duration::from_secs(60), || Ok::<_, Failure>(()));
        // Awaited once, then given up, as a select! whose other branch won.
        poll_fn(|cx| {
            assert!(Pin::new(&mut later).poll(cx).is_pending());
            Poll::Ready(())
        })
        .await;
        let queued = r.stats().pending_calls;
        drop(later);
        Ok::<_, Failure>((queued, r.stats().pending_calls))
    });
    let result = outcome(task);
    turn_until(&reactor, LIMIT, || result.borrow().is_some());
    let (queued, after) = result.borrow_mut().take().unwrap().unwrap();
    assert_eq!((queued, after), (1, 0), "the timer left the queue");
}

#[test]
fn a_defer_later_dropped_without_being_awaited_still_runs() {
    let reactor = Reactor::new().unwrap();
    let ran = Rc::new(Cell::new(false));
    let flag = ran.clone();
    drop(defer_later(&reactor, Duration::from_millis(1), move || {
        flag.set(true);
        Ok::<_, Failure>(())
    }));
    turn_until(&reactor, LIMIT, || ran.get());
}

/// Connections that are nothing: the interactions are what the test sees.
struct NoDatabase;

impl DbConnector for NoDatabase {
    type Connection = ();
    type Error = std::io::Error;

    fn connect(&self) -> Result<(), std::io::Error> {
        Ok(())
    }
}

/// A port of `d = ensureDeferred(f()); d.cancel()`: Twisted has run the
/// coroutine to its first await when `cancel` is called, so the coroutine
/// meets `CancelledError` there and may recover. torsion polls a task on
/// the next turn, so a cancel before that first poll waits for it.
#[test]
fn cancelling_a_task_before_its_first_poll_reaches_its_first_await() {
    let reactor = Reactor::new().unwrap();
    let (pool, open) = busy_pool("cancel-first-poll");
    let awaiting = Rc::new(Cell::new(false));
    let (task, did_run) = task_awaiting_a_queued_job(&reactor, &pool, awaiting.clone());
    task.cancel();
    assert!(!awaiting.get(), "cancelled before its first poll");
    let result = outcome(task);
    assert_cleaned_up_and_the_job_never_ran(&reactor, &result, (pool, open), &did_run);
    assert!(awaiting.get(), "it ran to its await");
}

#[test]
fn cancelling_a_task_drops_the_queued_database_interaction_it_awaits() {
    let reactor = Reactor::new().unwrap();
    let pool = ConnectionPool::with_limits(&reactor, NoDatabase, 0, 1);
    let (open, wait) = gate();
    let busy = outcome(pool.run_interaction(move |_: &mut ()| {
        let _ = wait.recv_timeout(LIMIT);
        Ok::<_, Failure>(())
    }));
    let (ran, did_run) = mpsc::channel::<()>();
    let awaiting = Rc::new(Cell::new(false));
    let (p, flag) = (pool.clone(), awaiting.clone());
    let task = reactor.spawn(async move {
        let interaction = p.run_interaction(move |_: &mut ()| {
            ran.send(()).unwrap();
            Ok::<_, Failure>(())
        });
        flag.set(true);
        interaction.await
    });
    let cancel = task.cancel_handle();
    let result = outcome(task);
    turn_until(&reactor, LIMIT, || awaiting.get());
    cancel.cancel();
    turn_until(&reactor, LIMIT, || result.borrow().is_some());
    assert!(
        result
            .borrow_mut()
            .take()
            .unwrap()
            .unwrap_err()
            .is_cancelled()
    );
    open.send(()).unwrap();
    turn_until(&reactor, LIMIT, || busy.borrow().is_some());
    pool.close();
    assert!(
        did_run.try_recv().is_err(),
        "the queued interaction never ran"
    );
}

#[test]
fn a_task_dropped_at_shutdown_cancels_the_deferred_it_awaits() {
    let reactor = Reactor::new().unwrap();
    let cancelled = Rc::new(Cell::new(false));
    let flag = cancelled.clone();
    let (operation, resolver) = Deferred::<()>::with_canceller(move || flag.set(true));
    drop(reactor.spawn(async move {
        operation.await?;
        Ok::<(), Failure>(())
    }));
    let r = reactor.clone();
    reactor.call_later(Duration::from_millis(1), move || r.stop().unwrap());
    reactor.run().unwrap();
    assert!(cancelled.get(), "the awaited operation was cancelled");
    assert!(resolver.is_cancelled());
}

#[test]
fn cancelling_a_task_twice_reaches_each_operation_it_awaits_in_turn() {
    let reactor = Reactor::new().unwrap();
    let (first, _first_resolver) = Deferred::<u32>::new();
    let (second, _second_resolver) = Deferred::<u32>::new();
    let stage = Rc::new(Cell::new(0));
    let seen = stage.clone();
    let task = reactor.spawn(async move {
        seen.set(1);
        let a = first.await.unwrap_or(1);
        seen.set(2);
        let b = second.await.unwrap_or(2);
        Ok::<_, Failure>(a + b)
    });
    let cancel = task.cancel_handle();
    let result = outcome(task);
    turn_until(&reactor, LIMIT, || stage.get() == 1);
    cancel.cancel();
    turn_until(&reactor, LIMIT, || stage.get() == 2);
    assert!(
        result.borrow().is_none(),
        "the task goes on after the first"
    );
    cancel.cancel();
    turn_until(&reactor, LIMIT, || result.borrow().is_some());
    assert_eq!(result.borrow_mut().take().unwrap().unwrap(), 3);
}

/// Sets its flag when dropped.
struct DropFlag(Rc<Cell<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

#[test]
fn cancelling_a_task_that_awaits_no_deferred_drops_it_and_fails_with_cancelled() {
    let reactor = Reactor::new().unwrap();
    let (started, dropped) = (Rc::new(Cell::new(false)), Rc::new(Cell::new(false)));
    let (guard, flag) = (DropFlag(dropped.clone()), started.clone());
    let task = reactor.spawn(async move {
        let _guard = guard;
        flag.set(true);
        std::future::pending::<()>().await;
        Ok::<(), Failure>(())
    });
    let cancel = task.cancel_handle();
    let result = outcome(task);
    turn_until(&reactor, LIMIT, || started.get());
    assert!(!dropped.get());
    cancel.cancel();
    assert!(dropped.get(), "the future was dropped");
    assert!(
        result
            .borrow_mut()
            .take()
            .unwrap()
            .unwrap_err()
            .is_cancelled()
    );
}

#[test]
fn a_task_that_times_out_meets_cancelled_at_its_await_and_fails_with_timed_out() {
    let reactor = Reactor::new().unwrap();
    let clock = Clock::new();
    let cancelled = Rc::new(Cell::new(false));
    let flag = cancelled.clone();
    let (operation, _resolver) = Deferred::<u32>::with_canceller(move || flag.set(true));
    let awaiting = Rc::new(Cell::new(false));
    let seen = awaiting.clone();
    let task = reactor.spawn(async move {
        seen.set(true);
        operation.await
    });
    let result = outcome(task.add_timeout(Duration::from_secs(5), &clock));
    turn_until(&reactor, LIMIT, || awaiting.get());
    clock.advance(Duration::from_secs(5));
    assert!(cancelled.get(), "the awaited operation was cancelled");
    turn_until(&reactor, LIMIT, || result.borrow().is_some());
    assert!(
        result
            .borrow_mut()
            .take()
            .unwrap()
            .unwrap_err()
            .is_timeout()
    );
}
