use std::cell::{Cell, RefCell};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::test_support::{ms, stop_after};
use super::*;
use crate::error::{Cancelled, Panicked};
use crate::testing::log_capture::LogCapture;
use mio::Interest;

#[test]
fn stop_twice_while_stopping_is_not_running() {
    let reactor = Reactor::new().unwrap();
    let second = Rc::new(Cell::new(None));
    let (r, s) = (reactor.clone(), second.clone());
    reactor.call_later(ms(1), move || {
        r.stop().unwrap();
        s.set(Some(r.stop()));
    });
    reactor.run().unwrap();
    assert_eq!(second.get(), Some(Err(ReactorError::NotRunning)));
}

#[test]
fn call_when_running_while_running_runs_at_once() {
    let reactor = Reactor::new().unwrap();
    let ran_inline = Rc::new(Cell::new(false));
    let (r, ran) = (reactor.clone(), ran_inline.clone());
    reactor.call_later(Duration::ZERO, move || {
        let flag = ran.clone();
        let id = r.call_when_running(move || flag.set(true));
        assert!(id.is_none());
        assert!(ran.get(), "ran inside call_when_running");
        r.stop().unwrap();
    });
    reactor.run().unwrap();
    assert!(ran_inline.get());
}

#[test]
fn panic_in_a_timed_call_is_logged_and_later_timers_still_fire() {
    let reactor = Reactor::new().unwrap();
    reactor.call_later(ms(1), || panic!("timer exploded"));
    let later = Rc::new(Cell::new(false));
    let (r, l) = (reactor.clone(), later.clone());
    reactor.call_later(ms(5), move || {
        l.set(true);
        r.stop().unwrap();
    });
    let logs = LogCapture::new();
    logs.run(|| reactor.run().unwrap());
    assert!(later.get());
    assert!(logs.text().contains("timer exploded"), "{}", logs.text());
    assert!(logs.text().contains("timed call"));
}

#[test]
fn call_from_thread_after_the_reactor_finished_is_stopped() {
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    stop_after(&reactor, ms(1));
    reactor.run().unwrap();
    assert!(handle.is_closed());
    assert_eq!(handle.call_from_thread(|_| {}), Err(ReactorError::Stopped));
}

#[test]
fn panic_in_a_call_from_thread_is_logged_and_the_reactor_goes_on() {
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    handle
        .call_from_thread(|_| panic!("posted call exploded"))
        .unwrap();
    handle.call_from_thread(|r| r.stop().unwrap()).unwrap();
    let logs = LogCapture::new();
    logs.run(|| reactor.run().unwrap());
    assert!(
        logs.text().contains("posted call exploded"),
        "{}",
        logs.text()
    );
}

#[test]
fn calls_from_a_thread_run_once_in_order_small_and_large() {
    use std::sync::{Arc, Mutex};
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let ran = Arc::new(Mutex::new(Vec::new()));
    let poster = {
        let ran = ran.clone();
        let handle = handle.clone();
        std::thread::spawn(move || {
            for i in 0..4u64 {
                let small = ran.clone();
                handle
                    .call_from_thread(move |_| small.lock().unwrap().push(i))
                    .unwrap();
                // Nine words, more than a call holds inline: boxed.
                let large = (ran.clone(), [i; 8]);
                handle
                    .call_from_thread(move |_| {
                        let (ran, words) = large;
                        ran.lock().unwrap().push(words.iter().sum());
                    })
                    .unwrap();
            }
            handle.call_from_thread(|r| r.stop().unwrap()).unwrap();
        })
    };
    reactor.run().unwrap();
    poster.join().unwrap();
    assert_eq!(*ran.lock().unwrap(), [0, 0, 1, 8, 2, 16, 3, 24]);
    // A call refused by the finished reactor is dropped, with what it held.
    let held = ran.clone();
    assert!(handle.call_from_thread(move |_| drop(held)).is_err());
    assert_eq!(Arc::strong_count(&ran), 1);
}

#[test]
fn cancelling_a_spawned_deferred_drops_the_future() {
    struct DropFlag(Rc<Cell<bool>>);
    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let reactor = Reactor::new().unwrap();
    let dropped = Rc::new(Cell::new(false));
    let flag = DropFlag(dropped.clone());
    let (never, _keep) = Deferred::<()>::new();
    let spawned = reactor.spawn(async move {
        let _flag = flag;
        never.await
    });
    let outcome = Rc::new(RefCell::new(None));
    let (r, o) = (reactor.clone(), outcome.clone());
    reactor.call_later(ms(2), move || {
        spawned.cancel();
        drop(spawned.both(move |result| {
            *o.borrow_mut() = Some(result.map_err(|f| f.is::<Cancelled>()));
            Ok::<(), Failure>(())
        }));
        r.stop().unwrap();
    });
    reactor.run().unwrap();
    assert!(dropped.get());
    assert_eq!(*outcome.borrow(), Some(Err(true)));
    assert_eq!(reactor.stats().tasks, 0);
}

#[test]
fn detached_tasks_run_and_one_that_panics_is_logged_and_removed() {
    let reactor = Reactor::new().unwrap();
    reactor.spawn_detached(async {
        if true {
            panic!("detached future exploded");
        }
    });
    let ran = Rc::new(Cell::new(false));
    let (r, flag) = (reactor.clone(), ran.clone());
    reactor.spawn_detached(async move {
        torsion_sleep(&r).await;
        flag.set(true);
        r.stop().unwrap();
    });
    let logs = LogCapture::new();
    logs.run(|| reactor.run().unwrap());
    assert!(ran.get());
    assert!(
        logs.text().contains("detached future exploded"),
        "{}",
        logs.text()
    );
    assert_eq!(reactor.stats().tasks, 0);
}

async fn torsion_sleep(reactor: &Reactor) {
    let _ = crate::time::defer_later(reactor, ms(2), || Ok::<_, Failure>(())).await;
}

#[test]
fn panicking_future_fails_its_deferred_and_the_reactor_keeps_running() {
    let reactor = Reactor::new().unwrap();
    let failed = Rc::new(Cell::new(false));
    let f = failed.clone();
    let spawned = reactor.spawn(async {
        if true {
            panic!("future exploded");
        }
        Ok::<(), Failure>(())
    });
    drop(spawned.or_else(move |failure| {
        f.set(failure.is::<Panicked>());
        Ok::<(), Failure>(())
    }));
    let later = Rc::new(Cell::new(false));
    let (r, l) = (reactor.clone(), later.clone());
    reactor.call_later(ms(2), move || {
        l.set(true);
        r.stop().unwrap();
    });
    let logs = LogCapture::new();
    logs.run(|| reactor.run().unwrap());
    assert!(failed.get());
    assert!(later.get());
    assert!(logs.text().contains("future exploded"), "{}", logs.text());
}

#[test]
fn embedding_host_loop_drives_the_reactor_with_run_once() {
    let reactor = Reactor::new().unwrap();
    reactor.start().unwrap();
    assert!(reactor.is_running());
    // The reactor's descriptor becomes readable when another thread posts.
    let mut host = mio::Poll::new().unwrap();
    let fd = reactor.as_raw_fd();
    host.registry()
        .register(&mut mio::unix::SourceFd(&fd), Token(7), Interest::READABLE)
        .unwrap();
    let ran = Rc::new(Cell::new(false));
    let handle = reactor.handle();
    std::thread::spawn(move || handle.call_from_thread(|_| {}).unwrap())
        .join()
        .unwrap();
    let mut events = Events::with_capacity(4);
    host.poll(&mut events, Some(Duration::from_secs(5)))
        .unwrap();
    assert!(events.iter().any(|event| event.token() == Token(7)));
    // Timers are honoured through next_timeout.
    let r = ran.clone();
    reactor.call_later(ms(5), move || r.set(true));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !ran.get() && Instant::now() < deadline {
        let timeout = reactor.next_timeout();
        assert!(timeout.is_some_and(|t| t <= ms(5)));
        host.poll(&mut events, timeout).unwrap();
        reactor.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert!(ran.get());
    reactor.stop().unwrap();
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert!(reactor.is_finished());
}

#[test]
fn next_timeout_is_none_when_idle_and_zero_when_work_is_posted() {
    let reactor = Reactor::new().unwrap();
    reactor.start().unwrap();
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(reactor.next_timeout(), None);
    reactor.handle().call_from_thread(|_| {}).unwrap();
    assert_eq!(reactor.next_timeout(), Some(Duration::ZERO));
}

#[test]
fn panic_in_a_deferred_callback_fired_by_a_timer_is_logged_and_later_timers_run() {
    let reactor = Reactor::new().unwrap();
    let (deferred, resolver) = Deferred::<u32>::new();
    drop(deferred.map(|_: u32| -> u32 { panic!("callback exploded on the reactor") }));
    reactor.call_later(ms(1), move || resolver.resolve(1));
    let later = Rc::new(Cell::new(false));
    let (r, l) = (reactor.clone(), later.clone());
    reactor.call_later(ms(5), move || {
        l.set(true);
        r.stop().unwrap();
    });
    let logs = LogCapture::new();
    logs.run(|| reactor.run().unwrap());
    assert!(later.get());
    assert!(
        logs.text().contains("Unhandled error in Deferred"),
        "{}",
        logs.text()
    );
    assert!(logs.text().contains("callback exploded on the reactor"));
}

/// A future that wakes itself `left` times before finishing, as a task
/// yielding to the loop does.
struct YieldTimes {
    left: u32,
}

impl Future for YieldTimes {
    type Output = Result<(), Failure>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        if self.left == 0 {
            return std::task::Poll::Ready(Ok(()));
        }
        self.left -= 1;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

#[test]
fn a_task_woken_during_a_turn_is_announced_to_a_host_loop_and_polled_next_turn() {
    let reactor = Reactor::new().unwrap();
    reactor.start().unwrap();
    let mut host = mio::Poll::new().unwrap();
    let fd = reactor.as_raw_fd();
    host.registry()
        .register(&mut mio::unix::SourceFd(&fd), Token(7), Interest::READABLE)
        .unwrap();
    let mut events = Events::with_capacity(4);
    let done = reactor.spawn(YieldTimes { left: 3 });
    for turn in 0..3 {
        let started = Instant::now();
        reactor.run_once(Some(Duration::from_secs(5))).unwrap();
        assert!(started.elapsed() < Duration::from_secs(2), "turn {turn}");
        assert!(!done.is_fired(), "turn {turn}");
        // The task woke itself inside the turn: a host loop sees it both
        // on the descriptor and in next_timeout.
        assert_eq!(reactor.next_timeout(), Some(Duration::ZERO), "turn {turn}");
        host.poll(&mut events, Some(Duration::from_secs(5)))
            .unwrap();
        assert!(
            events.iter().any(|event| event.token() == Token(7)),
            "turn {turn}"
        );
    }
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert!(done.is_fired());
    assert_eq!(reactor.next_timeout(), None);
}

#[test]
fn a_chain_of_tasks_each_awaiting_the_last_goes_on_in_one_turn() {
    let reactor = Reactor::new().unwrap();
    reactor.start().unwrap();
    let (gate, opened) = Deferred::<u32>::new();
    let first = reactor.spawn(gate);
    let second = reactor.spawn(async move { first.await.map(|n| n + 1) });
    let third = reactor.spawn(async move { second.await.map(|n| n * 10) });
    let seen = Rc::new(Cell::new(None));
    let s = seen.clone();
    drop(third.map(move |n| s.set(Some(n))));
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(seen.get(), None);
    opened.resolve(1);
    // As the callbacks of chained Deferreds run at once: each task woken
    // by the one before it is polled in the same turn.
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(seen.get(), Some(20));
    assert_eq!(reactor.next_timeout(), None);
}

#[test]
fn a_timer_scheduled_between_turns_earlier_than_all_others_wakes_a_host_loop() {
    let reactor = Reactor::new().unwrap();
    reactor.start().unwrap();
    let _later = reactor.call_later(Duration::from_secs(60), || {});
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    let mut host = mio::Poll::new().unwrap();
    let fd = reactor.as_raw_fd();
    host.registry()
        .register(&mut mio::unix::SourceFd(&fd), Token(7), Interest::READABLE)
        .unwrap();
    let mut events = Events::with_capacity(4);
    let readable = |host: &mut mio::Poll, events: &mut Events| {
        host.poll(events, Some(Duration::ZERO)).unwrap();
        events.iter().any(|event| event.token() == Token(7))
    };
    // The host waits up to a minute, as next_timeout said; a later timer
    // changes nothing, so the descriptor stays quiet.
    let _even_later = reactor.call_later(Duration::from_secs(120), || {});
    assert!(!readable(&mut host, &mut events));
    // An earlier one, scheduled from the host's own callback, wakes it.
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    reactor.call_later(ms(5), move || f.set(true));
    assert!(readable(&mut host, &mut events));
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert!(reactor.next_timeout().is_some_and(|t| t <= ms(5)));
    std::thread::sleep(ms(5));
    reactor.run_once(Some(Duration::ZERO)).unwrap();
    assert!(fired.get());
}

/// CPU time the calling thread has run (the scheduler's own account).
fn thread_cpu_time() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
    Duration::from_nanos(text.split_whitespace().next().unwrap().parse().unwrap())
}

/// Posts `f` to the reactor behind `handle` and waits for its answer, as
/// the blocking bridge does.
fn round_trip<T: Send + 'static>(
    handle: &ReactorHandle,
    f: impl FnOnce(&Reactor) -> T + Send + 'static,
) -> T {
    let (sender, receiver) = std::sync::mpsc::channel();
    handle
        .call_awaited_from_thread(move |reactor| sender.send(f(reactor)).unwrap())
        .unwrap();
    receiver.recv_timeout(Duration::from_secs(10)).unwrap()
}

/// A plain `call_from_thread` is not followed by a spin: its poster goes
/// on, and a thread streaming such calls should find the loop asleep and
/// have them run in batches. A call whose poster waits for the answer (the
/// blocking bridge's) is.
#[test]
fn only_a_call_whose_poster_waits_is_followed_by_a_spin() {
    let reactor = Reactor::new().unwrap();
    reactor.start().unwrap();
    let handle = reactor.handle();
    let spins = || reactor.inner.spin.spins.get();
    handle.call_from_thread(|_| {}).unwrap();
    reactor.run_once(Some(ms(1))).unwrap();
    assert_eq!(spins(), 0);
    handle.call_awaited_from_thread(|_| {}).unwrap();
    reactor.run_once(Some(ms(1))).unwrap();
    assert_eq!(spins(), 1);
    // Several at once came from a producer that does not wait.
    for _ in 0..2 {
        handle.call_awaited_from_thread(|_| {}).unwrap();
    }
    reactor.run_once(Some(ms(1))).unwrap();
    assert_eq!(spins(), 1);
}

/// Round trips from another thread make the loop spin before it sleeps;
/// once they stop, the loop must really sleep.
#[test]
fn a_reactor_that_spun_for_cross_thread_calls_sleeps_when_they_stop() {
    let (sender, receiver) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let reactor = Reactor::new().unwrap();
        sender.send(reactor.handle()).unwrap();
        reactor.run_with(Signals::LeaveAlone).unwrap();
    });
    let handle = receiver.recv().unwrap();
    assert_eq!(
        round_trip(&handle, Reactor::spin_before_sleep),
        DEFAULT_SPIN_BEFORE_SLEEP
    );
    for i in 0..1000 {
        assert_eq!(round_trip(&handle, move |_| i), i);
    }
    let before = round_trip(&handle, |_| thread_cpu_time());
    std::thread::sleep(Duration::from_secs(1));
    let after = round_trip(&handle, |_| thread_cpu_time());
    let idle = after - before;
    assert!(
        idle < Duration::from_millis(20),
        "an idle reactor ran {idle:?} in one second"
    );
    // With spinning off, calls still arrive.
    round_trip(&handle, |reactor| {
        reactor.set_spin_before_sleep(Duration::ZERO);
    });
    for i in 0..100 {
        assert_eq!(round_trip(&handle, move |_| i), i);
    }
    handle.stop().unwrap();
    thread.join().unwrap();
}
