//! Services over real sockets and real timers, and the services example as
//! a real child process stopped by SIGTERM.

use std::cell::{Cell, RefCell};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

mod common;

use common::{Echo, turn_until};
use torsion::net::{Address, Backoff, Protocol, Transport, factory_fn};
use torsion::service::{ClientService, ListeningService, Service, TimerService};
use torsion::testing::{WatchedChild, stop_signals_at_default};
use torsion::{Deferred, Failure, Reactor};

const LIMIT: Duration = Duration::from_secs(10);

/// Whether the Deferred has fired, observed through a flag.
fn watch(deferred: Deferred<()>) -> Rc<Cell<bool>> {
    let fired = Rc::new(Cell::new(false));
    let flag = fired.clone();
    drop(deferred.map(move |()| flag.set(true)));
    fired
}

fn tcp(address: Option<Address>) -> SocketAddr {
    match address {
        Some(Address::Tcp(address)) => address,
        other => panic!("not a TCP address: {other:?}"),
    }
}

#[test]
fn listening_service_accepts_while_running_and_refuses_after_it_stops() {
    let reactor = Reactor::new().unwrap();
    reactor.start().unwrap();
    let built = Rc::new(Cell::new(0));
    let count = built.clone();
    let service = ListeningService::from_string(
        &reactor,
        "tcp:0:interface=127.0.0.1",
        factory_fn(move |_| {
            count.set(count.get() + 1);
            Some(Echo::default())
        }),
    )
    .unwrap();
    service.core().set_running(true);
    service.start_service().unwrap();
    let address = tcp(service.address());

    // A real client: the kernel completes its connect, the reactor serves it.
    let mut client = TcpStream::connect(address).unwrap();
    client.set_nonblocking(true).unwrap();
    client.write_all(b"ping").unwrap();
    let mut echoed = Vec::new();
    turn_until(&reactor, LIMIT, || {
        let mut buffer = [0u8; 16];
        match client.read(&mut buffer) {
            Ok(n) => echoed.extend_from_slice(&buffer[..n]),
            Err(error) if error.kind() == ErrorKind::WouldBlock => {}
            Err(error) => panic!("{error}"),
        }
        echoed == b"ping"
    });

    service.core().set_running(false);
    let stopped = watch(service.stop_service());
    turn_until(&reactor, LIMIT, || stopped.get());
    assert!(service.address().is_none());
    match TcpStream::connect(address) {
        Err(refused) => assert_eq!(refused.kind(), ErrorKind::ConnectionRefused),
        // The port is free again, and a test running beside this one may
        // have been given it: whoever answers, this service must not.
        Ok(_elsewhere) => {
            let deadline = Instant::now() + Duration::from_millis(200);
            turn_until(&reactor, LIMIT, || Instant::now() >= deadline);
        }
    }
    assert_eq!(built.get(), 1, "only the first client was served");
}

#[test]
fn listening_service_start_fails_on_an_address_in_use() {
    let reactor = Reactor::new().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let description = format!(
        "tcp:{}:interface=127.0.0.1",
        taken.local_addr().unwrap().port()
    );
    let service = ListeningService::from_string(
        &reactor,
        &description,
        factory_fn(|_| Some(Echo::default())),
    )
    .unwrap();
    let failure = service.start_service().unwrap_err();
    assert!(failure.to_string().contains("in use"), "{failure}");
}

#[test]
fn timer_service_calls_at_its_interval_on_the_reactor_and_stops() {
    let reactor = Reactor::new().unwrap();
    reactor.start().unwrap();
    let calls: Rc<RefCell<Vec<Instant>>> = Rc::new(RefCell::new(Vec::new()));
    let record = calls.clone();
    let interval = Duration::from_millis(50);
    let timer = TimerService::new(reactor.clone(), interval, move || {
        record.borrow_mut().push(Instant::now())
    });
    let started = Instant::now();
    timer.start_service().unwrap();
    turn_until(&reactor, LIMIT, || calls.borrow().len() == 5);
    let elapsed = started.elapsed();
    // Calls at 0, 50, 100, 150 and 200 ms: never early. The schedule is
    // fixed from the start, as Twisted's LoopingCall keeps it, so a call
    // made late is followed by one on time, less than an interval after
    // it: each call is checked against its own slot.
    assert!(elapsed >= interval * 4, "{elapsed:?}");
    let calls_made = calls.borrow();
    for (slot, call) in (0u32..).zip(calls_made.iter()) {
        let since_first = *call - calls_made[0];
        assert!(
            since_first + Duration::from_millis(2) >= interval * slot,
            "call {slot} came {since_first:?} after the first"
        );
    }
    drop(calls_made);
    let stopped = watch(timer.stop_service());
    assert!(stopped.get());
    let at_stop = calls.borrow().len();
    let until = Instant::now() + interval * 4;
    turn_until(&reactor, LIMIT, || Instant::now() >= until);
    assert_eq!(calls.borrow().len(), at_stop, "no call after the stop");
}

/// A server protocol that records its connection and closes the first
/// `drop_first` connections at once.
struct Dropper {
    events: Rc<RefCell<Vec<(Instant, &'static str)>>>,
    drop_it: bool,
}

impl Protocol for Dropper {
    fn connection_made(&mut self, transport: &Transport) {
        self.events.borrow_mut().push((Instant::now(), "made"));
        if self.drop_it {
            transport.lose_connection();
        }
    }
    fn data_received(&mut self, _: &[u8]) {}
    fn connection_lost(&mut self, _: Failure) {
        self.events.borrow_mut().push((Instant::now(), "lost"));
    }
}

struct Quiet;
impl Protocol for Quiet {
    fn data_received(&mut self, _: &[u8]) {}
}

fn backoff(initial: Duration) -> Backoff {
    Backoff {
        initial_delay: initial,
        max_delay: Duration::from_secs(2),
        factor: 2.0,
        jitter: 0.0,
        max_retries: None,
    }
}

#[test]
fn client_service_reconnects_with_backoff_and_stopping_closes_and_stops_retrying() {
    let reactor = Reactor::new().unwrap();
    reactor.start().unwrap();
    let events = Rc::new(RefCell::new(Vec::new()));
    let accepted = Rc::new(Cell::new(0));
    let (e, count) = (events.clone(), accepted.clone());
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0".parse().unwrap(),
            factory_fn(move |_| {
                count.set(count.get() + 1);
                Some(Dropper {
                    events: e.clone(),
                    drop_it: count.get() <= 2,
                })
            }),
        )
        .unwrap();
    let address = port.tcp_address().unwrap();
    let client = ClientService::from_string(
        &reactor,
        &format!("tcp:{}:{}", address.ip(), address.port()),
        factory_fn(|_| Some(Quiet)),
        backoff(Duration::from_millis(100)),
    )
    .unwrap();
    let connected = Rc::new(Cell::new(0));
    client.core().set_running(true);
    client.start_service().unwrap();
    turn_until(&reactor, LIMIT, || accepted.get() == 3);
    // The third connection stays up; the service hands it out.
    let c = connected.clone();
    drop(client.when_connected().map(move |_| c.set(c.get() + 1)));
    turn_until(&reactor, LIMIT, || connected.get() == 1);
    let made: Vec<Instant> = events
        .borrow()
        .iter()
        .filter(|(_, what)| *what == "made")
        .map(|(when, _)| *when)
        .collect();
    // Each loss waits initial delay × factor (the delay went back to the
    // initial one when the connection was made) before reconnecting.
    for pair in made.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap >= Duration::from_millis(190), "{gap:?}");
        assert!(gap < Duration::from_secs(2), "{gap:?}");
    }

    client.core().set_running(false);
    let stopped = watch(client.stop_service());
    turn_until(&reactor, LIMIT, || stopped.get());
    assert_eq!(
        events.borrow().last().unwrap().1,
        "lost",
        "closed by the stop"
    );
    assert!(client.transport().is_none());
    // No more attempts: a retry would have come within 200 ms.
    let until = Instant::now() + Duration::from_millis(600);
    turn_until(&reactor, LIMIT, || Instant::now() >= until);
    assert_eq!(accepted.get(), 3);
}

#[test]
fn client_service_backs_off_while_refused_and_connects_once_the_server_is_up() {
    let reactor = Reactor::new().unwrap();
    reactor.start().unwrap();
    let address = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let client = ClientService::from_string(
        &reactor,
        &format!("tcp:{}:{}", address.ip(), address.port()),
        factory_fn(|_| Some(Quiet)),
        backoff(Duration::from_millis(25)),
    )
    .unwrap();
    client.start_service().unwrap();
    // Refused attempts at 0, 50, 150 and 350 ms (delays 50, 100, 200, 400):
    // at most four in the first half second, where retrying without
    // back-off would have made dozens.
    let until = Instant::now() + Duration::from_millis(500);
    turn_until(&reactor, LIMIT, || Instant::now() >= until);
    let retries = client.retries();
    assert!((2..=4).contains(&retries), "{retries} retries");

    let up = Rc::new(Cell::new(false));
    let flag = up.clone();
    drop(client.when_connected().map(move |_| flag.set(true)));
    let _port = reactor
        .listen_tcp(address, factory_fn(|_| Some(Quiet)))
        .unwrap();
    turn_until(&reactor, LIMIT, || up.get());
    assert_eq!(client.retries(), 0, "a connection resets the count");
    let stopped = watch(client.stop_service());
    turn_until(&reactor, LIMIT, || stopped.get());
}

/// The services example, built by cargo (fresh whatever test command
/// built this test), as a command.
fn example() -> Command {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let mut build = Command::new(env!("CARGO"));
    build.args([
        "build",
        "--manifest-path",
        manifest,
        "--example",
        "services",
        "--message-format=json-render-diagnostics",
    ]);
    // What cargo set for this test describes this package, and build
    // scripts (ring's) rerun when it differs from a plain build's.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let set_for_this_test = [
            "CARGO_MANIFEST_",
            "CARGO_PKG_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
        ]
        .iter()
        .any(|prefix| name.starts_with(prefix))
            || ["CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR", "OUT_DIR"].contains(&&*name);
        if set_for_this_test {
            build.env_remove(&*name);
        }
    }
    let deps = std::env::current_exe().unwrap();
    if deps.to_string_lossy().contains("/release/") {
        build.arg("--release");
    }
    let output = build.stderr(Stdio::inherit()).output().unwrap();
    assert!(output.status.success(), "building the example failed");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let executable = stdout
        .lines()
        .filter(|line| {
            line.contains(r#""kind":["example"]"#) && line.contains(r#""name":"services""#)
        })
        .find_map(|line| {
            let start = line.find(r#""executable":""#)? + r#""executable":""#.len();
            let end = start + line[start..].find('"')?;
            Some(line[start..end].to_owned())
        })
        .expect("cargo names the example's executable");
    stop_signals_at_default(executable)
}

/// The services example started with `args`, watched.
fn start_example(args: &[&str]) -> WatchedChild {
    WatchedChild::spawn(example().args(args)).unwrap()
}

/// Waits (bounded) for the example's exit: its status, stdout lines other
/// than ticks, and stderr.
fn finish(example: WatchedChild) -> (std::process::ExitStatus, Vec<String>, String) {
    let exited = example.wait();
    let lines = exited
        .out
        .into_iter()
        .filter(|line| !line.starts_with("tick"))
        .collect();
    (exited.status, lines, exited.err.join("\n"))
}

#[test]
fn example_stops_every_service_in_reverse_on_sigterm_and_exits_zero() {
    let mut example = start_example(&["--listen", "tcp:0:interface=127.0.0.1"]);
    let listening = example.wait_for_stdout("echo listening on ");
    let address: SocketAddr = listening["echo listening on ".len()..].parse().unwrap();
    example.wait_for_stdout("started last");
    let mut client = TcpStream::connect(address).unwrap();
    client.set_read_timeout(Some(LIMIT)).unwrap();
    client.write_all(b"hello").unwrap();
    let mut echoed = [0u8; 5];
    client.read_exact(&mut echoed).unwrap();
    assert_eq!(&echoed, b"hello");

    example.signal("TERM");
    let (status, lines, stderr) = finish(example);
    assert_eq!(status.code(), Some(0), "{lines:?}\n{stderr}");
    assert_eq!(
        lines[lines.len() - 4..],
        [
            "stopped last",
            "stopped ticker",
            "stopped echo",
            "all services stopped"
        ],
        "{lines:?}"
    );
    assert!(TcpStream::connect(address).is_err(), "the port is closed");
}

#[test]
fn example_exits_non_zero_with_the_error_when_a_service_fails_to_start() {
    let example = start_example(&["--fail", "--listen", "tcp:0:interface=127.0.0.1"]);
    let (status, lines, stderr) = finish(example);
    assert_eq!(status.code(), Some(1), "{lines:?}\n{stderr}");
    assert_eq!(
        lines,
        [
            "started echo",
            "started ticker",
            "stopped ticker",
            "stopped echo"
        ]
    );
    assert!(
        stderr.contains("error: service broken failed to start"),
        "{stderr}"
    );
}
