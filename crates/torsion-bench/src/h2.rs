//! `http --h2`: h2load (nghttp2's HTTP/2 load generator) against
//! torsion-web's hello-world server and hyper's HTTP/2 server on tokio
//! (see [`hello`](crate::hello)).
//!
//! Both servers speak HTTP/2 over plain TCP to a client that knows they do
//! (h2c by prior knowledge: h2load sends the connection preface first,
//! which torsion-web recognises on the same port as HTTP/1). Each server
//! runs in a process of its own on CPU 0, h2load (one thread, keep-alive
//! connections, several streams in flight on each) on CPU 1. As for wrk
//! (see [`http`]), a warm-up run comes first, then the
//! measured one; h2load's per-request log gives the latency percentiles,
//! and `/proc/<pid>/stat` before and after the server's CPU time.

use std::io;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use crate::http::{self, Outcome};
use crate::measure::Row;
use crate::server::{Engine, ServerProcess};

/// What one measurement does.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Open connections.
    pub connections: usize,
    /// Streams in flight on each connection (h2load's `-m`).
    pub streams: usize,
    /// h2load's run before the measured one, not counted.
    pub warm_up: Duration,
    /// The measured run.
    pub window: Duration,
}

/// Whether h2load can be run here.
pub fn h2load_found() -> bool {
    Command::new("h2load")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Runs h2load once against `address` on CPU 1 (when `taskset` works) for
/// `duration`, and gives its report and per-request log.
pub(crate) fn h2load(
    address: SocketAddr,
    load: Load,
    duration: Duration,
) -> io::Result<(String, String)> {
    let log = tempfile::Builder::new()
        .prefix("torsion-bench-h2load-")
        .suffix(".log")
        .tempfile()?;
    let args = [
        "-t1".to_owned(),
        format!("-c{}", load.connections),
        format!("-m{}", load.streams),
        format!("-D{}", duration.as_secs().max(1)),
        format!("--log-file={}", log.path().display()),
        format!("http://{address}/"),
    ];
    let output = Command::new("taskset")
        .args(["-c", "1", "h2load"])
        .args(&args)
        .output()
        .or_else(|_| Command::new("h2load").args(&args).output())?;
    if !output.status.success() {
        return Err(io::Error::other(format!(
            "h2load failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    Ok((report, std::fs::read_to_string(log.path())?))
}

/// Reads h2load's report: requests done, the rate, and every request that
/// failed, errored, timed out or was answered other than 2xx. The
/// latencies come from the log (see [`percentiles`]).
pub fn parse_report(report: &str) -> Option<Outcome> {
    let mut outcome = Outcome {
        requests: 0,
        rate: 0.0,
        // These three come from the log.
        mean: Duration::ZERO,
        p50: Duration::ZERO,
        p99: Duration::ZERO,
        errors: 0,
        server_cpu: Duration::ZERO,
    };
    let (mut rate, mut done) = (None, None);
    for line in report.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("finished in ") {
            // finished in 5.00s, 123456.78 req/s, 4.56MB/s
            rate = rest
                .split(", ")
                .find_map(|part| part.strip_suffix(" req/s"))
                .and_then(|value| value.parse().ok());
        } else if let Some(rest) = line.strip_prefix("requests: ") {
            // requests: N total, N started, N done, N succeeded, N failed,
            // N errored, N timeout
            for part in rest.split(", ") {
                let (count, what) = part.split_once(' ')?;
                let count: u64 = count.parse().ok()?;
                match what {
                    "done" => done = Some(count),
                    "failed" | "errored" | "timeout" => outcome.errors += count,
                    _ => {}
                }
            }
        } else if let Some(rest) = line.strip_prefix("status codes: ") {
            // status codes: N 2xx, N 3xx, N 4xx, N 5xx
            for part in rest.split(", ") {
                let (count, class) = part.split_once(' ')?;
                if class != "2xx" {
                    outcome.errors += count.parse::<u64>().ok()?;
                }
            }
        }
    }
    outcome.rate = rate?;
    outcome.requests = done?;
    Some(outcome)
}

/// The mean, median and 99th percentile of the per-request times in h2load's
/// log (tab-separated: start in µs since the epoch, status, µs until the
/// response ended).
pub fn percentiles(log: &str) -> Option<(Duration, Duration, Duration)> {
    let mut times: Vec<u64> = log
        .lines()
        .filter_map(|line| line.split('\t').nth(2)?.trim().parse().ok())
        .collect();
    if times.is_empty() {
        return None;
    }
    times.sort_unstable();
    let mean = Duration::from_nanos(times.iter().sum::<u64>() * 1000 / times.len() as u64);
    let at = |fraction: f64| {
        let index = ((times.len() as f64 * fraction).ceil() as usize).clamp(1, times.len()) - 1;
        Duration::from_micros(times[index])
    };
    Some((mean, at(0.50), at(0.99)))
}

/// Measures `engine`'s server once in a fresh process.
fn measure(engine: Engine, load: Load) -> Outcome {
    let server = ServerProcess::start(engine).expect("server starts");
    if !load.warm_up.is_zero() {
        h2load(server.address, load, load.warm_up).expect("h2load runs");
    }
    let before = server.cpu_time();
    let (report, log) = h2load(server.address, load, load.window).expect("h2load runs");
    let server_cpu = server.cpu_time() - before;
    let mut outcome =
        parse_report(&report).unwrap_or_else(|| panic!("cannot read h2load's report:\n{report}"));
    (outcome.mean, outcome.p50, outcome.p99) =
        percentiles(&log).unwrap_or_else(|| panic!("h2load logged no request:\n{report}"));
    outcome.server_cpu = server_cpu;
    assert_eq!(
        outcome.errors,
        0,
        "{}: h2load saw errors:\n{report}",
        engine.name()
    );
    outcome
}

/// Runs both servers `runs` times each, alternating, and returns the table
/// rows (torsion-web in the torsion column, hyper's HTTP/2 server on tokio
/// in the tokio one); `None` when h2load is not installed.
pub fn compare(load: Load, runs: usize) -> Option<Vec<Row>> {
    if !h2load_found() {
        return None;
    }
    Some(http::table(Engine::HyperTokioH2, runs, |engine| {
        measure(engine, load)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "starting benchmark...
spawning thread #0: 64 total client(s). Timing-based test with 0s of warm-up time and 5s of main duration for measurements.
Warm-up phase is over for thread #0.
Main benchmark duration is over for thread #0. Stopping all clients.
Stopped all clients for thread #0

finished in 5.00s, 81234.50 req/s, 3.10MB/s
requests: 406172 total, 407196 started, 406172 done, 406172 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 406170 2xx, 0 3xx, 2 4xx, 0 5xx
traffic: 15.50MB (16252384) total, 1.55MB (1624688) headers (space savings 95.00%), 5.42MB (5686408) data
";

    #[test]
    fn h2load_reports_are_read_with_their_errors() {
        let outcome = parse_report(REPORT).unwrap();
        assert_eq!(outcome.requests, 406_172);
        assert_eq!(outcome.rate, 81_234.5);
        assert_eq!(outcome.errors, 2);
        assert!(parse_report("garbage").is_none());
    }

    #[test]
    fn percentiles_come_from_the_log_times() {
        let log: String = (1..=100)
            .map(|n| format!("1700000000000000\t200\t{n}\n"))
            .collect();
        let (mean, p50, p99) = percentiles(&log).unwrap();
        assert_eq!(mean, Duration::from_nanos(50_500));
        assert_eq!(p50, Duration::from_micros(50));
        assert_eq!(p99, Duration::from_micros(99));
        assert!(percentiles("").is_none());
    }

    #[test]
    fn h2load_gets_hello_over_h2c_from_torsion_web_and_hyper() {
        if !h2load_found() {
            eprintln!("skipped: h2load not found");
            return;
        }
        let (address, handle, server) = crate::hello::torsion_on_a_thread();
        let load = Load {
            connections: 4,
            streams: 4,
            warm_up: Duration::ZERO,
            window: Duration::from_secs(1),
        };
        let (report, log) = h2load(address, load, load.window).unwrap();
        let outcome = parse_report(&report).unwrap();
        assert!(outcome.requests > 0, "{report}");
        assert_eq!(outcome.errors, 0, "{report}");
        assert!(percentiles(&log).is_some(), "{report}");
        handle.stop().unwrap();
        server.join().unwrap();

        let (ready, started) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            crate::hello::serve_hyper_h2(|address| ready.send(address).unwrap())
        });
        let address = started.recv().unwrap();
        let (report, _) = h2load(address, load, load.window).unwrap();
        let outcome = parse_report(&report).unwrap();
        assert!(outcome.requests > 0, "{report}");
        assert_eq!(outcome.errors, 0, "{report}");
    }
}
