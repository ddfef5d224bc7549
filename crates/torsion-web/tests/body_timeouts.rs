//! The request body timeouts, with real sockets: a client that stops
//! sending its body, or trickles it past the total bound, gets 408 and is
//! disconnected; the resource reading the body sees a typed error; a
//! response already under way is cut; an HTTP/2 stream is ended without
//! the connection; and two hundred slow clients do not slow anyone else down.

mod support;

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use support::{exchange, serve, serve_on};
use torsion::Failure;
use torsion_web::{Body, BodyError, Reply, Request, Response, Server, ServerOptions};

/// When `/read?slow=N` was called, by N: a busy server takes a crowd of
/// slow clients up one after the other, and a body's read timeout counts
/// from when the resource waits for it.
static TAKEN_UP: Mutex<Option<HashMap<String, Instant>>> = Mutex::new(None);

fn taken_up(client: usize) -> Option<Instant> {
    TAKEN_UP
        .lock()
        .unwrap()
        .as_ref()?
        .get(&client.to_string())
        .copied()
}

const READ_TIMEOUT: Duration = Duration::from_millis(400);
/// How late after its bound a cut may come on a loaded machine.
const SLACK: Duration = Duration::from_millis(700);

fn options(read: Duration, total: Option<Duration>) -> ServerOptions {
    ServerOptions {
        body_read_timeout: Some(read),
        body_total_timeout: total,
        ..ServerOptions::default()
    }
}

/// `/read` reads the whole body and tells `errors` how reading ended;
/// `/swallow` reads it and, on an error, never answers; `/stream` answers
/// at once and echoes the body as it arrives; anything else says hello.
fn body_server(
    reactor: &torsion::Reactor,
    options: ServerOptions,
    errors: mpsc::Sender<String>,
) -> Server {
    let reactor = reactor.clone();
    Server::new(move |request: Request| -> Reply {
        let path = request.uri().path().to_owned();
        let slow_client = request
            .uri()
            .query()
            .and_then(|query| query.strip_prefix("slow="))
            .map(str::to_owned);
        let body = request.into_body();
        match path.as_str() {
            "/read" => {
                if let Some(client) = slow_client {
                    TAKEN_UP
                        .lock()
                        .unwrap()
                        .get_or_insert_with(HashMap::new)
                        .insert(client, Instant::now());
                }
                let errors = errors.clone();
                Reply::later(async move {
                    match body.bytes().await {
                        Ok(bytes) => {
                            Ok(Response::new(Body::from(format!("read {}\n", bytes.len()))))
                        }
                        Err(error) => {
                            let _ = errors.send(describe(&error));
                            Err(Failure::new(error))
                        }
                    }
                })
            }
            "/swallow" => Reply::later(async move {
                if body.bytes().await.is_err() {
                    std::future::pending::<()>().await;
                }
                Ok::<_, Failure>(Response::new(Body::from("read\n")))
            }),
            "/stream" => {
                let (sender, response) = Body::channel(64 * 1024);
                let mut body = body;
                drop(reactor.spawn(async move {
                    while let Some(chunk) = body.chunk().await {
                        match chunk {
                            Ok(data) => {
                                if sender.send_data(data).await.is_err() {
                                    break;
                                }
                            }
                            Err(error) => {
                                sender.abort(error.to_string());
                                break;
                            }
                        }
                    }
                    Ok::<(), Failure>(())
                }));
                Response::new(response).into()
            }
            _ => Response::new(Body::from("hello\n")).into(),
        }
    })
    .with_options(options)
}

fn describe(error: &BodyError) -> String {
    match error {
        BodyError::ReadTimedOut { timeout } => format!("read timeout {timeout:?}"),
        BodyError::TotalTimedOut { timeout } => format!("total timeout {timeout:?}"),
        other => format!("other: {other}"),
    }
}

/// Sends `head` and then `body` at once, waits for the server to close,
/// and gives what it answered and how long after the last byte sent it
/// closed.
fn send_then_stall(address: SocketAddr, head: &str, body: &[u8]) -> (String, Duration) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let sent = Instant::now();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    (
        String::from_utf8_lossy(&answer).into_owned(),
        sent.elapsed(),
    )
}

fn post(path: &str, length: usize) -> String {
    format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n")
}

fn assert_cut_at(after: Duration, bound: Duration) {
    assert!(
        after >= bound - Duration::from_millis(20) && after < bound + SLACK,
        "cut after {after:?}, the bound is {bound:?}"
    );
}

#[test]
fn a_body_that_stops_arriving_gets_408_and_the_connection_closes_at_the_read_timeout() {
    let (errors, told) = mpsc::channel();
    let server = serve(move |reactor| body_server(reactor, options(READ_TIMEOUT, None), errors));
    let (answer, after) = send_then_stall(server.address, &post("/read", 10), b"ab");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    assert_cut_at(after, READ_TIMEOUT);
    assert_eq!(
        told.recv_timeout(Duration::from_secs(5)).unwrap(),
        format!("read timeout {READ_TIMEOUT:?}"),
        "the resource saw the typed error"
    );
}

#[test]
fn a_resource_that_never_answers_after_the_body_error_still_gets_408_written() {
    let (errors, _told) = mpsc::channel();
    let server = serve(move |reactor| body_server(reactor, options(READ_TIMEOUT, None), errors));
    let (answer, after) = send_then_stall(server.address, &post("/swallow", 10), b"ab");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert_cut_at(after, READ_TIMEOUT);
}

#[test]
fn a_response_under_way_is_cut_without_its_end_when_the_body_stops() {
    let (errors, _told) = mpsc::channel();
    let server = serve(move |reactor| body_server(reactor, options(READ_TIMEOUT, None), errors));
    let (answer, after) = send_then_stall(server.address, &post("/stream", 10), b"ab");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains("\r\n\r\n2\r\nab\r\n"),
        "the echo began: {answer:?}"
    );
    assert!(
        !answer.ends_with("0\r\n\r\n"),
        "cut, not complete: {answer:?}"
    );
    assert_cut_at(after, READ_TIMEOUT);
}

#[test]
fn a_body_trickling_past_the_total_timeout_gets_408_though_bytes_keep_coming() {
    let total = Duration::from_millis(900);
    let (errors, told) = mpsc::channel();
    let server =
        serve(move |reactor| body_server(reactor, options(READ_TIMEOUT, Some(total)), errors));
    let mut stream = TcpStream::connect(server.address).unwrap();
    stream.set_nonblocking(true).unwrap();
    stream.write_all(post("/read", 100).as_bytes()).unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let closed_after = loop {
        assert!(started.elapsed() < Duration::from_secs(5), "never cut");
        let _ = stream.write(b"x");
        std::thread::sleep(Duration::from_millis(100));
        let mut buffer = [0u8; 1024];
        match stream.read(&mut buffer) {
            Ok(0) => break started.elapsed(),
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
            Err(error) if error.kind() == ErrorKind::WouldBlock => {}
            Err(_) => break started.elapsed(),
        }
    };
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert_cut_at(closed_after, total);
    assert_eq!(
        told.recv_timeout(Duration::from_secs(5)).unwrap(),
        format!("total timeout {total:?}")
    );
}

#[test]
fn a_slow_body_within_both_bounds_is_read_and_answered() {
    let (errors, _told) = mpsc::channel();
    let server = serve(move |reactor| {
        body_server(
            reactor,
            options(READ_TIMEOUT, Some(Duration::from_secs(3))),
            errors,
        )
    });
    let mut stream = TcpStream::connect(server.address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(post("/read", 5).as_bytes()).unwrap();
    for byte in b"hello" {
        std::thread::sleep(READ_TIMEOUT / 2);
        stream.write_all(&[*byte]).unwrap();
    }
    let mut buffer = [0u8; 1024];
    let n = stream.read(&mut buffer).unwrap();
    let answer = String::from_utf8_lossy(&buffer[..n]);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("read 5\n"), "{answer}");
}

#[test]
fn time_the_resource_spends_not_reading_the_body_does_not_count() {
    let (errors, _told) = mpsc::channel::<String>();
    let server = serve(move |reactor| {
        let r = reactor.clone();
        drop(errors);
        Server::new(move |request: Request| -> Reply {
            let body = request.into_body();
            let pause = torsion::time::defer_later(&r, READ_TIMEOUT * 2, || Ok::<_, Failure>(()));
            Reply::later(async move {
                pause.await?;
                let bytes = body.bytes().await?;
                Ok::<_, Failure>(Response::new(Body::from(format!("read {}\n", bytes.len()))))
            })
        })
        .with_options(options(READ_TIMEOUT, None))
    });
    let answer = exchange(
        server.address,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
        Duration::from_secs(5),
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("read 3\n"), "{answer}");
}

/// Runs `test` against an HTTP/2 connection to `address` (h2's client on
/// tokio), bounded in time.
fn with_http2<F, Fut>(address: SocketAddr, test: F)
where
    F: FnOnce(h2::client::SendRequest<bytes::Bytes>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
        let (client, connection) = h2::client::handshake(tcp).await.unwrap();
        tokio::spawn(async move {
            let _ = connection.await;
        });
        tokio::time::timeout(Duration::from_secs(10), test(client))
            .await
            .expect("the HTTP/2 exchange finished in time");
    });
}

/// Sends `POST path` with `body` and leaves the stream open.
fn post_and_stall(
    client: &mut h2::client::SendRequest<bytes::Bytes>,
    path: &str,
    body: &'static [u8],
) -> (h2::client::ResponseFuture, h2::SendStream<bytes::Bytes>) {
    let request = http::Request::post(format!("http://x{path}"))
        .body(())
        .unwrap();
    let (response, mut stream) = client.send_request(request, false).unwrap();
    stream
        .send_data(bytes::Bytes::from_static(body), false)
        .unwrap();
    (response, stream)
}

/// The connection still serves: a second request on it is answered.
async fn still_serves(client: h2::client::SendRequest<bytes::Bytes>) {
    let mut client = client.ready().await.unwrap();
    let request = http::Request::get("http://x/").body(()).unwrap();
    let (response, _) = client.send_request(request, true).unwrap();
    let response = response.await.unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let data = body.data().await.unwrap().unwrap();
    assert_eq!(&data[..], b"hello\n");
}

#[test]
fn an_http2_stream_whose_body_stops_gets_408_and_the_connection_serves_on() {
    let (errors, _told) = mpsc::channel();
    let server = serve(move |reactor| body_server(reactor, options(READ_TIMEOUT, None), errors));
    with_http2(server.address, |client| async move {
        let mut client = client.ready().await.unwrap();
        let (response, mut stream) = post_and_stall(&mut client, "/read", b"ab");
        let sent = Instant::now();
        let response = response.await.unwrap();
        assert_eq!(response.status(), 408);
        assert_cut_at(sent.elapsed(), READ_TIMEOUT);
        // The server will read no more of the request: it ends the stream.
        let reason = std::future::poll_fn(|cx| stream.poll_reset(cx)).await;
        println!("the request's stream was ended with {reason:?}");
        still_serves(client).await;
    });
}

#[test]
fn an_http2_response_under_way_is_reset_when_its_body_stops_and_the_connection_serves_on() {
    let (errors, _told) = mpsc::channel();
    let server = serve(move |reactor| body_server(reactor, options(READ_TIMEOUT, None), errors));
    with_http2(server.address, |client| async move {
        let mut client = client.ready().await.unwrap();
        let (response, _stream) = post_and_stall(&mut client, "/stream", b"ab");
        let sent = Instant::now();
        let response = response.await.unwrap();
        assert_eq!(response.status(), 200);
        let mut body = response.into_body();
        assert_eq!(&body.data().await.unwrap().unwrap()[..], b"ab");
        let error = body
            .data()
            .await
            .expect("the stream is reset, not ended")
            .unwrap_err();
        assert_cut_at(sent.elapsed(), READ_TIMEOUT);
        assert!(error.is_reset(), "{error}");
        println!("the response's stream was reset with {:?}", error.reason());
        still_serves(client).await;
    });
}

/// One attacking client: sends its head and a first body byte, then one
/// more byte every `every` (never, for `None`), and records the answer and
/// when the server closed it.
struct SlowClient {
    stream: TcpStream,
    every: Option<Duration>,
    first_byte: Instant,
    last_byte: Instant,
    /// The longest the client went without sending: a trickling client
    /// that the machine's scheduler held back past the read timeout has
    /// stalled, and is cut as a stalled one is.
    longest_gap: Duration,
    answer: Vec<u8>,
    closed: Option<Instant>,
}

impl SlowClient {
    fn connect(address: SocketAddr, n: usize, every: Option<Duration>) -> SlowClient {
        let mut stream = TcpStream::connect(address).unwrap();
        let path = format!("/read?slow={n}");
        stream.write_all(post(&path, 1000).as_bytes()).unwrap();
        stream.write_all(b"x").unwrap();
        stream.set_nonblocking(true).unwrap();
        let now = Instant::now();
        SlowClient {
            stream,
            every,
            first_byte: now,
            last_byte: now,
            longest_gap: Duration::ZERO,
            answer: Vec::new(),
            closed: None,
        }
    }

    fn turn(&mut self) {
        if self.closed.is_some() {
            return;
        }
        if let Some(every) = self.every
            && self.last_byte.elapsed() >= every
            && self.stream.write(b"x").is_ok()
        {
            let now = Instant::now();
            self.longest_gap = self.longest_gap.max(now - self.last_byte);
            self.last_byte = now;
        }
        let mut buffer = [0u8; 1024];
        match self.stream.read(&mut buffer) {
            Ok(0) => self.closed = Some(Instant::now()),
            Ok(n) => self.answer.extend_from_slice(&buffer[..n]),
            Err(error) if error.kind() == ErrorKind::WouldBlock => {}
            Err(_) => self.closed = Some(Instant::now()),
        }
    }
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

#[test]
fn two_hundred_slow_body_clients_are_cut_at_their_bounds_while_others_are_served_at_once() {
    const STALLING: usize = 100;
    const TRICKLING: usize = 100;
    let total = Duration::from_millis(1500);
    let (errors, _told) = mpsc::channel();
    // Two hundred clients connecting at once overflow the endpoint's
    // default backlog of 50, and the kernel would hold some back for a
    // second or more of SYN retransmission: the body timeouts would be
    // measured from a start the test cannot see.
    let server = serve_on("tcp:0:interface=127.0.0.1:backlog=1024", move |reactor| {
        body_server(reactor, options(READ_TIMEOUT, Some(total)), errors)
    });
    let address = server.address;
    let attack = std::thread::spawn(move || {
        // Half stop after one byte (cut at the read timeout), half send a
        // byte every 100 ms, inside the read timeout (cut at the total).
        let mut clients: Vec<SlowClient> = (0..STALLING + TRICKLING)
            .map(|n| {
                let every = (n >= STALLING).then_some(Duration::from_millis(100));
                SlowClient::connect(address, n, every)
            })
            .collect();
        let started = Instant::now();
        while clients.iter().any(|client| client.closed.is_none())
            && started.elapsed() < total + Duration::from_secs(3)
        {
            for client in &mut clients {
                client.turn();
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        clients
    });
    // Meanwhile a client within bounds and a normal one are served.
    let patient = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(post("/read", 4).as_bytes()).unwrap();
        for byte in b"slow" {
            std::thread::sleep(READ_TIMEOUT / 2);
            stream.write_all(&[*byte]).unwrap();
        }
        let mut buffer = [0u8; 1024];
        let n = stream.read(&mut buffer).unwrap();
        String::from_utf8_lossy(&buffer[..n]).into_owned()
    });
    let mut latencies = Vec::new();
    let measuring = Instant::now();
    while measuring.elapsed() < total {
        let started = Instant::now();
        let answer = exchange(
            address,
            b"POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\nfast",
            Duration::from_secs(5),
        );
        latencies.push(started.elapsed());
        assert!(answer.ends_with("read 4\n"), "{answer}");
        // A few hundred requests, so that the 99th percentile is one and
        // not the slowest request.
        std::thread::sleep(Duration::from_millis(5));
    }
    latencies.sort();
    let (p50, p99) = (percentile(&latencies, 50), percentile(&latencies, 99));
    println!(
        "normal client during the attack: {} requests, p50 {p50:?}, p99 {p99:?}",
        latencies.len()
    );
    let patient = patient.join().unwrap();
    assert!(patient.starts_with("HTTP/1.1 200"), "{patient}");
    assert!(patient.ends_with("read 4\n"), "{patient}");
    let clients = attack.join().unwrap();
    let mut stalled_cut = Vec::new();
    let mut trickled_cut = Vec::new();
    for (n, client) in clients.iter().enumerate() {
        let answer = String::from_utf8_lossy(&client.answer);
        assert!(answer.starts_with("HTTP/1.1 408"), "client {n}: {answer}");
        let closed = client
            .closed
            .unwrap_or_else(|| panic!("slow client {n} was never closed"));
        // A trickling client held back past the read timeout (by a loaded
        // machine) may have been cut by the read timeout, at a time the
        // test cannot tell, as its next byte may have gone out meanwhile.
        // Any other client is cut by its own bound, and says so.
        let held_back = client.every.is_some() && client.longest_gap >= READ_TIMEOUT;
        let read_timed_out = answer.contains("no body bytes arrived");
        if !held_back {
            assert_eq!(
                read_timed_out,
                client.every.is_none(),
                "client {n}: {answer}"
            );
        }
        if client.every.is_none() {
            // The resource waits for the body from its last byte or from
            // being called, whichever came later.
            let waiting = taken_up(n).map_or(client.last_byte, |at| at.max(client.last_byte));
            stalled_cut.push(closed - waiting);
        } else if !held_back {
            trickled_cut.push(closed - client.first_byte);
        }
    }
    stalled_cut.sort();
    trickled_cut.sort();
    println!(
        "{} stalled clients cut {:?}..{:?} after their last byte (bound {READ_TIMEOUT:?}); \
         {} trickling clients cut {:?}..{:?} after their first (bound {total:?}); \
         {} trickling clients held back past the read timeout",
        stalled_cut.len(),
        stalled_cut.first(),
        stalled_cut.last(),
        trickled_cut.len(),
        trickled_cut.first(),
        trickled_cut.last(),
        TRICKLING - trickled_cut.len()
    );
    for after in stalled_cut {
        assert_cut_at(after, READ_TIMEOUT);
    }
    for after in trickled_cut {
        assert_cut_at(after, total);
    }
    assert!(
        p99 < Duration::from_millis(100),
        "a normal request took {p99:?} (p99) among {} slow clients",
        STALLING + TRICKLING
    );
}
