//! A resource learns that its client went away: a pending Deferred is
//! cancelled (HTTP/1.1 and HTTP/2), and a streaming body's sender sees the
//! receiver gone. A client that closes its side of an HTTP/1.1 connection
//! has gone too.

mod support;

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::{curl_output, serve};
use torsion::defer::Resolver;
use torsion::time::defer_later;
use torsion::{Deferred, Failure};
use torsion_web::{Body, Request, Response, Server};

/// Waits up to five seconds for `done`.
fn eventually(done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// A resource whose Deferred never fires by itself; its canceller sets
/// the flag, and `calls` counts the requests it was called with.
fn never_answers(cancelled: Arc<AtomicBool>, calls: Arc<AtomicUsize>) -> Server {
    let pending: Rc<RefCell<Vec<Resolver<Response>>>> = Rc::default();
    Server::new(move |_request: Request| {
        calls.fetch_add(1, Ordering::SeqCst);
        let flag = cancelled.clone();
        let (deferred, resolver) =
            Deferred::with_canceller(move || flag.store(true, Ordering::SeqCst));
        pending.borrow_mut().push(resolver);
        deferred
    })
}

#[test]
fn a_pending_deferred_is_cancelled_when_an_http1_client_closes() {
    let (cancelled, calls) = (Arc::new(AtomicBool::new(false)), Arc::default());
    let (c, k) = (cancelled.clone(), Arc::clone(&calls));
    let server = serve(move |_| never_answers(c, k));
    let mut stream = TcpStream::connect(server.address).unwrap();
    stream
        .write_all(b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert!(
        eventually(|| calls.load(Ordering::SeqCst) == 1),
        "the resource was called"
    );
    assert!(
        !cancelled.load(Ordering::SeqCst),
        "not cancelled while the client waits"
    );
    drop(stream);
    assert!(
        eventually(|| cancelled.load(Ordering::SeqCst)),
        "the Deferred was cancelled"
    );
}

#[test]
fn requests_pipelined_before_an_http1_client_closes_its_side_are_not_answered() {
    // As hyper's server without half-close support, and Twisted's HTTP
    // channel, which takes the end of the client's bytes for the end of
    // the connection: the reply in flight is dropped (its Deferred
    // cancelled), and the request behind it is never started.
    let (cancelled, calls) = (Arc::new(AtomicBool::new(false)), Arc::default());
    let (c, k) = (cancelled.clone(), Arc::clone(&calls));
    let server = serve(move |_| never_answers(c, k));
    let mut stream = TcpStream::connect(server.address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .expect("the server closes the connection");
    assert_eq!(String::from_utf8_lossy(&answer), "", "nothing is answered");
    assert!(
        eventually(|| cancelled.load(Ordering::SeqCst)),
        "the Deferred was cancelled"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "only the first was started"
    );
}

#[test]
fn a_pending_deferred_is_cancelled_when_an_http2_client_gives_up() {
    let (cancelled, calls) = (Arc::new(AtomicBool::new(false)), Arc::default());
    let (c, k) = (cancelled.clone(), Arc::clone(&calls));
    let server = serve(move |_| never_answers(c, k));
    let output = curl_output(&[
        "--http2-prior-knowledge",
        "--max-time",
        "1",
        &server.url("/wait"),
    ]);
    assert!(!output.status.success(), "curl timed out: {output:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(
        eventually(|| cancelled.load(Ordering::SeqCst)),
        "the Deferred was cancelled"
    );
}

#[test]
fn a_streaming_body_sender_sees_the_client_go_away() {
    let closed = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let (c, s) = (closed.clone(), sent.clone());
    let server = serve(move |reactor| {
        let reactor = reactor.clone();
        Server::new(move |_request: Request| {
            let (sender, body) = Body::channel(4096);
            let (closed, sent, r) = (c.clone(), s.clone(), reactor.clone());
            drop(reactor.spawn(async move {
                // Sends a chunk every 10 ms, for at most 10 s.
                for _ in 0..1000 {
                    if sender.send_data("tick\n").await.is_err() {
                        break;
                    }
                    sent.fetch_add(1, Ordering::SeqCst);
                    defer_later(&r, Duration::from_millis(10), || Ok::<_, Failure>(())).await?;
                }
                closed.store(sender.is_closed(), Ordering::SeqCst);
                Ok::<(), Failure>(())
            }));
            Response::new(body)
        })
    });
    let mut stream = TcpStream::connect(server.address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut received = Vec::new();
    let mut buffer = [0u8; 1024];
    while !String::from_utf8_lossy(&received).contains("tick\n") {
        let n = stream.read(&mut buffer).unwrap();
        assert!(n > 0, "the stream goes on");
        received.extend_from_slice(&buffer[..n]);
    }
    drop(stream);
    assert!(
        eventually(|| closed.load(Ordering::SeqCst)),
        "the sender saw the receiver gone"
    );
    assert!(
        sent.load(Ordering::SeqCst) < 1000,
        "the stream stopped early"
    );
}
