//! `echo`: round trips through an echo server, torsion's and tokio's.
//!
//! Each server runs in a process of its own on CPU 0 (see
//! [`server`](crate::server)); the one load generator runs on CPU 1 in this
//! process: a tokio current-thread runtime with 64 connections, each sending
//! a message and waiting for all of it to come back before sending the next.
//! Every echo is compared with what was sent. After a warm-up the window is
//! timed; the figures are messages per second, the p50 and p99 round trip,
//! and the headline: the server's CPU time per message, from
//! `/proc/<pid>/stat` before and after the window.

use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::measure::{Better, Row, pin_current_thread};
use crate::server::{Engine, ServerProcess};

/// What one measurement does.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Connections, each with one message in flight.
    pub connections: usize,
    /// Bytes per message.
    pub size: usize,
    /// Time before the window, not counted.
    pub warm_up: Duration,
    /// The measured window.
    pub window: Duration,
}

/// What the load generator saw in one window.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Round trips completed in the window.
    pub messages: u64,
    /// Echoes that differed from what was sent, over the whole run.
    pub mismatches: u64,
    /// Round trips checked over the whole run (warm-up included).
    pub checked: u64,
    /// How long the window really lasted.
    pub window: Duration,
    /// Round-trip times in the window, sorted.
    pub latencies: Vec<Duration>,
    /// Server CPU time spent in the window.
    pub server_cpu: Duration,
}

impl Outcome {
    /// The round trip below which `fraction` of them fell.
    pub fn percentile(&self, fraction: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let index = ((self.latencies.len() - 1) as f64 * fraction).round() as usize;
        self.latencies[index]
    }
}

/// The phase every connection task looks at after each round trip.
#[derive(Default)]
struct Phase {
    measuring: Cell<bool>,
    stopped: Cell<bool>,
}

/// One connection's account.
#[derive(Default)]
struct Tally {
    messages: u64,
    mismatches: u64,
    checked: u64,
    latencies: Vec<Duration>,
}

/// Drives `load` against the echo server at `address` on a tokio
/// current-thread runtime on this thread. `server_cpu` is read at both
/// ends of the window.
pub fn generate(address: SocketAddr, load: Load, server_cpu: &dyn Fn() -> Duration) -> Outcome {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async {
        let mut streams = Vec::with_capacity(load.connections);
        for _ in 0..load.connections {
            let stream = TcpStream::connect(address).await.expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            streams.push(stream);
        }
        let phase = Rc::new(Phase::default());
        let tasks: Vec<_> = streams
            .into_iter()
            .enumerate()
            .map(|(id, stream)| {
                let phase = phase.clone();
                tokio::task::spawn_local(
                    async move { round_trips(stream, id, load.size, &phase).await },
                )
            })
            .collect();
        tokio::time::sleep(load.warm_up).await;
        let cpu_start = server_cpu();
        let start = Instant::now();
        phase.measuring.set(true);
        tokio::time::sleep(load.window).await;
        phase.measuring.set(false);
        let window = start.elapsed();
        let server_cpu = server_cpu() - cpu_start;
        phase.stopped.set(true);
        let mut outcome = Outcome {
            messages: 0,
            mismatches: 0,
            checked: 0,
            window,
            latencies: Vec::new(),
            server_cpu,
        };
        for task in tasks {
            let tally = task.await.expect("task").expect("round trips");
            outcome.messages += tally.messages;
            outcome.mismatches += tally.mismatches;
            outcome.checked += tally.checked;
            outcome.latencies.extend(tally.latencies);
        }
        outcome.latencies.sort_unstable();
        outcome
    })
}

/// Sends a message, reads its whole echo, compares, again until stopped.
/// Each message carries the connection and its sequence number.
async fn round_trips(
    mut stream: TcpStream,
    id: usize,
    size: usize,
    phase: &Phase,
) -> io::Result<Tally> {
    let mut message: Vec<u8> = (0..size).map(|i| (i * 31 + id) as u8).collect();
    let mut echo = vec![0u8; size];
    let mut tally = Tally::default();
    let mut sequence = 0u64;
    while !phase.stopped.get() {
        let stamp = sequence.to_le_bytes();
        let stamped = stamp.len().min(size);
        message[..stamped].copy_from_slice(&stamp[..stamped]);
        let start = Instant::now();
        stream.write_all(&message).await?;
        stream.read_exact(&mut echo).await?;
        let took = start.elapsed();
        tally.checked += 1;
        if echo != message {
            tally.mismatches += 1;
        }
        if phase.measuring.get() {
            tally.messages += 1;
            tally.latencies.push(took);
        }
        sequence += 1;
    }
    Ok(tally)
}

/// Measures `engine`'s server once in a fresh process.
pub fn measure(engine: Engine, load: Load) -> Outcome {
    let server = ServerProcess::start(engine).expect("server starts");
    let outcome = generate(server.address, load, &|| server.cpu_time());
    assert_eq!(
        outcome.mismatches,
        0,
        "{}: echoes differ from what was sent",
        engine.name()
    );
    outcome
}

/// The figures of one echo comparison: torsion against tokio, and
/// torsion inside tokio against torsion alone, all from the same runs.
pub struct Tables {
    /// torsion (left) and tokio (right).
    pub engines: Vec<Row>,
    /// torsion inside tokio (left) and torsion alone (right).
    pub hosted: Vec<Row>,
    /// torsion on the io_uring backend (left) and tokio (right); empty
    /// when not measured.
    pub uring: Vec<Row>,
}

/// Runs the three servers (torsion, tokio, torsion inside tokio), and
/// torsion on io_uring when `uring`, `runs` times each, alternating, with
/// the load on CPU 1.
pub fn compare(load: Load, runs: usize, uring: bool) -> Tables {
    let pinned = pin_current_thread(1);
    let rows = || {
        [
            Row::new("server CPU per message (us)", Better::Lower),
            Row::new("messages per second", Better::Higher),
            Row::new("round trip p50 (us)", Better::Lower),
            Row::new("round trip p99 (us)", Better::Lower),
        ]
    };
    let (mut engines, mut hosted, mut on_ring) = (rows(), rows(), rows());
    let mut servers = vec![Engine::Torsion, Engine::Tokio, Engine::TorsionInTokio];
    if uring {
        servers.push(Engine::TorsionUring);
    }
    for _ in 0..runs {
        for &engine in &servers {
            let outcome = measure(engine, load);
            let messages = outcome.messages.max(1) as f64;
            let figures = [
                outcome.server_cpu.as_secs_f64() * 1e6 / messages,
                messages / outcome.window.as_secs_f64(),
                outcome.percentile(0.50).as_secs_f64() * 1e6,
                outcome.percentile(0.99).as_secs_f64() * 1e6,
            ];
            for (i, value) in figures.into_iter().enumerate() {
                match engine {
                    Engine::Torsion => {
                        engines[i].torsion.push(value);
                        hosted[i].tokio.push(value);
                    }
                    Engine::TorsionInTokio => hosted[i].torsion.push(value),
                    Engine::TorsionUring => on_ring[i].torsion.push(value),
                    _ => {
                        engines[i].tokio.push(value);
                        on_ring[i].tokio.push(value);
                    }
                }
            }
        }
    }
    if pinned {
        pin_current_thread(0);
    }
    Tables {
        engines: engines.into(),
        hosted: hosted.into(),
        uring: if uring { on_ring.into() } else { Vec::new() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::serve_torsion;

    #[test]
    fn every_echo_from_an_in_process_torsion_server_is_identical() {
        let (ready, started) = std::sync::mpsc::channel();
        let server = std::thread::spawn(move || {
            serve_torsion(|address, handle| ready.send((address, handle)).unwrap()).unwrap();
        });
        let (address, handle) = started.recv().unwrap();
        for size in [64, 16 * 1024] {
            let load = Load {
                connections: 8,
                size,
                warm_up: Duration::from_millis(20),
                window: Duration::from_millis(150),
            };
            let outcome = generate(address, load, &|| Duration::ZERO);
            assert_eq!(outcome.mismatches, 0, "size {size}");
            assert!(outcome.checked > 0, "size {size}");
            assert!(outcome.messages > 0, "size {size}");
            assert_eq!(outcome.latencies.len() as u64, outcome.messages);
        }
        handle.stop().unwrap();
        server.join().unwrap();
    }
}
