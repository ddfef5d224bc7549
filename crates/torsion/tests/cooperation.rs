//! Cooperative CPU work on a real reactor keeps timers and I/O on time.
//!
//! A delay is measured in the job's own work: how many of its 50 µs steps
//! the reactor ran between the moment something was due and the moment it
//! ran. That is what the reactor decides (a slice is 1 ms, about twenty
//! steps). Clocks are no measure of it on a loaded machine: the wall clock
//! counts the time the system gave to other threads (at a load average
//! above 5 on two cores, a 10 ms timer alone, with no job beside it, is
//! routinely tens of milliseconds late), and in a virtual machine even the
//! thread's CPU clock counts the time the host took the virtual CPU away
//! while the thread was on it. A count of steps holds under any load. The
//! wall-clock figures are printed beside it.

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::{Duration, Instant};

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

/// The length of one step of the jobs.
const STEP: Duration = Duration::from_micros(50);

/// The bound on a delay: 5 ms of the job's work, in steps.
const MOST_STEPS_LATE: usize = 100;

/// A step of CPU work: spins for `length`.
fn busy(length: Duration) {
    let end = Instant::now() + length;
    while Instant::now() < end {
        std::hint::spin_loop();
    }
}

/// How many of the steps on `trail` (their starts, in order) started after
/// `due`.
fn steps_since(trail: &[Instant], due: Instant) -> usize {
    trail.len() - trail.partition_point(|start| *start <= due)
}

/// `steps` steps of CPU work, each leaving its start on `trail`.
fn job(steps: usize, trail: Rc<RefCell<Vec<Instant>>>) -> impl Iterator<Item = Step> {
    (0..steps).map(move |_| {
        trail.borrow_mut().push(Instant::now());
        busy(STEP);
        Step::Continue
    })
}

#[test]
fn a_one_second_job_does_not_delay_a_10ms_timer_by_more_than_5ms() {
    let _turn = exclusive();
    let reactor = Reactor::new().unwrap();
    let interval = Duration::from_millis(10);
    let trail = Rc::new(RefCell::new(Vec::with_capacity(20_000)));
    // Per call: the job's steps since it was due, the wall clock's
    // lateness, and the slots the call stood for (more than one: slots
    // were skipped).
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
        let now = Instant::now();
        let origin = start.get().unwrap_or(now);
        start.set(Some(origin));
        // Slots are counted from the start: the first call is slot 0. A
        // call is due at the first slot it stands for: skipping a slot is
        // being late by more than the interval.
        let due = origin + interval * u32::try_from(s.get()).unwrap();
        s.set(s.get() + count);
        let steps = steps_since(&seen.borrow(), due);
        late.borrow_mut()
            .push((steps, now.saturating_duration_since(due), count));
    });
    let _ticks = ticker.start(interval, true).unwrap();
    let cooperator = Cooperator::new(reactor.clone());
    let job_time = Rc::new(Cell::new(None));
    let (r, t, job_started) = (reactor.clone(), job_time.clone(), Instant::now());
    drop(
        cooperator
            .coiterate(job(20_000, trail.clone()))
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
    let worst_steps = lateness.iter().map(|(steps, _, _)| *steps).max().unwrap();
    let worst_wall = lateness.iter().map(|(_, wall, _)| *wall).max().unwrap();
    eprintln!(
        "{} calls for {slots} slots in {job_time:?}: worst lateness {worst_steps} steps of \
         the job, {worst_wall:?} by the wall clock ({skipped} slots skipped)",
        lateness.len()
    );
    // The ticker kept time all through the job; a ticker starved by the
    // job would show as a call late by thousands of steps.
    assert!(slots >= 90, "{slots} slots in {job_time:?}");
    // Under 5 ms of the job's work, less than the interval: no slot was
    // skipped for the reactor's sake.
    assert!(
        worst_steps < MOST_STEPS_LATE,
        "worst lateness {worst_steps} steps of the job ({STEP:?} each)"
    );
}

#[test]
fn the_reactor_reads_a_socket_between_time_slices() {
    let _turn = exclusive();
    let reactor = Reactor::new().unwrap();
    let (reader, writer) = UnixStream::pair().unwrap();
    reader.set_nonblocking(true).unwrap();
    let trail = Rc::new(RefCell::new(Vec::with_capacity(4_000)));
    // When the read came, and how many steps had started by then.
    let read_at = Rc::new(Cell::new(None::<(Instant, usize)>));
    let (r, seen) = (read_at.clone(), trail.clone());
    let reader = Rc::new(reader);
    reactor
        .add_reader(reader.clone(), move |_| {
            let mut buffer = [0u8; 16];
            while (&*reader).read(&mut buffer).is_ok_and(|n| n > 0) {
                r.set(Some((Instant::now(), seen.borrow().len())));
            }
        })
        .unwrap();
    let cooperator = Cooperator::new(reactor.clone());
    let stopper = reactor.clone();
    drop(
        cooperator
            .coiterate(job(4_000, trail.clone()))
            .map(move |()| stopper.stop().unwrap()),
    );
    let written_at = Rc::new(Cell::new(None::<(Instant, usize)>));
    let (w, seen) = (written_at.clone(), trail.clone());
    let writer = Rc::new(writer);
    let peer = writer.clone();
    reactor.call_later(Duration::from_millis(50), move || {
        (&*peer).write_all(b"ping").unwrap();
        w.set(Some((Instant::now(), seen.borrow().len())));
    });
    reactor.run().unwrap();
    drop(writer);
    let (written, steps_before) = written_at.get().expect("written during the job");
    let (read, steps_by_then) = read_at.get().expect("read during the job");
    // Both ends ran on the reactor thread: the job's steps between them
    // are the reactor's own delay.
    let steps = steps_by_then - steps_before;
    let wall = read.saturating_duration_since(written);
    assert!(
        steps < MOST_STEPS_LATE,
        "read {steps} steps of the job ({STEP:?} each) after the write ({wall:?} by the \
         wall clock)"
    );
}
