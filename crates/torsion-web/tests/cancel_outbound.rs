//! A resource awaiting an outbound request through torsion's client: when
//! its own client disconnects, the reply's future is dropped, which cancels
//! the request it awaits, and torsion closes the outbound connection; the
//! `Cancelled` this causes is the consumer's doing and is not reported as an
//! unhandled error. Nor is the `Cancelled` of a resource's own pending
//! Deferred, cancelled because its client left.

mod support;

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use support::serve;
use torsion::defer::Resolver;
use torsion::{Deferred, Failure};
use torsion_web::client::Client;
use torsion_web::{Body, Reply, Request, Response, Server};

/// Everything the test binary logs, whichever thread logs it.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    /// The binary's log, installed by the first test that asks.
    fn get() -> &'static Log {
        static LOG: OnceLock<Log> = OnceLock::new();
        LOG.get_or_init(|| {
            let log = Log::default();
            let writer = log.clone();
            tracing_subscriber::fmt()
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .with_max_level(tracing::Level::INFO)
                .init();
            log
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// An upstream server that takes one request and never answers; it
/// reports when the request has arrived and when its connection closed.
fn silent_upstream() -> (String, mpsc::Receiver<()>, mpsc::Receiver<Instant>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/slow", listener.local_addr().unwrap());
    let (requested, request_seen) = mpsc::channel();
    let (closed, close_seen) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut received = Vec::new();
        let mut buffer = [0u8; 1024];
        while !received.windows(4).any(|window| window == b"\r\n\r\n") {
            let n = stream.read(&mut buffer).unwrap();
            assert!(n > 0, "the request arrives before the connection closes");
            received.extend_from_slice(&buffer[..n]);
        }
        requested.send(()).unwrap();
        // Reads until torsion closes the connection (or the test times out).
        while matches!(stream.read(&mut buffer), Ok(n) if n > 0) {}
        let _ = closed.send(Instant::now());
    });
    (url, request_seen, close_seen)
}

#[test]
fn a_client_going_away_closes_the_outbound_request_it_awaited_without_reporting_an_error() {
    let log = Log::get();
    let (upstream, request_seen, close_seen) = silent_upstream();
    let server = serve(move |reactor| {
        let client = Client::new(reactor);
        Server::new(move |_request: Request| {
            let (client, upstream) = (client.clone(), upstream.clone());
            Reply::later(async move {
                let answer = client.get(&upstream).send().await?;
                Ok::<_, Failure>(Response::new(Body::from(answer.status().to_string())))
            })
        })
    });
    let mut stream = TcpStream::connect(server.address).unwrap();
    stream
        .write_all(b"GET /proxy HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    request_seen
        .recv_timeout(Duration::from_secs(10))
        .expect("the outbound request reached upstream");
    let gone = Instant::now();
    drop(stream);
    let closed = close_seen
        .recv_timeout(Duration::from_secs(5))
        .expect("torsion closed the outbound connection");
    let delay = closed.saturating_duration_since(gone);
    assert!(
        delay < Duration::from_millis(100),
        "closed {delay:?} after the client went away"
    );
    server.stop();
    let text = log.text();
    assert!(
        !text.contains("ERROR"),
        "nothing is logged as an error:\n{text}"
    );
}

#[test]
fn a_pending_deferred_reply_cancelled_because_its_client_left_is_not_reported() {
    let log = Log::get();
    let (called, call_seen) = mpsc::channel();
    let (cancelled, cancel_seen) = mpsc::channel();
    let server = serve(move |_reactor| {
        // The producer holds on to its resolvers, as a real one would.
        let pending: Rc<RefCell<Vec<Resolver<Response>>>> = Rc::default();
        Server::new(move |_request: Request| {
            let cancelled = cancelled.clone();
            let (reply, resolver) = Deferred::with_canceller(move || {
                let _ = cancelled.send(());
            });
            pending.borrow_mut().push(resolver);
            let _ = called.send(());
            reply
        })
    });
    let mut stream = TcpStream::connect(server.address).unwrap();
    stream
        .write_all(b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    call_seen
        .recv_timeout(Duration::from_secs(10))
        .expect("the resource was called");
    drop(stream);
    cancel_seen
        .recv_timeout(Duration::from_secs(5))
        .expect("the reply's Deferred was cancelled");
    server.stop();
    let text = log.text();
    assert!(
        !text.contains("Unhandled error"),
        "the consumer's own cancellation is not reported:\n{text}"
    );
}
