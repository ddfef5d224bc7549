//! A reactor hosted by tokio on one thread: it runs to completion like
//! `run_with(Signals::LeaveAlone)`, and torsion's callbacks and tokio's
//! tasks both make progress, each loop's timers on time while the other
//! does I/O.

mod support;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use torsion::error::ReactorError;
use torsion::testing::{cpu_wait, echo_server};
use torsion::{Failure, Reactor};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Stops `reactor` after `delay`, so no test can hang.
fn stop_after(reactor: &Reactor, delay: Duration) {
    let r = reactor.clone();
    reactor.call_later(delay, move || {
        let _ = r.stop();
    });
}

#[test]
fn block_on_reactor_runs_startup_to_shutdown_and_returns() {
    let reactor = Reactor::new().unwrap();
    let phases = Rc::new(RefCell::new(Vec::new()));
    let seen = phases.clone();
    reactor.call_when_running(move || seen.borrow_mut().push("running"));
    let seen = phases.clone();
    reactor.add_system_event_trigger(
        torsion::reactor::Phase::After,
        torsion::reactor::SystemEvent::Shutdown,
        move || seen.borrow_mut().push("after shutdown"),
    );
    stop_after(&reactor, ms(5));
    torsion_tokio::block_on_reactor(&reactor).unwrap();
    assert!(reactor.is_finished());
    assert_eq!(*phases.borrow(), ["running", "after shutdown"]);
}

#[test]
fn a_reactor_runs_once_under_tokio_as_on_its_own() {
    let reactor = Reactor::new().unwrap();
    stop_after(&reactor, ms(1));
    torsion_tokio::block_on_reactor(&reactor).unwrap();
    let again = torsion_tokio::block_on_reactor(&reactor).unwrap_err();
    assert!(matches!(
        again,
        torsion_tokio::Error::Reactor(ReactorError::NotRestartable)
    ));
}

#[test]
fn run_outside_a_runtime_is_an_error_not_a_panic() {
    let reactor = Reactor::new().unwrap();
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut running = std::pin::pin!(torsion_tokio::run(&reactor));
    match running.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(Err(error)) => assert!(error.is_no_runtime(), "{error}"),
        other => panic!("expected an error, got {other:?}"),
    }
    assert!(!reactor.is_running());
}

#[test]
fn block_on_reactor_inside_a_runtime_is_an_error_not_a_panic() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let reactor = Reactor::new().unwrap();
    let error = runtime
        .block_on(async { torsion_tokio::block_on_reactor(&reactor) })
        .unwrap_err();
    assert!(
        matches!(error, torsion_tokio::Error::InsideRuntime),
        "{error}"
    );
    assert!(!reactor.has_started());
}

#[test]
fn a_tokio_task_scheduling_a_torsion_timer_between_turns_is_not_kept_waiting() {
    // The host sleeps until the reactor's next deadline (60 s away here);
    // a timer a tokio task adds meanwhile must fire on time all the same.
    let reactor = Reactor::new().unwrap();
    reactor.call_later(Duration::from_secs(60), || {});
    let fired = Rc::new(Cell::new(None));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    let (r, seen) = (reactor.clone(), fired.clone());
    local.spawn_local(async move {
        tokio::time::sleep(ms(5)).await;
        let start = Instant::now();
        let stopper = r.clone();
        r.call_later(ms(10), move || {
            seen.set(Some(start.elapsed()));
            stopper.stop().unwrap();
        });
    });
    stop_after(&reactor, Duration::from_secs(10));
    local
        .block_on(&runtime, torsion_tokio::run(&reactor))
        .unwrap();
    let took = fired.get().expect("the timer fired");
    // Without the wake-up it would wait for the 60 s timer's deadline;
    // the precise figure is the next tests' business.
    assert!(took >= ms(10) && took < ms(100), "{took:?}");
}

#[test]
fn a_tokio_task_can_stop_the_reactor() {
    let reactor = Reactor::new().unwrap();
    let r = reactor.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    local.spawn_local(async move {
        tokio::time::sleep(ms(5)).await;
        r.stop().unwrap();
    });
    let start = Instant::now();
    local
        .block_on(&runtime, torsion_tokio::run(&reactor))
        .unwrap();
    assert!(start.elapsed() < Duration::from_secs(1));
}

#[test]
fn a_host_dropped_mid_run_leaves_wake_ups_to_the_descriptor_again() {
    let reactor = Reactor::new().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // While hosted, this thread's wake-ups go to the host task; the host is
    // dropped with the reactor still running (`run`'s future given up).
    tokio::task::LocalSet::new().block_on(&runtime, async {
        let hosted = tokio::time::timeout(ms(20), torsion_tokio::run(&reactor)).await;
        assert!(hosted.is_err(), "the reactor was still running");
    });
    // Another host watching the descriptor must now hear this thread's
    // work: a stop made here.
    let fd = reactor.poller_fd().unwrap();
    runtime.block_on(async {
        // As `run` does: an OwnedFd the AsyncFd owns cannot close under it.
        #[allow(deprecated)]
        let watched =
            tokio::io::unix::AsyncFd::with_interest(fd, tokio::io::Interest::READABLE).unwrap();
        let quiet = tokio::time::timeout(ms(20), watched.readable()).await;
        assert!(quiet.is_err(), "nothing was pending yet");
        reactor.stop().unwrap();
        let heard = tokio::time::timeout(Duration::from_secs(5), watched.readable()).await;
        assert!(heard.is_ok(), "the stop made the descriptor readable");
    });
}

#[test]
fn torsion_code_inside_tokio_uses_tokio_sockets_and_timers_directly() {
    let reactor = Reactor::new().unwrap();
    let address = echo_server(&reactor);
    let r = reactor.clone();
    let echoed = reactor.spawn(async move {
        // A !Send future run by torsion's executor, using tokio.
        tokio::time::sleep(ms(2)).await;
        let mut stream = tokio::net::TcpStream::connect(address).await?;
        stream.write_all(b"through tokio").await?;
        let mut back = [0u8; 13];
        stream.read_exact(&mut back).await?;
        r.stop()?;
        Ok::<_, Failure>(back)
    });
    stop_after(&reactor, Duration::from_secs(10));
    let result = Rc::new(RefCell::new(None));
    let keep = result.clone();
    drop(echoed.both(move |outcome| {
        *keep.borrow_mut() = Some(outcome.map_err(|f| f.to_string()));
        Ok::<(), Failure>(())
    }));
    torsion_tokio::block_on_reactor(&reactor).unwrap();
    assert_eq!(
        result.borrow_mut().take().unwrap().unwrap(),
        *b"through tokio"
    );
}

/// One 10 ms timer: how long it took, and how much of that the thread
/// spent waiting for a CPU, which no loop can help on a busy machine.
#[derive(Debug, Clone, Copy)]
struct Timed {
    took: Duration,
    waited: Duration,
}

impl Timed {
    /// A timer that started at `start`, when the thread's CPU wait was
    /// `waited_before`, fires now.
    fn since(start: Instant, waited_before: Duration) -> Timed {
        Timed {
            took: start.elapsed(),
            waited: cpu_wait().saturating_sub(waited_before),
        }
    }

    /// Not early, and at most 5 ms late by the loops' doing.
    fn on_time(&self) -> bool {
        self.took >= ms(5) && self.took.saturating_sub(self.waited) <= ms(15)
    }
}

/// What one loop's 10 ms timers measured while the other loop did I/O.
#[derive(Debug, Default)]
struct Timings {
    torsion: Vec<Timed>,
    tokio: Vec<Timed>,
    /// Round trips the torsion echo server answered for the tokio client.
    round_trips: u64,
}

/// A tokio client keeps a torsion echo server busy (I/O in both loops)
/// while each loop times ten 10 ms timers of its own, one after another.
fn time_both_loops_under_io() -> Timings {
    let reactor = Reactor::new().unwrap();
    let address = echo_server(&reactor);
    let timings = Rc::new(RefCell::new(Timings::default()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();

    // tokio: the I/O, and its own timers.
    let busy = Rc::new(Cell::new(true));
    let (still_busy, tally) = (busy.clone(), timings.clone());
    local.spawn_local(async move {
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let mut back = [0u8; 64];
        while still_busy.get() {
            stream.write_all(&[7u8; 64]).await.unwrap();
            stream.read_exact(&mut back).await.unwrap();
            tally.borrow_mut().round_trips += 1;
        }
    });
    let tally = timings.clone();
    local.spawn_local(async move {
        for _ in 0..10 {
            let (start, waited) = (Instant::now(), cpu_wait());
            tokio::time::sleep(ms(10)).await;
            tally.borrow_mut().tokio.push(Timed::since(start, waited));
        }
    });

    // torsion: its own timers, one after another; then wait for tokio's.
    fn next_timer(reactor: Reactor, timings: Rc<RefCell<Timings>>, busy: Rc<Cell<bool>>) {
        let (start, waited) = (Instant::now(), cpu_wait());
        let r = reactor.clone();
        let delay = if timings.borrow().torsion.len() < 10 {
            ms(10)
        } else {
            ms(1)
        };
        reactor.call_later(delay, move || {
            {
                let mut timings = timings.borrow_mut();
                if timings.torsion.len() < 10 {
                    timings.torsion.push(Timed::since(start, waited));
                } else if timings.tokio.len() == 10 {
                    drop(timings);
                    busy.set(false);
                    r.stop().unwrap();
                    return;
                }
            }
            next_timer(r, timings, busy);
        });
    }
    next_timer(reactor.clone(), timings.clone(), busy);
    stop_after(&reactor, Duration::from_secs(20));
    local
        .block_on(&runtime, torsion_tokio::run(&reactor))
        .unwrap();

    std::mem::take(&mut *timings.borrow_mut())
}

#[test]
fn ten_ms_timers_in_each_loop_fire_on_time_while_the_other_does_io() {
    // The time the system kept the thread from a CPU is taken off each
    // timer's lateness (`Timed::on_time`). Up to three attempts, for what
    // that does not catch (a wait just before the timer was due, whose
    // catching up spills into the next one); one with every timer of both
    // loops within 10 +- 5 ms passes. A loop that starved the other would
    // fail them all.
    let mut attempts = Vec::new();
    for _ in 0..3 {
        let timings = time_both_loops_under_io();
        assert_eq!(timings.torsion.len(), 10, "{timings:?}");
        assert_eq!(timings.tokio.len(), 10, "{timings:?}");
        assert!(timings.round_trips > 100, "{timings:?}");
        let on_time = timings
            .torsion
            .iter()
            .chain(&timings.tokio)
            .all(Timed::on_time);
        if on_time {
            return;
        }
        attempts.push(timings);
    }
    panic!("a 10 ms timer missed by more than 5 ms in every attempt: {attempts:#?}");
}
