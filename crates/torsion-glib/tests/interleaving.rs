//! torsion and glib share one thread: each loop's 10 ms timer fires on
//! time (within 5 ms) while the other loop is busy with I/O.
//!
//! Each test runs a glib main loop (`torsion_glib::run`) on a fresh
//! context. A client thread keeps one loop's socket busy with round trips
//! (an echo through torsion, or through a glib fd source) while the other
//! loop's timer ticks 20 times; both loops must make progress.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use glib::{ControlFlow, IOCondition, MainContext, Priority};
use torsion::Reactor;
use torsion::net::{Protocol, Transport, factory_fn};
use torsion::testing::cpu_wait;

const TICK: Duration = Duration::from_millis(10);
const TICKS: usize = 20;
const TOLERANCE: Duration = Duration::from_millis(5);

/// Writes back what it reads, noting each read on the trail.
struct Echo {
    transport: Option<Transport>,
    trail: Trail,
}

impl Protocol for Echo {
    fn connection_made(&mut self, transport: &Transport) {
        self.transport = Some(transport.clone());
    }
    fn data_received(&mut self, data: &[u8]) {
        self.trail.lock().unwrap().push(Moment::now());
        if let Some(transport) = &self.transport {
            transport.write(data);
        }
    }
}
/// A client thread doing round trips of 1 KiB on `stream` until `stop`;
/// returns how many it made.
fn round_trips<S: Read + Write + Send + 'static>(
    mut stream: S,
    stop: Arc<AtomicBool>,
) -> JoinHandle<usize> {
    std::thread::spawn(move || {
        let block = [7u8; 1024];
        let mut back = [0u8; 1024];
        let mut trips = 0;
        while !stop.load(Ordering::SeqCst) {
            if stream.write_all(&block).is_err() || stream.read_exact(&mut back).is_err() {
                break;
            }
            trips += 1;
        }
        trips
    })
}

/// A moment on the loop thread: the wall clock, and how long the thread
/// had waited for a CPU so far, read together.
#[derive(Clone, Copy, Debug)]
struct Moment {
    wall: Instant,
    waited: Duration,
}

impl Moment {
    fn now() -> Moment {
        Moment {
            wall: Instant::now(),
            waited: cpu_wait(),
        }
    }
}

/// Every moment the loop thread did something (each I/O callback, each
/// tick), in order; shared with glib callbacks, which must be `Send`.
type Trail = Arc<Mutex<Vec<Moment>>>;

/// How late each tick was by the loops' doing. Each tick is due one TICK
/// after the last (both loops schedule it so). Its wall-clock lateness
/// counts what the loops did (work past the due time, or sleeping through
/// it) and also any time the system kept the thread waiting for a CPU,
/// which no loop can help on a machine busy with other work: that wait,
/// from the thread's last recorded moment at or before the due time until
/// the tick ran, is taken off. A tick that is early is early on any
/// machine.
fn assert_on_time(what: &str, ticks: &[Moment], trail: &[Moment]) {
    assert_eq!(ticks.len(), TICKS, "{what}: {ticks:?}");
    let mut own = Vec::new();
    let mut wall = Vec::new();
    for pair in ticks.windows(2) {
        let (previous, tick) = (pair[0], pair[1]);
        let due = previous.wall + TICK;
        assert!(
            tick.wall + TOLERANCE >= due,
            "{what}: a tick {:?} after the last",
            tick.wall - previous.wall
        );
        let before = trail
            .iter()
            .rev()
            .find(|moment| moment.wall <= due)
            .unwrap_or(&previous);
        let late = tick.wall.saturating_duration_since(due);
        own.push(late.saturating_sub(tick.waited.saturating_sub(before.waited)));
        wall.push(late);
    }
    println!("{what}: lateness {own:?} by the loops, {wall:?} by the wall clock");
    let worst = own.iter().max().unwrap();
    assert!(
        *worst <= TOLERANCE,
        "{what}: a tick {worst:?} late by the loops' doing: {own:?} (wall clock {wall:?})"
    );
}

/// Both tests keep the machine's cores busy with round trips; side by
/// side they would time each other.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[test]
fn a_glib_timeout_keeps_time_while_torsion_echoes_tcp() {
    let _alone = exclusive();
    let context = MainContext::new();
    let reactor = Reactor::new().unwrap();
    let trail = Trail::default();
    let echo_trail = trail.clone();
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0".parse().unwrap(),
            factory_fn(move |_| {
                Some(Echo {
                    transport: None,
                    trail: echo_trail.clone(),
                })
            }),
        )
        .unwrap();
    let stream = TcpStream::connect(port.tcp_address().unwrap()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let client = round_trips(stream, stop.clone());

    // glib's own 10 ms timer; after 21 ticks it stops the reactor. The
    // first is not judged: its wait began before the host loop started,
    // and the start (attaching, the startup event) is not interleaving.
    let ticks = Trail::default();
    let (fired, on_trail) = (ticks.clone(), trail.clone());
    let (handle, stopping) = (reactor.handle(), stop.clone());
    glib::timeout_source_new(TICK, None, Priority::DEFAULT, move || {
        let now = Moment::now();
        on_trail.lock().unwrap().push(now);
        let mut fired = fired.lock().unwrap();
        fired.push(now);
        if fired.len() < TICKS + 1 {
            return ControlFlow::Continue;
        }
        stopping.store(true, Ordering::SeqCst);
        let _ = handle.stop();
        ControlFlow::Break
    })
    .attach(Some(&context));
    let guard = reactor.clone();
    reactor.call_later(Duration::from_secs(10), move || {
        let _ = guard.stop();
    });
    let started = Moment::now();
    trail.lock().unwrap().push(started);

    context
        .with_thread_default(|| torsion_glib::run(&reactor))
        .unwrap()
        .unwrap();
    let trips = client.join().unwrap();
    let ticks = ticks.lock().unwrap().clone();
    assert_on_time("glib's timeout", &ticks[1..], &trail.lock().unwrap());
    // torsion served the client all along: well over one round trip per
    // tick.
    assert!(trips > TICKS * 5, "{trips} round trips through torsion");
}

#[test]
fn a_torsion_timer_keeps_time_while_glib_echoes_a_socket() {
    let _alone = exclusive();
    let context = MainContext::new();
    let reactor = Reactor::new().unwrap();
    let trail = Trail::default();
    // glib's own I/O: an fd source echoing a UNIX socket.
    let (glib_side, client_side) = UnixStream::pair().unwrap();
    client_side
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    glib_side.set_nonblocking(true).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let client = round_trips(client_side, stop.clone());
    let echoed = Arc::new(AtomicUsize::new(0));
    let (count, on_trail) = (echoed.clone(), trail.clone());
    let fd = glib_side.as_raw_fd();
    glib::unix_fd_source_new(fd, IOCondition::IN, None, Priority::DEFAULT, move |_, _| {
        on_trail.lock().unwrap().push(Moment::now());
        let mut buffer = [0u8; 4096];
        let mut socket = &glib_side;
        while let Ok(n) = socket.read(&mut buffer) {
            if n == 0 {
                return ControlFlow::Break;
            }
            // The peer reads all it wrote before writing more: this fits.
            socket.write_all(&buffer[..n]).unwrap();
            count.fetch_add(n, Ordering::SeqCst);
        }
        ControlFlow::Continue
    })
    .attach(Some(&context));

    // torsion's 10 ms timer, each tick scheduled from the last; the first
    // moment is the start.
    let ticks: Rc<RefCell<Vec<Moment>>> = Rc::default();
    fn tick(
        reactor: Reactor,
        ticks: Rc<RefCell<Vec<Moment>>>,
        trail: Trail,
        stop: Arc<AtomicBool>,
    ) {
        let r = reactor.clone();
        reactor.call_later(TICK, move || {
            let now = Moment::now();
            trail.lock().unwrap().push(now);
            ticks.borrow_mut().push(now);
            if ticks.borrow().len() < TICKS {
                tick(r, ticks, trail, stop);
            } else {
                stop.store(true, Ordering::SeqCst);
                r.stop().unwrap();
            }
        });
    }
    let r = reactor.clone();
    let (t, on_trail, s) = (ticks.clone(), trail.clone(), stop.clone());
    reactor.call_when_running(move || {
        let now = Moment::now();
        on_trail.lock().unwrap().push(now);
        t.borrow_mut().push(now);
        tick(r, t, on_trail, s);
    });
    let guard = reactor.clone();
    reactor.call_later(Duration::from_secs(10), move || {
        let _ = guard.stop();
    });

    context
        .with_thread_default(|| torsion_glib::run(&reactor))
        .unwrap()
        .unwrap();
    let trips = client.join().unwrap();
    assert_on_time("torsion's timer", &ticks.borrow(), &trail.lock().unwrap());
    assert!(trips > TICKS * 5, "{trips} round trips through glib");
    assert!(echoed.load(Ordering::SeqCst) >= trips * 1024);
}
