//! A torsion reactor driven by an event loop that is not torsion's.
//!
//! ```text
//! cargo run -p torsion --example host_loop
//! cargo run -p torsion --example host_loop -- --until-signal
//! ```
//!
//! The host here is a small hand-written loop over its own `mio::Poll`,
//! standing in for any foreign loop (a GUI toolkit's, a game's, another
//! runtime's). It has work of its own: a timer ticking every 10 ms and a
//! UDP socket it reads itself. Beside that it drives a reactor that serves
//! TCP echo and ticks its own 10 ms timer, using the whole embedding API:
//!
//! ```text
//!   reactor.start()                      once, before the loop
//!   host waits on: its own sources
//!                  + reactor.as_raw_fd() (readable: I/O, posted work)
//!                  for at most min(host deadline, reactor.next_timeout())
//!   then:          reactor.run_once(Some(Duration::ZERO))
//!                  when the descriptor was readable or next_timeout is zero
//!   until:         reactor.is_finished()  (after stop() and the whole
//!                                          shutdown event)
//! ```
//!
//! A client thread echoes lines through the reactor and sends datagrams to
//! the host, then stops the reactor through its `ReactorHandle`; the host
//! turns it through the shutdown and leaves its loop. With
//! `--until-signal` the reactor takes SIGINT and SIGTERM
//! (`install_signal_handlers`) and the loop runs until one arrives.

use std::cell::{Cell, RefCell};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use torsion::net::{Protocol, Transport, factory_fn};
use torsion::reactor::{Phase, SystemEvent};
use torsion::time::LoopingCall;
use torsion::{Reactor, ReactorHandle};

/// The host's tokens for what it watches.
const REACTOR: Token = Token(0);
const HOST_UDP: Token = Token(1);
/// Both loops tick at this interval.
const TICK: Duration = Duration::from_millis(10);

/// What a run of the host loop saw.
#[derive(Debug, Default)]
pub struct Report {
    /// Lines the client got back from the reactor's echo server.
    pub echoed: usize,
    /// Datagrams the host read from its own socket.
    pub datagrams: usize,
    /// Ticks of the host's own timer.
    pub host_ticks: u32,
    /// Ticks of the reactor's `LoopingCall`.
    pub reactor_ticks: u32,
    /// The latest the host's tick ran after it was due.
    pub worst_host_lateness: Duration,
    /// As above, for the reactor's tick.
    pub worst_reactor_lateness: Duration,
    /// Whether the before-shutdown trigger ran (the whole shutdown did).
    pub shutdown_ran: bool,
}

/// Writes back what it reads.
#[derive(Default)]
struct Echo {
    transport: Option<Transport>,
}

impl Protocol for Echo {
    fn connection_made(&mut self, transport: &Transport) {
        self.transport = Some(transport.clone());
    }
    fn data_received(&mut self, data: &[u8]) {
        if let Some(transport) = &self.transport {
            transport.write(data);
        }
    }
}

/// How the reactor is told to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// The client thread stops it when it has sent `lines` lines.
    ClientDone {
        /// Lines to echo (and datagrams to send the host).
        lines: usize,
    },
    /// SIGINT or SIGTERM stops it.
    Signal,
}

/// Runs the host loop with a reactor inside it until the reactor finishes.
pub fn run(until: Until) -> std::io::Result<Report> {
    let reactor = Reactor::new()?;
    let report = Rc::new(RefCell::new(Report::default()));

    // The reactor's side: an echo server and a ticking timer.
    let echo_port = reactor.listen_tcp(
        "127.0.0.1:0".parse().unwrap(),
        factory_fn(|_| Some(Echo::default())),
    )?;
    let echo_address = echo_port.tcp_address().expect("a TCP port");
    let ticked = report.clone();
    let due = Cell::new(Instant::now());
    let ticker = LoopingCall::new(reactor.clone(), move || {
        let mut report = ticked.borrow_mut();
        report.reactor_ticks += 1;
        let late = Instant::now().saturating_duration_since(due.get());
        // The first tick runs at start; later ones are each one TICK on.
        if report.reactor_ticks > 1 {
            report.worst_reactor_lateness = report.worst_reactor_lateness.max(late);
        }
        due.set(Instant::now().max(due.get()) + TICK);
    });
    drop(
        ticker
            .start(TICK, true)
            .expect("a fresh LoopingCall starts"),
    );
    let shut = report.clone();
    reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, move || {
        shut.borrow_mut().shutdown_ran = true;
        println!("reactor: shutting down");
    });

    // The host's side: its own poller, socket and timer.
    let mut host = Poll::new()?;
    let mut udp = mio::net::UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
    let udp_address = udp.local_addr()?;
    host.registry()
        .register(&mut udp, HOST_UDP, Interest::READABLE)?;
    let reactor_fd = reactor.as_raw_fd();
    host.registry()
        .register(&mut SourceFd(&reactor_fd), REACTOR, Interest::READABLE)?;

    let client = match until {
        Until::ClientDone { lines } => {
            let handle = reactor.handle();
            Some(std::thread::spawn(move || {
                client(echo_address, udp_address, lines, handle)
            }))
        }
        Until::Signal => {
            reactor
                .install_signal_handlers()
                .map_err(std::io::Error::other)?;
            None
        }
    };

    reactor.start().expect("a new reactor starts");
    println!("host: serving echo on {echo_address}, reading datagrams on {udp_address}");
    let mut events = Events::with_capacity(64);
    let mut next_host_tick = Instant::now() + TICK;
    let mut buffer = [0u8; 1500];
    while !reactor.is_finished() {
        let host_wait = next_host_tick.saturating_duration_since(Instant::now());
        let wait = reactor
            .next_timeout()
            .map_or(host_wait, |reactor_wait| reactor_wait.min(host_wait));
        match host.poll(&mut events, Some(wait)) {
            Ok(()) => {}
            // A signal the reactor handles interrupts the wait; its pipe
            // makes the reactor's descriptor readable.
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        }
        let mut reactor_ready = false;
        for event in &events {
            match event.token() {
                REACTOR => reactor_ready = true,
                HOST_UDP => {
                    while udp.recv_from(&mut buffer).is_ok() {
                        report.borrow_mut().datagrams += 1;
                    }
                }
                _ => {}
            }
        }
        let now = Instant::now();
        if now >= next_host_tick {
            let mut report = report.borrow_mut();
            report.host_ticks += 1;
            report.worst_host_lateness = report.worst_host_lateness.max(now - next_host_tick);
            next_host_tick += TICK;
            // A host that fell far behind skips ticks rather than bursting.
            if next_host_tick < now {
                next_host_tick = now + TICK;
            }
        }
        // The descriptor is watched edge-triggered here, so the reactor
        // is also turned whenever it says it has work now (a due timer, a
        // task woken during its last turn, a poll that left events).
        if reactor_ready || reactor.next_timeout() == Some(Duration::ZERO) {
            reactor.run_once(Some(Duration::ZERO))?;
        }
    }
    println!("host: the reactor finished; leaving the loop");
    if let Some(client) = client {
        report.borrow_mut().echoed = client.join().expect("the client thread")?;
    }
    let report = report.take();
    Ok(report)
}

/// Echoes `lines` lines through the reactor and sends as many datagrams
/// to the host, then stops the reactor; returns how many lines came back.
fn client(
    echo: SocketAddr,
    host: SocketAddr,
    lines: usize,
    reactor: ReactorHandle,
) -> std::io::Result<usize> {
    let outcome = (|| {
        let stream = TcpStream::connect(echo)?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let udp = UdpSocket::bind("127.0.0.1:0")?;
        let mut echoed = 0;
        for n in 0..lines {
            let line = format!("line {n}\n");
            (&stream).write_all(line.as_bytes())?;
            udp.send_to(line.as_bytes(), host)?;
            let mut back = String::new();
            reader.read_line(&mut back)?;
            if back == line {
                echoed += 1;
            }
            // Paced, so both loops tick many times during the exchange.
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(echoed)
    })();
    // Whatever happened, the host loop must end.
    let _ = reactor.stop();
    outcome
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let until = if std::env::args().any(|arg| arg == "--until-signal") {
        Until::Signal
    } else {
        Until::ClientDone { lines: 100 }
    };
    let report = run(until)?;
    println!(
        "echoed {} lines through the reactor; the host read {} datagrams",
        report.echoed, report.datagrams
    );
    println!(
        "ticks: host {}, reactor {}; worst lateness: host {:?}, reactor {:?}",
        report.host_ticks,
        report.reactor_ticks,
        report.worst_host_lateness,
        report.worst_reactor_lateness
    );
    println!("shutdown ran: {}", report.shutdown_ran);
    Ok(())
}
