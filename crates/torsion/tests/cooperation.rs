//! Cooperative CPU work on a real reactor keeps timers and I/O on time.
//!
//! A delay is measured as the reactor thread's own work: the CPU time it
//! used between the moment something was due and the moment it ran. On a
//! loaded machine the wall clock also counts the time the system gave to
//! other threads, which no reactor can help (at a load average above 5
//! on two cores, a 10 ms timer alone, with no job beside it, is routinely
//! tens of milliseconds late); the bounds here are about torsion, so they
//! hold under any load. The wall-clock figures are printed beside them.

mod common;

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::thread_cpu_time;
use torsion::Reactor;
use torsion::task::{Cooperator, Step};
use torsion::time::LoopingCall;

/// Both tests keep a core busy for up to a second while they time a
/// reactor; run side by side on a small machine they would time each other.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A step of CPU work: spins for `length`.
fn busy(length: Duration) {
    let end = Instant::now() + length;
    while Instant::now() < end {
        std::hint::spin_loop();
    }
}

/// The reactor thread's wall clock and CPU clock, read together.
#[derive(Clone, Copy, Debug)]
struct Moment {
    wall: Instant,
    cpu: Duration,
}

impl Moment {
    fn now() -> Moment {
        Moment {
            wall: Instant::now(),
            cpu: thread_cpu_time(),
        }
    }
}

/// How long the thread of `trail` worked past `due` before `now`: the CPU
/// it used since the last moment of `trail` at or before `due`. An upper
/// bound, by at most the gap between two moments of the trail (one step
/// of the job).
fn worked_past(trail: &[Moment], due: Instant, now: Moment) -> Duration {
    let before = trail.partition_point(|moment| moment.wall <= due);
    let last = trail[before
        .checked_sub(1)
        .expect("a moment before anything was due")];
    now.cpu.saturating_sub(last.cpu)
}

/// One second of CPU work in 50 µs steps, each leaving its start on
/// `trail`.
fn one_second_job(trail: Rc<RefCell<Vec<Moment>>>) -> impl Iterator<Item = Step> {
    (0..20_000).map(move |_| {
        trail.borrow_mut().push(Moment::now());
        busy(Duration::from_micros(50));
        Step::Continue
    })
}

#[test]
fn a_one_second_job_does_not_delay_a_10ms_timer_by_more_than_5ms() {
    let _turn = exclusive();
    let reactor = Reactor::new().unwrap();
    let interval = Duration::from_millis(10);
    let trail = Rc::new(RefCell::new(vec![Moment::now()]));
    // Per call: the reactor's own lateness, the wall clock's, and the
    // slots the call stood for (more than one: slots were skipped).
    let lateness = Rc::new(RefCell::new(Vec::new()));
    let slot = Rc::new(Cell::new(0u64));
    let started = Rc::new(Cell::new(None::<Instant>));
    let (late, s, start, seen) = (
        lateness.clone(),
        slot.clone(),
        started.clone(),
        trail.clone(),
    );
    let ticker = LoopingCall::with_count(reactor.clone(), move |count| {
        let now = Moment::now();
        let origin = start.get().unwrap_or(now.wall);
        start.set(Some(origin));
        // Slots are counted from the start: the first call is slot 0. A
        // call is due at the first slot it stands for: skipping a slot is
        // being late by more than the interval.
        let due = origin + interval * u32::try_from(s.get()).unwrap();
        s.set(s.get() + count);
        let own = worked_past(&seen.borrow(), due, now);
        late.borrow_mut()
            .push((own, now.wall.saturating_duration_since(due), count));
    });
    let _ticks = ticker.start(interval, true).unwrap();
    let cooperator = Cooperator::new(reactor.clone());
    let job_time = Rc::new(Cell::new(None));
    let (r, t, job_started) = (reactor.clone(), job_time.clone(), Instant::now());
    drop(
        cooperator
            .coiterate(one_second_job(trail.clone()))
            .map(move |()| {
                t.set(Some(job_started.elapsed()));
                r.stop().unwrap();
            }),
    );
    let guard = reactor.clone();
    reactor.call_later(Duration::from_secs(20), move || {
        let _ = guard.stop();
    });
    reactor.run().unwrap();
    ticker.stop();

    let job_time = job_time.get().expect("the job finished");
    let lateness = lateness.borrow();
    let slots = slot.get();
    let skipped: u64 = lateness.iter().map(|(_, _, count)| count - 1).sum();
    let worst_own = lateness.iter().map(|(own, _, _)| *own).max().unwrap();
    let worst_wall = lateness.iter().map(|(_, wall, _)| *wall).max().unwrap();
    eprintln!(
        "{} calls for {slots} slots in {job_time:?}: worst lateness {worst_own:?} of the \
         reactor's work, {worst_wall:?} by the wall clock ({skipped} slots skipped)",
        lateness.len()
    );
    // The ticker kept time all through the job; a ticker starved by the
    // job would show as a call late by the job's CPU time.
    assert!(slots >= 90, "{slots} slots in {job_time:?}");
    // Under 5 ms, less than the interval: no slot was skipped for the
    // reactor's sake.
    assert!(
        worst_own < Duration::from_millis(5),
        "worst lateness {worst_own:?} of the reactor's own work"
    );
}

#[test]
fn the_reactor_reads_a_socket_between_time_slices() {
    let _turn = exclusive();
    let reactor = Reactor::new().unwrap();
    let (reader, writer) = UnixStream::pair().unwrap();
    reader.set_nonblocking(true).unwrap();
    let read_at = Rc::new(Cell::new(None::<Moment>));
    let r = read_at.clone();
    let reader = Rc::new(reader);
    reactor
        .add_reader(reader.clone(), move |_| {
            let mut buffer = [0u8; 16];
            while (&*reader).read(&mut buffer).is_ok_and(|n| n > 0) {
                r.set(Some(Moment::now()));
            }
        })
        .unwrap();
    let cooperator = Cooperator::new(reactor.clone());
    let job = (0..4_000).map(|_| {
        busy(Duration::from_micros(50));
        Step::Continue
    });
    let stopper = reactor.clone();
    drop(
        cooperator
            .coiterate(job)
            .map(move |()| stopper.stop().unwrap()),
    );
    let written_at = Rc::new(Cell::new(None::<Moment>));
    let w = written_at.clone();
    let writer = Rc::new(writer);
    let peer = writer.clone();
    reactor.call_later(Duration::from_millis(50), move || {
        (&*peer).write_all(b"ping").unwrap();
        w.set(Some(Moment::now()));
    });
    reactor.run().unwrap();
    drop(writer);
    let written = written_at.get().expect("written during the job");
    let read = read_at.get().expect("read during the job");
    // Both ends ran on the reactor thread: its CPU clock between them is
    // the reactor's own delay.
    let latency = read.cpu.saturating_sub(written.cpu);
    let wall = read.wall.saturating_duration_since(written.wall);
    assert!(
        latency < Duration::from_millis(5),
        "read {latency:?} of the reactor's work after the write ({wall:?} by the wall clock)"
    );
}
