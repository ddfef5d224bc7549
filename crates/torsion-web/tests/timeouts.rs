//! The server's timeouts and its graceful stop, with real sockets: slow
//! clients are cut at the header read timeout without delaying anyone
//! else, idle keep-alive connections are closed, and stopping the reactor
//! lets requests in flight finish.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{exchange, serve, serve_on};
use torsion::Failure;
use torsion::time::defer_later;
use torsion_web::{Body, Reply, Request, Response, Server, ServerOptions};

fn hello(reactor: &torsion::Reactor, options: ServerOptions) -> Server {
    let reactor = reactor.clone();
    Server::new(move |request: Request| -> Reply {
        match request.uri().path() {
            "/slow" => defer_later(&reactor, Duration::from_millis(400), || {
                Ok::<_, Failure>(Response::new(Body::from("slow done\n")))
            })
            .into(),
            "/never" => Reply::later(std::future::pending::<Result<Response, Failure>>()),
            _ => Response::new(Body::from("hello\n")).into(),
        }
    })
    .with_options(options)
}

/// True once the peer has closed `stream` (end of file or a reset).
fn closed_by_peer(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(error) => !matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    }
}

#[test]
fn slow_clients_do_not_delay_a_normal_client_and_are_cut_at_the_header_timeout() {
    const SLOW: usize = 200;
    let header_timeout = Duration::from_secs(2);
    // The 200 clients connect at once; with the endpoint's default backlog of 50, a
    // loaded machine overflows the accept queue and the kernel's handshake
    // retries (1 s, then 2 s) would delay connects and accepts, not the
    // server's timeout.
    let server = serve_on("tcp:0:interface=127.0.0.1:backlog=256", move |reactor| {
        hello(
            reactor,
            ServerOptions {
                header_read_timeout: Some(header_timeout),
                ..ServerOptions::default()
            },
        )
    });
    let address = server.address;
    // 200 clients sending their request head one byte a second, from one
    // thread; each records when the server closed it.
    let slow = std::thread::spawn(move || {
        let head = b"GET / HTTP/1.1\r\nHost: slow\r\n\r\n";
        let mut clients: Vec<(TcpStream, Instant, Option<Duration>)> = (0..SLOW)
            .map(|_| {
                let stream = TcpStream::connect(address).unwrap();
                stream.set_nonblocking(true).unwrap();
                (stream, Instant::now(), None)
            })
            .collect();
        let started = Instant::now();
        let mut sent = 0;
        while started.elapsed() < header_timeout + Duration::from_secs(2) {
            if started.elapsed() >= Duration::from_secs(sent as u64) && sent < head.len() {
                for (stream, _, closed) in &mut clients {
                    if closed.is_none() {
                        let _ = stream.write(&head[sent..sent + 1]);
                    }
                }
                sent += 1;
            }
            for (stream, connected, closed) in &mut clients {
                if closed.is_none() && closed_by_peer(stream) {
                    *closed = Some(connected.elapsed());
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        clients
            .into_iter()
            .map(|(_, _, closed)| closed)
            .collect::<Vec<_>>()
    });
    // Meanwhile, a normal client is served at once, again and again.
    std::thread::sleep(Duration::from_millis(300));
    let mut slowest = Duration::ZERO;
    for _ in 0..10 {
        let started = Instant::now();
        let answer = exchange(
            address,
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            Duration::from_secs(5),
        );
        let took = started.elapsed();
        assert!(answer.ends_with("hello\n"), "{answer}");
        slowest = slowest.max(took);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        slowest < Duration::from_millis(100),
        "a normal request took {slowest:?} among {SLOW} slow clients"
    );
    let closed = slow.join().unwrap();
    for (n, when) in closed.iter().enumerate() {
        let when = when.unwrap_or_else(|| panic!("slow client {n} was never closed"));
        assert!(
            when >= header_timeout - Duration::from_millis(50)
                && when < header_timeout + Duration::from_millis(700),
            "slow client {n} closed after {when:?}, the header timeout is {header_timeout:?}"
        );
    }
}

#[test]
fn an_idle_keep_alive_connection_is_closed_at_the_idle_timeout() {
    let idle = Duration::from_millis(500);
    let server = serve(move |reactor| {
        hello(
            reactor,
            ServerOptions {
                idle_timeout: Some(idle),
                ..ServerOptions::default()
            },
        )
    });
    let mut stream = TcpStream::connect(server.address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    for _ in 0..3 {
        // Each request restarts the idle clock.
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut buffer = [0u8; 1024];
        let n = stream.read(&mut buffer).unwrap();
        assert!(String::from_utf8_lossy(&buffer[..n]).ends_with("hello\n"));
        std::thread::sleep(idle / 2);
    }
    let since = Instant::now();
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).unwrap();
    let after = since.elapsed() + idle / 2;
    assert!(rest.is_empty());
    assert!(
        after >= idle - Duration::from_millis(50) && after < idle + Duration::from_millis(500),
        "closed after {after:?} idle, the timeout is {idle:?}"
    );
}

#[test]
fn stopping_the_reactor_finishes_requests_in_flight_and_closes_idle_connections() {
    let server = serve(|reactor| hello(reactor, ServerOptions::default()));
    let address = server.address;
    let mut idle = TcpStream::connect(address).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    idle.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buffer = [0u8; 1024];
    let n = idle.read(&mut buffer).unwrap();
    assert!(String::from_utf8_lossy(&buffer[..n]).ends_with("hello\n"));

    let in_flight = std::thread::spawn(move || {
        exchange(
            address,
            b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n",
            Duration::from_secs(5),
        )
    });
    std::thread::sleep(Duration::from_millis(150));
    let stopping = Instant::now();
    server.stop();
    let stopped_after = stopping.elapsed();
    let answer = in_flight.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("slow done\n"), "{answer}");
    assert!(stopped_after < Duration::from_secs(2), "{stopped_after:?}");
    let mut rest = Vec::new();
    assert_eq!(
        idle.read_to_end(&mut rest).unwrap(),
        0,
        "the idle connection was closed"
    );
    assert!(TcpStream::connect(address).is_err(), "no longer listening");
}

#[test]
fn a_request_half_sent_when_the_server_stops_is_answered_then_closed() {
    let server = serve(|reactor| hello(reactor, ServerOptions::default()));
    let mut client = TcpStream::connect(server.address).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    client.write_all(b"GET / HTTP/1.1\r\nHo").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let stopping = std::thread::spawn(move || server.stop());
    std::thread::sleep(Duration::from_millis(100));
    client.write_all(b"st: x\r\n\r\n").unwrap();
    let mut answer = String::new();
    client.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("connection: close\r\n"), "{answer}");
    assert!(answer.ends_with("hello\n"), "{answer}");
    stopping.join().unwrap();
}

#[test]
fn a_request_still_in_flight_at_the_shutdown_timeout_is_cut() {
    let server = serve(|reactor| {
        hello(
            reactor,
            ServerOptions {
                shutdown_timeout: Duration::from_millis(300),
                ..ServerOptions::default()
            },
        )
    });
    let address = server.address;
    let waiting = std::thread::spawn(move || {
        let started = Instant::now();
        let answer = exchange(
            address,
            b"GET /never HTTP/1.1\r\nHost: x\r\n\r\n",
            Duration::from_secs(5),
        );
        (answer, started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(150));
    server.stop();
    let (answer, took) = waiting.join().unwrap();
    assert_eq!(answer, "", "cut without a response");
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(2),
        "{took:?}"
    );
}
