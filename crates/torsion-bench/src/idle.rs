//! `idle`: what an idle connection costs a server in resident memory.
//!
//! Each server runs in a process of its own (see
//! [`server`](crate::server)). This process opens N connections to it, has
//! each do one exchange (so every connection has been accepted and has
//! served a read), keeps them all open, and reads the server's anonymous
//! resident memory (`RssAnon`: what it allocated, not the binary's code
//! pages; see [`ServerProcess::anonymous_resident_bytes`]) before the
//! first and after the last. The figure is the growth divided by N.
//!
//! The exchange is one byte and its echo for the echo servers, and one
//! keep-alive `GET` and its whole response for the HTTP servers (torsion-web
//! against hyper on tokio): an HTTP connection is then idle between
//! requests, as a browser's or a proxy's pooled connection is.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};

use crate::measure::{Better, Row, pin_current_thread};
use crate::server::{Engine, ServerProcess, raise_descriptor_limit};

/// Connections opened before their bytes are sent, so the server's accept
/// queue never overflows.
const BATCH: usize = 256;

/// Descriptors kept free for everything else the process has open.
const SPARE_DESCRIPTORS: u64 = 64;

/// How many connections both sides can hold: `wanted`, or fewer (with a
/// message saying so) if the descriptor limit cannot be raised that far.
pub fn connections_allowed(wanted: usize) -> usize {
    let limit = raise_descriptor_limit();
    let allowed = limit.saturating_sub(SPARE_DESCRIPTORS) as usize;
    if allowed < wanted {
        eprintln!(
            "idle: the descriptor limit is {limit} and cannot be raised; \
             opening {allowed} connections instead of {wanted}"
        );
        allowed
    } else {
        wanted
    }
}

/// What each connection does once before it is left idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exchange {
    /// One byte, echoed.
    Echo,
    /// One HTTP/1.1 keep-alive request, answered.
    Http,
}

/// The request each HTTP connection sends.
const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nhost: localhost\r\n\r\n";

/// Opens `count` connections to `address`, each having done `exchange`.
pub fn open(address: SocketAddr, count: usize, exchange: Exchange) -> io::Result<Vec<TcpStream>> {
    let mut streams = Vec::with_capacity(count);
    while streams.len() < count {
        let batch = BATCH.min(count - streams.len());
        let first = streams.len();
        for _ in 0..batch {
            streams.push(TcpStream::connect(address)?);
        }
        for stream in &mut streams[first..] {
            match exchange {
                Exchange::Echo => stream.write_all(b"x")?,
                Exchange::Http => stream.write_all(REQUEST)?,
            }
        }
        for stream in &mut streams[first..] {
            match exchange {
                Exchange::Echo => {
                    let mut byte = [0u8; 1];
                    stream.read_exact(&mut byte)?;
                    if &byte != b"x" {
                        return Err(io::Error::other("the echo differs from the byte sent"));
                    }
                }
                Exchange::Http => read_response(stream)?,
            }
        }
    }
    Ok(streams)
}

/// Reads one whole `200` response with a `content-length` body, and no
/// byte past it (the connection is kept alive).
pub fn read_response(stream: &mut TcpStream) -> io::Result<()> {
    let mut received = Vec::with_capacity(256);
    let mut chunk = [0u8; 512];
    let head_end = loop {
        if let Some(at) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::other("the server closed before answering"));
        }
        received.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&received[..head_end]).to_ascii_lowercase();
    if !head.starts_with("http/1.1 200") || head.contains("connection: close") {
        return Err(io::Error::other(format!("unexpected response: {head:?}")));
    }
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse().ok())
        .ok_or_else(|| io::Error::other("a response without content-length"))?;
    while received.len() < head_end + length {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::other("the server closed mid-body"));
        }
        received.extend_from_slice(&chunk[..n]);
    }
    if received.len() != head_end + length {
        return Err(io::Error::other("bytes past the response"));
    }
    Ok(())
}

/// Resident bytes the server grew by, per connection.
fn measure(engine: Engine, count: usize, exchange: Exchange) -> (f64, u64) {
    let server = ServerProcess::start(engine).expect("server starts");
    let before = server.anonymous_resident_bytes();
    let streams = open(server.address, count, exchange).expect("idle connections");
    let after = server.anonymous_resident_bytes();
    drop(streams);
    let grown = after.saturating_sub(before);
    (grown as f64 / count as f64, after)
}

/// Runs both servers `runs` times each, alternating, with the connecting
/// side on CPU 1, and returns the table rows and the connections opened:
/// torsion's echo server against tokio's, or with [`Exchange::Http`]
/// torsion-web's hello-world server against hyper's on tokio.
pub fn compare(wanted: usize, runs: usize, exchange: Exchange) -> (Vec<Row>, usize) {
    let count = connections_allowed(wanted);
    let pinned = pin_current_thread(1);
    let mut per_connection = Row::new("anonymous resident bytes per connection", Better::Lower);
    let mut total = Row::new("server RssAnon with all open (KiB)", Better::Lower);
    let engines = match exchange {
        Exchange::Echo => [Engine::Torsion, Engine::Tokio],
        Exchange::Http => [Engine::TorsionHttp, Engine::HyperTokio],
    };
    for _ in 0..runs {
        for engine in engines {
            let (bytes, after) = measure(engine, count, exchange);
            let kib = after as f64 / 1024.0;
            match engine {
                Engine::Torsion | Engine::TorsionHttp => {
                    per_connection.torsion.push(bytes);
                    total.torsion.push(kib);
                }
                _ => {
                    per_connection.tokio.push(bytes);
                    total.tokio.push(kib);
                }
            }
        }
    }
    if pinned {
        pin_current_thread(0);
    }
    (vec![per_connection, total], count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::serve_torsion;

    #[test]
    fn idle_connections_each_echo_their_byte() {
        let (ready, started) = std::sync::mpsc::channel();
        let server = std::thread::spawn(move || {
            serve_torsion(|address, handle| ready.send((address, handle)).unwrap()).unwrap();
        });
        let (address, handle) = started.recv().unwrap();
        let streams = open(address, BATCH + 10, Exchange::Echo).unwrap();
        assert_eq!(streams.len(), BATCH + 10);
        drop(streams);
        handle.stop().unwrap();
        server.join().unwrap();
    }

    #[test]
    fn idle_http_connections_each_got_their_whole_response() {
        let (address, handle, server) = crate::hello::torsion_on_a_thread();
        let mut streams = open(address, BATCH + 10, Exchange::Http).unwrap();
        assert_eq!(streams.len(), BATCH + 10);
        // Still kept alive: each serves a second request.
        for stream in streams.iter_mut().take(8) {
            stream.write_all(REQUEST).unwrap();
            read_response(stream).unwrap();
        }
        drop(streams);
        handle.stop().unwrap();
        server.join().unwrap();
    }
}
