//! A server out of descriptors backs off without spinning, keeps serving
//! the connections it has, and accepts again once descriptors free up.
//!
//! The server runs in a child process (this test binary again) started
//! under `prlimit --nofile=256:256`; this process makes 1,000 connection
//! attempts against it.

mod common;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Echo, process_cpu, set_fd_limit};
use torsion::Reactor;
use torsion::net::factory_fn;

const ATTEMPTS: usize = 1_000;
const SERVER_ENV: &str = "TORSION_EXHAUSTION_SERVER";
const TEST_NAME: &str = "an_out_of_descriptors_server_backs_off_and_recovers";

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn an_out_of_descriptors_server_backs_off_and_recovers() {
    if std::env::var(SERVER_ENV).is_ok() {
        serve();
        return;
    }
    set_fd_limit(4 * ATTEMPTS as u64);
    let mut child = Command::new("prlimit")
        .arg("--nofile=256:256")
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(SERVER_ENV, "1")
        .stdout(Stdio::piped())
        .spawn()
        .expect("prlimit (util-linux) runs the server with 256 descriptors");
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let mut lines = BufReader::new(stdout).lines();
    let port: u16 = loop {
        let line = lines.next().expect("the server reports its port").unwrap();
        if let Some(port) = line
            .rsplit("port ")
            .next()
            .filter(|_| line.contains("port "))
        {
            break port.trim().parse().unwrap();
        }
    };
    let pid = server.0.id();

    let mut pending: Vec<TcpStream> = (0..ATTEMPTS)
        .map(|_| {
            let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
            stream.write_all(b"a").unwrap();
            stream.set_nonblocking(true).unwrap();
            stream
        })
        .collect();

    // Phase 1: the server takes what its descriptors allow and no more.
    let mut served = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        collect_echoes(&mut pending, &mut served);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!served.is_empty(), "the server served nobody");
    assert!(
        pending.len() > ATTEMPTS / 2,
        "only {} left waiting",
        pending.len()
    );

    // While it waits for descriptors it costs (almost) no CPU...
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
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(b"still there?").unwrap();
    let mut reply = [0u8; 12];
    stream.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"still there?");

    // Phase 2: close what was served; the server accepts the rest.
    let mut total = served.len();
    served.clear();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !pending.is_empty() {
        assert!(
            Instant::now() < deadline,
            "{} attempts never served",
            pending.len()
        );
        let mut now_served = Vec::new();
        collect_echoes(&mut pending, &mut now_served);
        total += now_served.len();
        drop(now_served);
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(total, ATTEMPTS);
    drop(server);
}

/// Moves the streams whose echo has arrived from `pending` to `served`.
fn collect_echoes(pending: &mut Vec<TcpStream>, served: &mut Vec<TcpStream>) {
    let mut index = 0;
    while index < pending.len() {
        let mut byte = [0u8; 1];
        match pending[index].read(&mut byte) {
            Ok(1) => served.push(pending.swap_remove(index)),
            Ok(_) => panic!("the server closed a connection"),
            Err(error) if error.kind() == ErrorKind::WouldBlock => index += 1,
            Err(error) => panic!("{error}"),
        }
    }
}

/// The server side: an echo server with 256 descriptors.
fn serve() {
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0".parse().unwrap(),
            factory_fn(|_| Some(Echo::default())),
        )
        .unwrap();
    println!("port {}", port.tcp_address().unwrap().port());
    let stopper = reactor.clone();
    reactor.call_later(Duration::from_secs(90), move || {
        let _ = stopper.stop();
    });
    reactor.run().unwrap();
}
