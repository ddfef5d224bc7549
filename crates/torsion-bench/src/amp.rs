//! `amp`: AMP calls over one loopback connection, torsion-amp client to
//! torsion-amp server against Twisted's AMP client to Twisted's server.
//!
//! Each server runs in a process of its own on CPU 0, each client on
//! CPU 1. The client keeps a fixed number of `Sum` calls in flight, each
//! caller making its next call when the answer comes (as
//! `tests/data/amp_peer.py bench-client` does for Twisted). The figures:
//! calls per second, and CPU time per call of both processes together
//! (client and server, from `/proc/<pid>/stat` and the client's own
//! rusage) and of the server alone. Twisted runs fewer calls than torsion
//! (the figures are per call), so that each side runs for about as long.
//!
//! Twisted comes from `PYTHONPATH`, or from where torsion-amp's tests
//! install it (`target/tmp/python-twisted`); without it the Twisted half
//! is skipped, with a note.

use std::cell::Cell;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use torsion::endpoints::client_from_string;
use torsion::{Failure, Reactor};
use torsion_amp::{Amp, Responders};

use crate::amp_server::{Pair, Sum};

use crate::measure::{Better, Row, process_cpu_time};
use crate::server::{Engine, ServerProcess, process_cpu, taskset_works};

/// The work of one run.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Calls the torsion client makes.
    pub torsion_calls: usize,
    /// Calls the Twisted client makes.
    pub twisted_calls: usize,
    /// Calls kept in flight.
    pub in_flight: usize,
}

/// One run's figures.
struct Sample {
    calls_per_second: f64,
    cpu_per_call: Duration,
    server_cpu_per_call: Duration,
}

fn measure_torsion(load: Load) -> Sample {
    let server = ServerProcess::start(Engine::TorsionAmp).expect("the AMP server starts");
    let reactor = Reactor::new().expect("reactor");
    let r = reactor.clone();
    let address = server.address;
    let calls = load.torsion_calls;
    let timing = Rc::new(Cell::new(None));
    let t = timing.clone();
    let server_cpu = || server.cpu_time();
    let server_before = server_cpu();
    let run = reactor.spawn(async move {
        let (amp, protocol) = Amp::new(Responders::new());
        client_from_string(&r, &format!("tcp:host=127.0.0.1:port={}", address.port()))?
            .connect(protocol)
            .await?;
        let remaining = Rc::new(Cell::new(calls));
        let started = (Instant::now(), process_cpu_time());
        let callers: Vec<_> = (0..load.in_flight)
            .map(|_| {
                let amp = amp.clone();
                let remaining = remaining.clone();
                r.spawn(async move {
                    while remaining.get() > 0 {
                        remaining.set(remaining.get() - 1);
                        let a = remaining.get() as i64;
                        let answer = amp.call_remote::<Sum>(Pair { a, b: 1 }).await?;
                        assert_eq!(answer.total, a + 1);
                    }
                    Ok::<(), Failure>(())
                })
            })
            .collect();
        torsion::defer::gather(callers).await?;
        t.set(Some((started.0.elapsed(), process_cpu_time() - started.1)));
        amp.lose_connection();
        r.stop()?;
        Ok::<(), Failure>(())
    });
    reactor.run().expect("the client reactor runs");
    drop(run);
    let (wall, client_cpu) = timing.get().expect("the torsion client finished");
    let server_used = server_cpu().saturating_sub(server_before);
    sample(calls, wall, client_cpu, server_used)
}

fn sample(calls: usize, wall: Duration, client_cpu: Duration, server_cpu: Duration) -> Sample {
    let calls_u32 = calls.max(1) as u32;
    Sample {
        calls_per_second: calls as f64 / wall.as_secs_f64(),
        cpu_per_call: (client_cpu + server_cpu) / calls_u32,
        server_cpu_per_call: server_cpu / calls_u32,
    }
}

/// The Python peer script of torsion-amp's tests.
fn peer_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../torsion-amp/tests/data/amp_peer.py")
}

/// `PYTHONPATH` with torsion-amp's test installation of Twisted added.
fn python_path() -> String {
    let installed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tmp/python-twisted");
    let mut paths: Vec<String> = std::env::var("PYTHONPATH")
        .ok()
        .filter(|path| !path.is_empty())
        .into_iter()
        .collect();
    paths.push(installed.display().to_string());
    paths.join(":")
}

/// `python3` on `cpu` (when taskset works), finding Twisted.
fn python(cpu: u32) -> Command {
    let mut command = if taskset_works() {
        let mut command = Command::new("taskset");
        command.args(["-c", &cpu.to_string(), "python3"]);
        command
    } else {
        Command::new("python3")
    };
    command
        .env("PYTHONPATH", python_path())
        .env("PYTHONDONTWRITEBYTECODE", "1");
    command
}

/// Why Twisted cannot be used, if it cannot.
pub fn twisted_missing() -> Option<String> {
    let output = python(1)
        .args(["-c", "import twisted.protocols.amp"])
        .output();
    match output {
        Ok(output) if output.status.success() => None,
        Ok(output) => Some(
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .last()
                .unwrap_or("python3 failed")
                .to_owned(),
        ),
        Err(error) => Some(format!("python3 does not run: {error}")),
    }
}

/// A Twisted server, killed when dropped.
struct TwistedServer(Child);

impl Drop for TwistedServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn measure_twisted(load: Load) -> Sample {
    let mut child = python(0)
        .arg(peer_script())
        .arg("bench-server")
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    let stdout = child.stdout.take().expect("piped");
    let server = TwistedServer(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the Twisted server's port");
    let port: u16 = line
        .trim()
        .parse()
        .expect("the Twisted server prints its port");
    let server_before = process_cpu(server.0.id());
    let output = python(1)
        .arg(peer_script())
        .args([
            "bench-client",
            &port.to_string(),
            &load.twisted_calls.to_string(),
            &load.in_flight.to_string(),
        ])
        .output()
        .expect("the Twisted client runs");
    let server_used = process_cpu(server.0.id()).saturating_sub(server_before);
    let text = String::from_utf8_lossy(&output.stdout);
    let fields: Vec<f64> = text
        .split_whitespace()
        .filter_map(|field| field.parse().ok())
        .collect();
    let [calls, wall, cpu] = fields[..] else {
        panic!(
            "the Twisted client printed {text:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    sample(
        calls as usize,
        Duration::from_secs_f64(wall),
        Duration::from_secs_f64(cpu),
        server_used,
    )
}

/// Runs both sides `runs` times, alternating; the rows put torsion on the
/// left and Twisted on the right. `None` for Twisted's column when it
/// cannot be imported (the reason is returned).
pub fn compare(load: Load, runs: usize) -> (Vec<Row>, Option<String>) {
    crate::measure::pin_current_thread(1);
    let missing = twisted_missing();
    let mut rows = [
        Row::new("calls per second", Better::Higher),
        Row::new("CPU per call, both sides (us)", Better::Lower),
        Row::new("server CPU per call (us)", Better::Lower),
    ];
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    for _ in 0..runs {
        let torsion = measure_torsion(load);
        rows[0].torsion.push(torsion.calls_per_second);
        rows[1].torsion.push(micros(torsion.cpu_per_call));
        rows[2].torsion.push(micros(torsion.server_cpu_per_call));
        if missing.is_none() {
            let twisted = measure_twisted(load);
            rows[0].tokio.push(twisted.calls_per_second);
            rows[1].tokio.push(micros(twisted.cpu_per_call));
            rows[2].tokio.push(micros(twisted.server_cpu_per_call));
        }
    }
    (rows.to_vec(), missing)
}
