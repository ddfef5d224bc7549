//! Cooperative CPU work on a real reactor keeps timers and I/O on time.

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

/// A step of CPU work: spins for `length`.
fn busy(length: Duration) {
    let end = Instant::now() + length;
    while Instant::now() < end {
        std::hint::spin_loop();
    }
}

/// One second of CPU work in 50 µs steps.
fn one_second_job() -> impl Iterator<Item = Step> {
    (0..20_000).map(|_| {
        busy(Duration::from_micros(50));
        Step::Continue
    })
}

#[test]
fn a_one_second_job_does_not_delay_a_10ms_timer_by_more_than_5ms() {
    let _turn = exclusive();
    let reactor = Reactor::new().unwrap();
    let interval = Duration::from_millis(10);
    let lateness = Rc::new(RefCell::new(Vec::new()));
    let slot = Rc::new(Cell::new(0u64));
    let started = Rc::new(Cell::new(None::<Instant>));
    let (late, s, start) = (lateness.clone(), slot.clone(), started.clone());
    let ticker = LoopingCall::with_count(reactor.clone(), move |count| {
        let now = Instant::now();
        let origin = *start.get().get_or_insert(now);
        // Slots are counted from the start: the first call is slot 0.
        s.set(s.get() + count);
        let due = origin + interval * u32::try_from(s.get() - 1).unwrap();
        late.borrow_mut()
            .push((now.saturating_duration_since(due), count));
    });
    let _ticks = ticker.start(interval, true).unwrap();
    let cooperator = Cooperator::new(reactor.clone());
    let job_time = Rc::new(Cell::new(None));
    let (r, t, job_started) = (reactor.clone(), job_time.clone(), Instant::now());
    drop(cooperator.coiterate(one_second_job()).map(move |()| {
        t.set(Some(job_started.elapsed()));
        r.stop().unwrap();
    }));
    let guard = reactor.clone();
    reactor.call_later(Duration::from_secs(20), move || {
        let _ = guard.stop();
    });
    reactor.run().unwrap();
    ticker.stop();

    let job_time = job_time.get().expect("the job finished");
    let lateness = lateness.borrow();
    let skipped = lateness.iter().filter(|(_, count)| *count > 1).count();
    let worst = lateness.iter().map(|(late, _)| *late).max().unwrap();
    assert!(
        lateness.len() >= 90,
        "ticked {} times in {job_time:?}",
        lateness.len()
    );
    assert_eq!(skipped, 0, "no 10 ms slot was skipped");
    assert!(worst < Duration::from_millis(5), "worst lateness {worst:?}");
}

#[test]
fn the_reactor_reads_a_socket_between_time_slices() {
    let _turn = exclusive();
    let reactor = Reactor::new().unwrap();
    let (reader, writer) = UnixStream::pair().unwrap();
    reader.set_nonblocking(true).unwrap();
    let read_at = Rc::new(Cell::new(None::<Instant>));
    let r = read_at.clone();
    let reader = Rc::new(reader);
    reactor
        .add_reader(reader.clone(), move |_| {
            let mut buffer = [0u8; 16];
            while (&*reader).read(&mut buffer).is_ok_and(|n| n > 0) {
                r.set(Some(Instant::now()));
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
    let written_at = Rc::new(Cell::new(None::<Instant>));
    let w = written_at.clone();
    let writer = Rc::new(writer);
    let peer = writer.clone();
    reactor.call_later(Duration::from_millis(50), move || {
        (&*peer).write_all(b"ping").unwrap();
        w.set(Some(Instant::now()));
    });
    reactor.run().unwrap();
    drop(writer);
    let written = written_at.get().expect("written during the job");
    let read = read_at.get().expect("read during the job");
    let latency = read.saturating_duration_since(written);
    assert!(
        latency < Duration::from_millis(5),
        "read {latency:?} after the write"
    );
}
