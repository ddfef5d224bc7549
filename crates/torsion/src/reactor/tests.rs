use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::test_support::{entries, log, ms, push, stop_after};
use super::*;
use crate::error::{Cancelled, Panicked};
use crate::testing::log_capture::LogCapture;

#[test]
fn run_returns_after_stop() {
    let reactor = Reactor::new().unwrap();
    stop_after(&reactor, ms(1));
    reactor.run().unwrap();
    assert!(reactor.is_finished());
    assert!(!reactor.is_running());
}

#[test]
fn stop_when_not_running_is_not_running() {
    let reactor = Reactor::new().unwrap();
    assert_eq!(reactor.stop(), Err(ReactorError::NotRunning));
    stop_after(&reactor, ms(1));
    reactor.run().unwrap();
    assert_eq!(reactor.stop(), Err(ReactorError::NotRunning));
}

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
fn run_twice_is_not_restartable() {
    let reactor = Reactor::new().unwrap();
    stop_after(&reactor, ms(1));
    reactor.run().unwrap();
    assert_eq!(reactor.run(), Err(ReactorError::NotRestartable));
}

#[test]
fn run_while_running_is_already_running() {
    let reactor = Reactor::new().unwrap();
    let nested = Rc::new(Cell::new(None));
    let (r, n) = (reactor.clone(), nested.clone());
    reactor.call_later(ms(1), move || {
        n.set(Some(r.run()));
        r.stop().unwrap();
    });
    reactor.run().unwrap();
    assert_eq!(nested.get(), Some(Err(ReactorError::AlreadyRunning)));
}

#[test]
fn call_when_running_before_run_runs_after_startup() {
    let reactor = Reactor::new().unwrap();
    let seen_running = Rc::new(Cell::new(None));
    let (r, seen) = (reactor.clone(), seen_running.clone());
    let id = reactor.call_when_running(move || {
        seen.set(Some(r.is_running()));
        r.stop().unwrap();
    });
    assert!(id.is_some());
    reactor.run().unwrap();
    assert_eq!(seen_running.get(), Some(true));
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
fn timers_fire_in_deadline_order() {
    let reactor = Reactor::new().unwrap();
    let order = log();
    for (delay, name) in [(20, "c"), (5, "a"), (10, "b")] {
        let o = order.clone();
        reactor.call_later(ms(delay), move || push(&o, name));
    }
    stop_after(&reactor, ms(30));
    reactor.run().unwrap();
    assert_eq!(entries(&order), ["a", "b", "c"]);
}

#[test]
fn timer_fires_no_earlier_than_its_delay() {
    let reactor = Reactor::new().unwrap();
    let fired_after = Rc::new(Cell::new(None));
    let started = Instant::now();
    let (r, f) = (reactor.clone(), fired_after.clone());
    reactor.call_later(ms(20), move || {
        f.set(Some(started.elapsed()));
        r.stop().unwrap();
    });
    reactor.run().unwrap();
    assert!(fired_after.get().unwrap() >= ms(20));
}

#[test]
fn zero_delay_call_scheduled_from_a_timer_runs_on_the_next_turn() {
    let reactor = Reactor::new().unwrap();
    let order = log();
    let (left, mut right) = UnixStream::pair().unwrap();
    left.set_nonblocking(true).unwrap();
    right.set_nonblocking(true).unwrap();
    let o = order.clone();
    let left = Rc::new(left);
    let watch = reactor
        .add_reader(left.clone(), move |_| {
            let mut buffer = [0u8; 16];
            let mut reader = &*left;
            while reader.read(&mut buffer).is_ok_and(|n| n > 0) {}
            push(&o, "io");
        })
        .unwrap();
    let (r, o) = (reactor.clone(), order.clone());
    reactor.call_later(ms(5), move || {
        right.write_all(b"x").unwrap();
        push(&o, "timer");
        let (r2, o2) = (r.clone(), o.clone());
        r.call_later(Duration::ZERO, move || {
            push(&o2, "zero-delay");
            r2.stop().unwrap();
        });
        // Same batch of due timers? Must not be.
        push(&o, "timer end");
        drop(right);
    });
    reactor.run().unwrap();
    let _ = watch;
    assert_eq!(entries(&order), ["timer", "timer end", "io", "zero-delay"]);
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
fn cancelled_timer_does_not_fire() {
    let reactor = Reactor::new().unwrap();
    let call = reactor.call_later(ms(1), || panic!("cancelled timer ran"));
    call.cancel().unwrap();
    stop_after(&reactor, ms(5));
    reactor.run().unwrap();
}

#[test]
fn call_from_thread_from_8_threads_keeps_per_thread_order() {
    const THREADS: usize = 8;
    const CALLS: usize = 10_000;
    thread_local! {
        static SEEN: RefCell<Vec<Vec<usize>>> = const { RefCell::new(Vec::new()) };
    }
    SEEN.with(|seen| *seen.borrow_mut() = vec![Vec::new(); THREADS]);
    let reactor = Reactor::new().unwrap();
    let reactor_thread = std::thread::current().id();
    let workers: Vec<_> = (0..THREADS)
        .map(|thread| {
            let handle = reactor.handle();
            std::thread::spawn(move || {
                for index in 0..CALLS {
                    handle
                        .call_from_thread(move |r| {
                            assert_eq!(std::thread::current().id(), reactor_thread);
                            let total = SEEN.with(|seen| {
                                let mut seen = seen.borrow_mut();
                                seen[thread].push(index);
                                seen.iter().map(Vec::len).sum::<usize>()
                            });
                            if total == THREADS * CALLS {
                                r.stop().unwrap();
                            }
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    stop_after(&reactor, Duration::from_secs(30));
    reactor.run().unwrap();
    for worker in workers {
        worker.join().unwrap();
    }
    SEEN.with(|seen| {
        for per_thread in seen.borrow().iter() {
            assert_eq!(per_thread.len(), CALLS, "none lost");
            assert!(
                per_thread.windows(2).all(|pair| pair[0] < pair[1]),
                "FIFO per thread"
            );
        }
    });
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
fn handle_stop_from_another_thread_stops_the_reactor() {
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let worker = std::thread::spawn(move || handle.stop());
    reactor.run().unwrap();
    worker.join().unwrap().unwrap();
    assert!(reactor.is_finished());
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
fn spawn_runs_a_future_and_its_deferred_fires() {
    let reactor = Reactor::new().unwrap();
    let result = Rc::new(Cell::new(None));
    let (r, out) = (reactor.clone(), result.clone());
    let (gate, opener) = Deferred::<u32>::new();
    let spawned = reactor.spawn(async move {
        let n = gate.await?;
        Ok::<u32, Failure>(n * 2)
    });
    drop(spawned.map(move |n| {
        out.set(Some(n));
        r.stop().unwrap();
    }));
    reactor.call_later(ms(1), move || opener.resolve(21));
    reactor.run().unwrap();
    assert_eq!(result.get(), Some(42));
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
fn waker_used_from_another_thread_wakes_the_task() {
    use std::future::poll_fn;
    use std::task::Poll as TaskPoll;

    let reactor = Reactor::new().unwrap();
    let (waker_tx, waker_rx) = mpsc::channel::<std::task::Waker>();
    let released = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = released.clone();
    let spawned = reactor.spawn(async move {
        poll_fn(|cx| {
            if seen.load(std::sync::atomic::Ordering::SeqCst) {
                TaskPoll::Ready(Ok::<(), Failure>(()))
            } else {
                let _ = waker_tx.send(cx.waker().clone());
                TaskPoll::Pending
            }
        })
        .await
    });
    let worker = std::thread::spawn(move || {
        let waker = waker_rx.recv().unwrap();
        released.store(true, std::sync::atomic::Ordering::SeqCst);
        waker.wake();
    });
    let r = reactor.clone();
    drop(spawned.map(move |()| r.stop().unwrap()));
    stop_after(&reactor, Duration::from_secs(5));
    let started = Instant::now();
    reactor.run().unwrap();
    worker.join().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "woken, not stopped by the guard timer"
    );
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
fn finishing_cancels_pending_timers() {
    let reactor = Reactor::new().unwrap();
    let call = reactor.call_later(Duration::from_secs(60), || {});
    stop_after(&reactor, ms(1));
    reactor.run().unwrap();
    assert!(!call.active());
    assert_eq!(reactor.stats().pending_calls, 0);
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
