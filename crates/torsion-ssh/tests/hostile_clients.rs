//! Clients that misbehave at the SSH door (garbage instead of SSH, a
//! connection dropped in the middle of the key exchange, an `ssh` killed
//! in the middle of a shell session) cost the reactor nothing: its timer
//! keeps ticking, its echo server keeps echoing, and the door still
//! answers the next operator.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::{Keys, Served, output};

/// Writes `bytes` and reads whatever comes back until the server closes
/// (bounded), as a client that does not speak SSH would.
fn hit(served: &Served, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(served.ssh).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // The server may close before taking it all; that is its right.
    let _ = stream.write_all(bytes);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer
}

fn echo_round_trip(served: &Served) {
    let mut stream = TcpStream::connect(served.echo).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(b"still here\n").unwrap();
    let mut echoed = [0; 11];
    stream.read_exact(&mut echoed).unwrap();
    assert_eq!(&echoed, b"still here\n");
}

/// Waits (bounded) for the timer to tick `count` more times.
fn ticks_on(served: &Served, count: u64) {
    let start = served.ticks();
    let deadline = Instant::now() + Duration::from_secs(5);
    while served.ticks() < start + count {
        assert!(Instant::now() < deadline, "the timer stopped ticking");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn garbage_and_vanishing_clients_do_not_disturb_the_reactor() {
    let keys = Keys::new();
    let served = Served::start(&keys);
    ticks_on(&served, 3);

    // Not SSH at all: the server sends its version line and hangs up.
    let answer = hit(&served, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(answer.starts_with(b"SSH-2.0-"), "{answer:?}");
    // A proper version line, then a packet whose length is absurd.
    hit(&served, b"SSH-2.0-fuzz\r\n\xff\xff\xff\xff\x00garbage");
    // Binary noise of every byte value, and a flood of version-less lines.
    let noise: Vec<u8> = (0..=255u8).cycle().take(64 * 1024).collect();
    hit(&served, &noise);
    hit(&served, &b"not a version line\r\n".repeat(2_000));
    // Connections that vanish: at once, half-closed, mid key exchange.
    for _ in 0..20 {
        drop(TcpStream::connect(served.ssh).unwrap());
    }
    let half = TcpStream::connect(served.ssh).unwrap();
    half.shutdown(Shutdown::Write).unwrap();
    let mut mid_kex = TcpStream::connect(served.ssh).unwrap();
    mid_kex.write_all(b"SSH-2.0-OpenSSH_9.9\r\n").unwrap();
    mid_kex.write_all(&[0, 0, 1, 0, 4, 20, 1, 2, 3]).unwrap();
    drop(mid_kex);
    drop(half);

    // An operator's ssh killed in the middle of its shell session.
    let mut child = served
        .ssh(&keys.operator)
        .arg("-tt")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout);
        let mut line = Vec::new();
        while lines.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
            let _ = tx.send(String::from_utf8_lossy(&line).into_owned());
            line.clear();
        }
    });
    input.write_all(b"timers\r").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).expect("the shell answers");
        if line.contains("pending timer") {
            break;
        }
    }
    // Half a command typed, then gone without a word.
    input.write_all(b"conn").unwrap();
    child.kill().unwrap();
    child.wait().unwrap();

    // The reactor went on all along, and goes on.
    ticks_on(&served, 5);
    echo_round_trip(&served);
    let (code, stdout, stderr) = output(served.ssh(&keys.operator).arg("status"));
    assert_eq!(code, Some(0), "the door still answers: {stderr}");
    assert!(stdout.contains("timers"), "{stdout}");
}
