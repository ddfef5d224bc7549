//! A client that reads its answers slowly, or not at all, holds the
//! server's work back rather than filling its memory: over a real loopback
//! socket, pipelined requests wait while the transport is backed up.
//! (A test binary of its own: the heap figures of `http1.rs` would count
//! the megabytes this one sends.)

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use support::serve;
use torsion_web::{Body, Request, Response, Server};

#[test]
fn a_client_that_pipelines_and_reads_nothing_is_answered_one_large_body_at_a_time() {
    // Each answer is a megabyte held whole in memory. While the client
    // reads nothing, the next request waits for the transport to drain:
    // only the first few are answered, not all twenty at once.
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let server = serve(move |_| {
        let body = Bytes::from(vec![b'a'; 1 << 20]);
        let counted = counted.clone();
        Server::new(move |_request: Request| {
            counted.fetch_add(1, Ordering::SeqCst);
            Response::new(Body::from(body.clone()))
        })
    });
    let mut client = TcpStream::connect(server.address).unwrap();
    let mut requests = "GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(19);
    requests.push_str("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    client.write_all(requests.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let answered = calls.load(Ordering::SeqCst);
    assert!(
        answered < 10,
        "{answered} answers made for a client reading nothing"
    );
    client
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut answer = Vec::new();
    client.read_to_end(&mut answer).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 20);
    let heads = answer
        .windows(15)
        .filter(|w| w == b"HTTP/1.1 200 OK")
        .count();
    assert_eq!(heads, 20);
    assert!(answer.len() > 20 << 20, "{} bytes", answer.len());
}
