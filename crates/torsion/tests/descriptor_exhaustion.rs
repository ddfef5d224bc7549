//! A server out of descriptors closes the connections it cannot serve at
//! once (Twisted's reserved descriptor), says so once per episode, keeps
//! serving the connections it has, does not spin, and serves new clients
//! again once descriptors free up.
//!
//! Each test's server runs in a child process (this test binary again,
//! running the same test) started under `prlimit`, with an echo server
//! and its log on stderr; this process is the clients.

mod common;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{process_cpu, set_fd_limit};
use torsion::Reactor;
use torsion::testing::echo_server;

const SERVER_ENV: &str = "TORSION_EXHAUSTION_SERVER";
/// The descriptors of the servers that only need to run out: a few dozen
/// connections fill them.
const SMALL_LIMIT: u32 = 64;
/// How long a refused client may wait for its close.
const PROMPT_CLOSE: Duration = Duration::from_millis(200);
/// A bound on any one wait for the server, which only a broken server
/// reaches.
const PATIENCE: Duration = Duration::from_secs(10);
const WARNING: &str = "out of descriptors: closing new connections at once";
const RECOVERY: &str = "accepting again";

/// The echo server in its child process; killed when the test ends,
/// however it ends.
struct Server {
    child: Child,
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// In the parent, starts the server as a child running `test` with
    /// `nofile` descriptors. In that child, serves and returns `None`.
    fn start_unless_child(test: &str, nofile: u32) -> Option<Server> {
        if std::env::var(SERVER_ENV).is_ok() {
            serve();
            return None;
        }
        set_fd_limit(4_096);
        let mut child = Command::new("prlimit")
            .arg(format!("--nofile={nofile}:{nofile}"))
            .arg(std::env::current_exe().unwrap())
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env(SERVER_ENV, "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("prlimit (util-linux) runs the server with few descriptors");
        let log = collect_log(child.stderr.take().unwrap());
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut server = Server {
            child,
            port: 0,
            log,
        };
        server.port = loop {
            let line = lines.next().expect("the server reports its port").unwrap();
            // libtest may have started the line with the test's name.
            if let Some((_, port)) = line.rsplit_once("port ") {
                break port.trim().parse().unwrap();
            }
        };
        Some(server)
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream
    }

    /// Connects and sends a byte: `Some` with the stream once its echo
    /// came back, `None` with how long the close took when the server
    /// closed it unserved.
    fn try_serve(&self) -> Result<TcpStream, Duration> {
        let mut stream = self.connect();
        let sent = Instant::now();
        let _ = stream.write_all(b"a");
        match read_byte(&mut stream) {
            Some(_) => Ok(stream),
            None => Err(sent.elapsed()),
        }
    }

    /// Connections that the server serves, until it has no descriptor
    /// left for one more (that one is closed, and counted as refused).
    fn fill(&self) -> Vec<TcpStream> {
        let mut served = Vec::new();
        while let Ok(stream) = self.try_serve() {
            served.push(stream);
            assert!(served.len() <= SMALL_LIMIT as usize, "never ran out");
        }
        served
    }

    /// Waits until a log line containing `text` has appeared `count` times.
    fn wait_for_log(&self, text: &str, count: usize) {
        let deadline = Instant::now() + PATIENCE;
        while self.log_lines(text).len() < count {
            assert!(
                Instant::now() < deadline,
                "{text:?} not logged {count} times: {:?}",
                self.log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn log_lines(&self, text: &str) -> Vec<String> {
        let log = self.log.lock().unwrap();
        log.iter()
            .filter(|line| line.contains(text))
            .cloned()
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server's stderr, line by line, as it arrives.
fn collect_log(stderr: ChildStderr) -> Arc<Mutex<Vec<String>>> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let filled = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            filled.lock().unwrap().push(line);
        }
    });
    log
}

/// One byte from `stream`; `None` when the peer closed it (end of file or
/// reset).
fn read_byte(stream: &mut TcpStream) -> Option<u8> {
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(1) => Some(byte[0]),
        Ok(_) => None,
        Err(error) if error.kind() == ErrorKind::ConnectionReset => None,
        Err(error) => panic!("no answer from the server: {error}"),
    }
}

/// Closes a served connection and waits until the server has closed its
/// end, so that the server's descriptor is free when this returns.
fn release(mut stream: TcpStream) {
    stream.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_byte(&mut stream), None);
}

fn assert_echoes(stream: &mut TcpStream) {
    stream.write_all(b"still there?").unwrap();
    let mut reply = [0u8; 12];
    stream.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"still there?");
}

#[test]
fn a_client_refused_for_lack_of_descriptors_is_closed_promptly() {
    let test = "a_client_refused_for_lack_of_descriptors_is_closed_promptly";
    let Some(server) = Server::start_unless_child(test, SMALL_LIMIT) else {
        return;
    };
    let _served = server.fill();
    let waits: Vec<Duration> = (0..20)
        .map(|_| server.try_serve().expect_err("served without a descriptor"))
        .collect();
    let longest = waits.iter().max().unwrap();
    eprintln!("20 refused clients: the longest waited {longest:?} for its close");
    assert!(
        *longest < PROMPT_CLOSE,
        "a refused client waited {longest:?}"
    );
}

#[test]
fn an_exhausted_server_keeps_serving_its_connections() {
    let test = "an_exhausted_server_keeps_serving_its_connections";
    let Some(server) = Server::start_unless_child(test, SMALL_LIMIT) else {
        return;
    };
    let mut served = server.fill();
    assert!(server.try_serve().is_err());
    for stream in &mut served {
        assert_echoes(stream);
    }
}

#[test]
fn new_clients_are_served_again_once_descriptors_free_up() {
    let test = "new_clients_are_served_again_once_descriptors_free_up";
    let Some(server) = Server::start_unless_child(test, SMALL_LIMIT) else {
        return;
    };
    let mut served = server.fill();
    assert!(server.try_serve().is_err());
    for stream in served.drain(..5) {
        release(stream);
    }
    for _ in 0..5 {
        served.push(server.try_serve().expect("refused with a descriptor free"));
    }
    assert!(server.try_serve().is_err(), "served more than was freed");
}

#[test]
fn running_out_is_logged_once_per_episode() {
    let test = "running_out_is_logged_once_per_episode";
    let Some(server) = Server::start_unless_child(test, SMALL_LIMIT) else {
        return;
    };
    let mut served = server.fill();
    // fill's last client was the first refused.
    for _ in 0..29 {
        assert!(server.try_serve().is_err());
    }
    release(served.pop().unwrap());
    served.push(server.try_serve().expect("refused with a descriptor free"));
    server.wait_for_log(RECOVERY, 1);

    // A second episode: the server is full again.
    for _ in 0..5 {
        assert!(server.try_serve().is_err());
    }
    release(served.pop().unwrap());
    served.push(server.try_serve().expect("refused with a descriptor free"));
    server.wait_for_log(RECOVERY, 2);

    assert_eq!(
        server.log_lines(WARNING).len(),
        2,
        "{:?}",
        server.log.lock().unwrap()
    );
    let recoveries = server.log_lines(RECOVERY);
    assert_eq!(recoveries.len(), 2);
    assert!(recoveries[0].contains("refused=30"), "{}", recoveries[0]);
    assert!(recoveries[1].contains("refused=5"), "{}", recoveries[1]);
}

#[test]
fn an_out_of_descriptors_server_backs_off_and_recovers() {
    const ATTEMPTS: usize = 1_000;
    let test = "an_out_of_descriptors_server_backs_off_and_recovers";
    let Some(server) = Server::start_unless_child(test, 256) else {
        return;
    };
    let pid = server.child.id();
    let mut pending: Vec<TcpStream> = (0..ATTEMPTS)
        .map(|_| {
            let mut stream = server.connect();
            stream.write_all(b"a").unwrap();
            stream.set_nonblocking(true).unwrap();
            stream
        })
        .collect();

    // Phase 1: the server serves what its descriptors allow and closes
    // the rest at once; nobody is left waiting.
    let mut served = Vec::new();
    let mut refused = 0;
    let deadline = Instant::now() + PATIENCE;
    while !pending.is_empty() {
        assert!(
            Instant::now() < deadline,
            "{} attempts left waiting",
            pending.len()
        );
        refused += sort_answers(&mut pending, &mut served);
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!served.is_empty(), "the server served nobody");
    assert!(refused > ATTEMPTS / 2, "only {refused} refused");

    // While it has no descriptor to spare it costs (almost) no CPU...
    let before = process_cpu(pid);
    std::thread::sleep(Duration::from_secs(1));
    let idle = process_cpu(pid) - before;
    assert!(
        idle < Duration::from_millis(100),
        "server used {idle:?} of CPU waiting"
    );
    // ...and it still serves the connections it has.
    let stream = &mut served[0];
    stream.set_nonblocking(false).unwrap();
    assert_echoes(stream);

    // Phase 2: with what was served closed, the refused clients retry and
    // are served.
    let mut total = served.len();
    for stream in served.drain(..) {
        stream.set_nonblocking(false).unwrap();
        release(stream);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while total < ATTEMPTS {
        assert!(
            Instant::now() < deadline,
            "{} attempts never served",
            ATTEMPTS - total
        );
        if let Ok(stream) = server.try_serve() {
            release(stream);
            total += 1;
        }
    }
    assert_eq!(server.log_lines(WARNING).len(), 1);
}

/// Moves the streams whose echo has arrived from `pending` to `served`,
/// drops those the server closed, and returns how many it closed.
fn sort_answers(pending: &mut Vec<TcpStream>, served: &mut Vec<TcpStream>) -> usize {
    let mut closed = 0;
    let mut index = 0;
    while index < pending.len() {
        let mut byte = [0u8; 1];
        match pending[index].read(&mut byte) {
            Ok(1) => served.push(pending.swap_remove(index)),
            Ok(_) => {
                pending.swap_remove(index);
                closed += 1;
            }
            Err(error) if error.kind() == ErrorKind::WouldBlock => index += 1,
            Err(error) if error.kind() == ErrorKind::ConnectionReset => {
                pending.swap_remove(index);
                closed += 1;
            }
            Err(error) => panic!("{error}"),
        }
    }
    closed
}

/// The server side: an echo server, logging to stderr.
fn serve() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let reactor = Reactor::new().unwrap();
    println!("port {}", echo_server(&reactor).port());
    let stopper = reactor.clone();
    reactor.call_later(Duration::from_secs(90), move || {
        let _ = stopper.stop();
    });
    reactor.run().unwrap();
}
