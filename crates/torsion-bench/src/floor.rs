//! The floor: servers with no framework ([`bare`](crate::bare)) against
//! tokio's echo server and hyper's hello world, in the same alternating
//! runs as every other benchmark, so that a ratio goal can be read against
//! what any server costs on the machine.

use std::time::Duration;

use crate::measure::{Better, Row, pin_current_thread};
use crate::server::Engine;
use crate::{echo, http};

/// The floor's figures, each a pair of rows (CPU per message or request,
/// and how many a second) with a bare server in the first column and its
/// peer from the same runs in the second.
#[derive(Debug)]
pub struct Tables {
    /// Echo: the epoll floor against tokio.
    pub echo_epoll: Vec<Row>,
    /// Echo: the io_uring floor against tokio; empty without the ring.
    pub echo_ring: Vec<Row>,
    /// HTTP hello: the epoll floor against hyper on tokio.
    pub hello_epoll: Vec<Row>,
    /// HTTP hello: the io_uring floor against hyper on tokio; empty
    /// without the ring.
    pub hello_ring: Vec<Row>,
}

/// Measures the floor servers against tokio's echo server (`echo`) and
/// hyper's hello world (`hello`), `runs` times each, alternating, with the
/// load on CPU 1; the io_uring floor only when `ring`.
pub fn compare(echo: echo::Load, hello: http::Load, runs: usize, ring: bool) -> Tables {
    let pinned = pin_current_thread(1);
    let mut measure_echo = |engine| {
        let outcome = echo::measure(engine, echo);
        (outcome.server_cpu, outcome.messages, outcome.window)
    };
    let (echo_epoll, echo_ring) = floor_against(
        [Engine::FloorEpoll, Engine::FloorRing],
        Engine::Tokio,
        runs,
        ring,
        "message",
        &mut measure_echo,
    );
    let mut measure_hello = |engine| {
        let outcome = http::measure(engine, hello);
        (outcome.server_cpu, outcome.requests, hello.window)
    };
    let (hello_epoll, hello_ring) = floor_against(
        [Engine::FloorEpollHttp, Engine::FloorRingHttp],
        Engine::HyperTokio,
        runs,
        ring,
        "request",
        &mut measure_hello,
    );
    if pinned {
        pin_current_thread(0);
    }
    Tables {
        echo_epoll,
        echo_ring,
        hello_epoll,
        hello_ring,
    }
}

/// Measures the two floors (epoll, then the ring when `ring`) and `peer`,
/// alternating, `runs` times; `measure` gives a run's server CPU time, its
/// messages (each a `unit`) and its window.
fn floor_against(
    [epoll, on_ring]: [Engine; 2],
    peer: Engine,
    runs: usize,
    ring: bool,
    unit: &str,
    measure: &mut dyn FnMut(Engine) -> (Duration, u64, Duration),
) -> (Vec<Row>, Vec<Row>) {
    let rows = || {
        vec![
            Row::new(&format!("server CPU per {unit} (us)"), Better::Lower),
            Row::new(&format!("{unit}s per second"), Better::Higher),
        ]
    };
    let (mut epoll_rows, mut ring_rows) = (rows(), rows());
    let engines: &[Engine] = if ring {
        &[epoll, on_ring, peer]
    } else {
        &[epoll, peer]
    };
    for _ in 0..runs {
        for &engine in engines {
            let (cpu, messages, window) = measure(engine);
            let messages = messages.max(1) as f64;
            let figures = [
                cpu.as_secs_f64() * 1e6 / messages,
                messages / window.as_secs_f64(),
            ];
            for (i, value) in figures.into_iter().enumerate() {
                if engine == epoll {
                    epoll_rows[i].torsion.push(value);
                } else if engine == on_ring {
                    ring_rows[i].torsion.push(value);
                } else {
                    epoll_rows[i].tokio.push(value);
                    ring_rows[i].tokio.push(value);
                }
            }
        }
    }
    (epoll_rows, if ring { ring_rows } else { Vec::new() })
}
