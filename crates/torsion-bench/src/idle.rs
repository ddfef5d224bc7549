//! `idle`: what an idle connection costs a server in resident memory.
//!
//! Each server runs in a process of its own (see
//! [`server`](crate::server)). This process opens N connections to it, sends
//! one byte on each and reads its echo (so every connection has been
//! accepted and has served a read), keeps them all open, and reads the
//! server's `VmRSS` before the first and after the last. The figure is the
//! growth divided by N.

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

/// Opens `count` connections to `address`, each having echoed one byte.
pub fn open_idle(address: SocketAddr, count: usize) -> io::Result<Vec<TcpStream>> {
    let mut streams = Vec::with_capacity(count);
    while streams.len() < count {
        let batch = BATCH.min(count - streams.len());
        let first = streams.len();
        for _ in 0..batch {
            streams.push(TcpStream::connect(address)?);
        }
        for stream in &mut streams[first..] {
            stream.write_all(b"x")?;
        }
        for stream in &mut streams[first..] {
            let mut byte = [0u8; 1];
            stream.read_exact(&mut byte)?;
            if &byte != b"x" {
                return Err(io::Error::other("the echo differs from the byte sent"));
            }
        }
    }
    Ok(streams)
}

/// Resident bytes the server grew by, per connection.
fn measure(engine: Engine, count: usize) -> (f64, u64) {
    let server = ServerProcess::start(engine).expect("server starts");
    let before = server.resident_bytes();
    let streams = open_idle(server.address, count).expect("idle connections");
    let after = server.resident_bytes();
    drop(streams);
    let grown = after.saturating_sub(before);
    (grown as f64 / count as f64, after)
}

/// Runs both servers `runs` times each, alternating, with the connecting
/// side on CPU 1, and returns the table rows and the connections opened.
pub fn compare(wanted: usize, runs: usize) -> (Vec<Row>, usize) {
    let count = connections_allowed(wanted);
    let pinned = pin_current_thread(1);
    let mut per_connection = Row::new("resident bytes per connection", Better::Lower);
    let mut total = Row::new("server VmRSS with all open (KiB)", Better::Lower);
    for _ in 0..runs {
        for engine in [Engine::Torsion, Engine::Tokio] {
            let (bytes, after) = measure(engine, count);
            let kib = after as f64 / 1024.0;
            match engine {
                Engine::Torsion => {
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
        let streams = open_idle(address, BATCH + 10).unwrap();
        assert_eq!(streams.len(), BATCH + 10);
        drop(streams);
        handle.stop().unwrap();
        server.join().unwrap();
    }
}
