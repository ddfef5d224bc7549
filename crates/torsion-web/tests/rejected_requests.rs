//! Requests the server refuses before they reach the application still
//! get their access-log line: the checker's refusals (400, 414, 431, 505),
//! the announced-body 413, targets the URI parser refuses, heads cut by the
//! header read timeout (408), and a malformed body found after the request
//! went to the application.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{Running, exchange, serve};
use torsion_web::{AccessLog, Body, BodyError, Reply, Request, Response, Server, ServerOptions};

/// What the server's thread logged.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Log {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Waits until a line contains `wanted`, and gives that line.
    fn wait_for(&self, wanted: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let text = self.text();
            if let Some(line) = text.lines().find(|line| line.contains(wanted)) {
                return line.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "no line with {wanted:?} in the log:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// A server with an access log, logging into the returned [`Log`].
fn logged_server(options: ServerOptions) -> (Running, Log) {
    let log = Log::default();
    let writer = log.clone();
    let running = serve(move |_| {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        // For the life of the server's thread.
        std::mem::forget(tracing::subscriber::set_default(subscriber));
        Server::new(AccessLog::new(|_request: Request| {
            Response::new(Body::from("hello\n"))
        }))
        .with_options(options)
    });
    (running, log)
}

fn send(running: &Running, request: &[u8]) -> String {
    exchange(running.address, request, Duration::from_secs(5))
}

#[test]
fn a_request_without_host_is_logged_with_its_status_line_and_reason() {
    let (running, log) = logged_server(ServerOptions::default());
    let answer = send(&running, b"GET /where HTTP/1.1\r\n\r\n");
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(answer.contains("connection: close\r\n"), "{answer}");
    let line = log.wait_for("rejected");
    assert!(line.contains("torsion_web::access"), "{line}");
    assert!(
        line.contains("\"GET /where HTTP/1.1\" 400 - - rejected: no Host in an HTTP/1.1 request"),
        "{line}"
    );
    assert!(line.contains("127.0.0.1:"), "{line}");
}

#[test]
fn an_authority_form_target_on_get_is_logged_as_400() {
    let (running, log) = logged_server(ServerOptions::default());
    let answer = send(
        &running,
        b"GET example.com:80 HTTP/1.1\r\nHost: example.com\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let line = log.wait_for("rejected");
    assert!(
        line.contains("\"GET example.com:80 HTTP/1.1\" 400"),
        "{line}"
    );
}

#[test]
fn an_oversized_target_is_logged_as_414_with_the_start_of_its_line() {
    let (running, log) = logged_server(ServerOptions {
        max_header_size: 8192,
        ..ServerOptions::default()
    });
    let request = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(10_000));
    let answer = send(&running, request.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 414"), "{answer:.200}");
    let line = log.wait_for("rejected");
    assert!(line.contains("\"GET /aaaa"), "{line}");
    assert!(
        line.contains("...\" 414 - - rejected: request line too long"),
        "{line}"
    );
}

#[test]
fn an_oversized_head_is_logged_as_431() {
    let (running, log) = logged_server(ServerOptions {
        max_header_size: 8192,
        ..ServerOptions::default()
    });
    let request = format!(
        "GET /big HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
        "a".repeat(10_000)
    );
    let answer = send(&running, request.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:.200}");
    let line = log.wait_for("rejected");
    assert!(
        line.contains("\"GET /big HTTP/1.1\" 431 - - rejected: request head too large"),
        "{line}"
    );
}

#[test]
fn an_announced_body_over_the_limit_is_logged_as_413() {
    let (running, log) = logged_server(ServerOptions {
        max_body_size: Some(10),
        ..ServerOptions::default()
    });
    let answer = send(
        &running,
        b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world",
    );
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let line = log.wait_for("rejected");
    assert!(
        line.contains("\"POST /up HTTP/1.1\" 413 - - rejected"),
        "{line}"
    );
}

#[test]
fn a_target_the_uri_parser_refuses_is_logged_as_400() {
    let (running, log) = logged_server(ServerOptions::default());
    let answer = send(&running, b"GET /a<b HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let line = log.wait_for("rejected");
    assert!(
        line.contains("\"GET /a<b HTTP/1.1\" 400 - - rejected: malformed request target"),
        "{line}"
    );
}

#[test]
fn a_version_other_than_1_x_is_logged_as_505() {
    let (running, log) = logged_server(ServerOptions::default());
    let answer = send(&running, b"GET / HTTP/2.0\r\nHost: a\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 505"), "{answer}");
    let line = log.wait_for("rejected");
    assert!(line.contains("\"GET / HTTP/2.0\" 505"), "{line}");
}

#[test]
fn a_head_cut_by_the_header_read_timeout_is_logged_as_408_without_an_answer() {
    let (running, log) = logged_server(ServerOptions {
        header_read_timeout: Some(Duration::from_millis(200)),
        ..ServerOptions::default()
    });
    let mut stream = TcpStream::connect(running.address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"GET /slow HTTP/1.1\r\nHost: a\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    let line = log.wait_for("rejected");
    assert!(
        line.contains(
            "\"GET /slow HTTP/1.1\" 408 - - rejected: request head not received within the \
             header read timeout, closed without an answer"
        ),
        "{line}"
    );
}

#[test]
fn a_connection_that_sends_nothing_before_the_timeout_logs_no_request() {
    let (running, log) = logged_server(ServerOptions {
        header_read_timeout: Some(Duration::from_millis(100)),
        ..ServerOptions::default()
    });
    let mut stream = TcpStream::connect(running.address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    assert!(answer.is_empty());
    // A request after it is logged, and nothing before it.
    send(
        &running,
        b"GET /after HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    log.wait_for("/after");
    assert!(!log.text().contains("rejected"), "{}", log.text());
}

#[test]
fn a_malformed_chunk_the_application_is_reading_is_answered_and_logged_as_400() {
    let log = Log::default();
    let writer = log.clone();
    let reading = Arc::new(AtomicBool::new(false));
    let started = reading.clone();
    let running = serve(move |_| {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        std::mem::forget(tracing::subscriber::set_default(subscriber));
        Server::new(AccessLog::new(move |request: Request| {
            started.store(true, Ordering::SeqCst);
            Reply::later(async move {
                let body = request.into_body().bytes().await?;
                Ok::<_, BodyError>(Response::new(Body::from(body)))
            })
        }))
    });
    let mut stream = TcpStream::connect(running.address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"POST /chunks HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
        .unwrap();
    // The head has reached the application, which waits for the body,
    // before the malformed chunk is sent.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !reading.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "the request reached the application"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    stream.write_all(b"5;a=\0\r\nhello\r\n0\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("malformed request body"), "{answer}");
    let line = log.wait_for("/chunks");
    assert!(line.contains("\"POST /chunks HTTP/1.1\" 400"), "{line}");
}

#[test]
fn an_http_1_2_request_is_answered_as_http_1_1() {
    let (running, log) = logged_server(ServerOptions::default());
    let answer = send(
        &running,
        b"GET /one HTTP/1.2\r\nHost: a\r\n\r\nGET /two HTTP/1.7\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(answer.matches("HTTP/1.1 200 OK\r\n").count(), 2, "{answer}");
    assert!(log.wait_for("/one").contains("\"GET /one HTTP/1.1\" 200"));
    assert!(log.wait_for("/two").contains("\"GET /two HTTP/1.1\" 200"));
}
