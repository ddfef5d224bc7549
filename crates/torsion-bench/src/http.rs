//! `http`: wrk against torsion-web's hello-world server and hyper's on
//! tokio (see [`hello`](crate::hello)).
//!
//! Each server runs in a process of its own on CPU 0; wrk (one thread,
//! keep-alive connections, one request at a time or several pipelined in
//! each write) runs on CPU 1. Every run warms up first, then
//! wrk's measured run gives requests per second and the latency
//! percentiles, and `/proc/<pid>/stat` before and after gives the server's
//! CPU time per request. Both servers use hyper, so the difference is the
//! engine under it.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use crate::measure::{Better, Row, pin_current_thread};
use crate::server::{Engine, ServerProcess};

/// What one measurement does.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Open keep-alive connections.
    pub connections: usize,
    /// Requests written at once on each connection (HTTP/1.1 pipelining);
    /// 1 sends the next request only once the last is answered.
    pub pipeline: usize,
    /// wrk's run before the measured one, not counted.
    pub warm_up: Duration,
    /// The measured run.
    pub window: Duration,
}

/// What wrk reported for one run, and what the server spent.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Requests completed.
    pub requests: u64,
    /// Requests per second, as wrk computed it.
    pub rate: f64,
    /// Mean latency.
    pub mean: Duration,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Responses that were not 2xx or 3xx, plus socket errors.
    pub errors: u64,
    /// Server CPU time spent in the measured run.
    pub server_cpu: Duration,
}

/// Runs wrk once against `address` on CPU 1 (when `taskset` works), with
/// `pipeline` requests in each write (wrk's pipelining script) when more
/// than one.
pub(crate) fn wrk(
    address: SocketAddr,
    connections: usize,
    pipeline: usize,
    duration: Duration,
) -> io::Result<String> {
    let mut args = vec![
        "-t1".to_owned(),
        "--latency".to_owned(),
        format!("-c{connections}"),
        format!("-d{}s", duration.as_secs().max(1)),
    ];
    let script = (pipeline > 1)
        .then(|| pipeline_script(pipeline))
        .transpose()?;
    if let Some(script) = &script {
        args.push("-s".to_owned());
        args.push(script.path().display().to_string());
    }
    args.push(format!("http://{address}/"));
    let output = Command::new("taskset")
        .args(["-c", "1", "wrk"])
        .args(&args)
        .output()
        .or_else(|_| Command::new("wrk").args(&args).output())?;
    if !output.status.success() {
        return Err(io::Error::other(format!(
            "wrk failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// wrk's pipelining script (its `scripts/pipeline.lua`): `depth` GETs of
/// `/` in each write; wrk counts and times every response.
fn pipeline_script(depth: usize) -> io::Result<tempfile::NamedTempFile> {
    let mut script = tempfile::Builder::new()
        .prefix("torsion-bench-pipeline-")
        .suffix(".lua")
        .tempfile()?;
    write!(
        script,
        "init = function(args)\n\
         \x20 local r = {{}}\n\
         \x20 for i = 1, {depth} do r[i] = wrk.format(nil, \"/\") end\n\
         \x20 req = table.concat(r)\n\
         end\n\
         request = function() return req end\n"
    )?;
    script.flush()?;
    Ok(script)
}

/// A wrk duration such as `812.00us`, `1.25ms` or `2.01s`.
fn parse_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    let seconds = match unit {
        "us" => value / 1e6,
        "ms" => value / 1e3,
        "s" => value,
        "m" => value * 60.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(seconds))
}

/// Reads wrk's report (with `--latency`): total requests, requests/s,
/// the 50% and 99% latencies and every error count.
pub fn parse_wrk(report: &str) -> Option<Outcome> {
    let mut outcome = Outcome {
        requests: 0,
        rate: 0.0,
        mean: Duration::ZERO,
        p50: Duration::ZERO,
        p99: Duration::ZERO,
        errors: 0,
        server_cpu: Duration::ZERO,
    };
    let (mut rate, mut requests, mut mean, mut p50, mut p99) = (None, None, None, None, None);
    for line in report.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", value] => rate = value.parse().ok(),
            ["Latency", average, _stdev, _max, _within] => mean = parse_duration(average),
            [count, "requests", "in", ..] => requests = count.parse().ok(),
            ["50%", value] => p50 = parse_duration(value),
            ["99%", value] => p99 = parse_duration(value),
            ["Non-2xx", "or", "3xx", "responses:", count] => {
                outcome.errors += count.parse::<u64>().ok()?;
            }
            ["Socket", "errors:", rest @ ..] => {
                // connect 0, read 0, write 0, timeout 0
                for pair in rest.chunks(2) {
                    if let [_, count] = pair {
                        outcome.errors += count.trim_end_matches(',').parse::<u64>().ok()?;
                    }
                }
            }
            _ => {}
        }
    }
    outcome.rate = rate?;
    outcome.requests = requests?;
    outcome.mean = mean?;
    outcome.p50 = p50?;
    outcome.p99 = p99?;
    Some(outcome)
}

/// Measures `engine`'s server once in a fresh process.
pub fn measure(engine: Engine, load: Load) -> Outcome {
    measure_split(engine, load).0
}

/// [`measure`], and for the two-reactor server the connections each
/// reactor accepted during the measured run.
fn measure_split(engine: Engine, load: Load) -> (Outcome, Vec<u64>) {
    let mut server = ServerProcess::start(engine).expect("server starts");
    let pool = engine == Engine::TorsionHttpPool;
    if !load.warm_up.is_zero() {
        wrk(
            server.address,
            load.connections,
            load.pipeline,
            load.warm_up,
        )
        .expect("wrk runs");
    }
    let counts = |server: &mut ServerProcess| match pool {
        true => server.connections_per_reactor().expect("the server counts"),
        false => Vec::new(),
    };
    let accepted_before = counts(&mut server);
    let before = server.cpu_time();
    let report =
        wrk(server.address, load.connections, load.pipeline, load.window).expect("wrk runs");
    let server_cpu = server.cpu_time() - before;
    let split: Vec<u64> = counts(&mut server)
        .iter()
        .zip(accepted_before.iter().chain(std::iter::repeat(&0)))
        .map(|(after, before)| after - before)
        .collect();
    let mut outcome =
        parse_wrk(&report).unwrap_or_else(|| panic!("cannot read wrk's report:\n{report}"));
    outcome.server_cpu = server_cpu;
    assert_eq!(
        outcome.errors,
        0,
        "{}: wrk saw errors:\n{report}",
        engine.name()
    );
    (outcome, split)
}

/// How far the most loaded reactor is from an even share, in percent of
/// that share: 0 for a perfect split.
pub fn imbalance(split: &[u64]) -> f64 {
    let total: u64 = split.iter().sum();
    if split.is_empty() || total == 0 {
        return 0.0;
    }
    let even = total as f64 / split.len() as f64;
    split
        .iter()
        .map(|&count| (count as f64 - even).abs() / even * 100.0)
        .fold(0.0, f64::max)
}

/// torsion-web on a pool of two reactors against torsion-web on one, both
/// pinned to CPU 0 (so the pair measures what a second reactor costs, not
/// a second core), alternating `runs` times. The rows put the pool in the
/// first column; the splits are each measured run's connections per
/// reactor.
pub fn compare_reactors(load: Load, runs: usize) -> (Vec<Row>, Vec<Vec<u64>>) {
    let pinned = pin_current_thread(1);
    let mut rate = Row::new("requests per second", Better::Higher);
    let mut p99 = Row::new("latency p99 (us)", Better::Lower);
    let mut cpu = Row::new("server CPU per request (us)", Better::Lower);
    let mut splits = Vec::new();
    for _ in 0..runs {
        for engine in [Engine::TorsionHttpPool, Engine::TorsionHttp] {
            let (outcome, split) = measure_split(engine, load);
            let requests = outcome.requests.max(1) as f64;
            let figures = [
                (&mut rate, outcome.rate),
                (&mut p99, outcome.p99.as_secs_f64() * 1e6),
                (&mut cpu, outcome.server_cpu.as_secs_f64() * 1e6 / requests),
            ];
            for (row, value) in figures {
                match engine {
                    Engine::TorsionHttpPool => row.torsion.push(value),
                    _ => row.tokio.push(value),
                }
            }
            if engine == Engine::TorsionHttpPool {
                splits.push(split);
            }
        }
    }
    if pinned {
        pin_current_thread(0);
    }
    (vec![cpu, rate, p99], splits)
}

/// Runs both servers `runs` times each, alternating, and returns the table
/// rows (torsion-web in the torsion column, hyper on tokio in the tokio
/// one).
pub fn compare(load: Load, runs: usize) -> Vec<Row> {
    table(Engine::HyperTokio, runs, |engine| measure(engine, load))
}

/// Measures torsion-web and `peer` `runs` times each, alternating, with
/// `measure`, and returns the table rows (torsion-web in the torsion
/// column, `peer` in the tokio one). The load generator runs on CPU 1.
pub fn table(peer: Engine, runs: usize, measure: impl FnMut(Engine) -> Outcome) -> Vec<Row> {
    table_of(Engine::TorsionHttp, peer, runs, measure)
}

/// torsion-web on the io_uring backend against hyper on tokio, as
/// [`compare`] measures torsion-web on epoll.
pub fn compare_uring(load: Load, runs: usize) -> Vec<Row> {
    table_of(
        Engine::TorsionHttpUring,
        Engine::HyperTokio,
        runs,
        |engine| measure(engine, load),
    )
}

/// [`table`] with `ours` in the torsion column.
fn table_of(
    ours: Engine,
    peer: Engine,
    runs: usize,
    mut measure: impl FnMut(Engine) -> Outcome,
) -> Vec<Row> {
    let pinned = pin_current_thread(1);
    let mut rate = Row::new("requests per second", Better::Higher);
    // The load generator keeps every connection's request in flight, but
    // times a request only from its write to its answer, not the time the
    // generator's own loop takes before writing the next one; the mean
    // shows how much of the round is counted, which depends on whether
    // the server or the generator is the slower side (see
    // docs/benchmarks.md).
    let mut mean = Row::new("latency mean (us)", Better::Lower);
    let mut p50 = Row::new("latency p50 (us)", Better::Lower);
    let mut p99 = Row::new("latency p99 (us)", Better::Lower);
    let mut cpu = Row::new("server CPU per request (us)", Better::Lower);
    for _ in 0..runs {
        for engine in [ours, peer] {
            let outcome = measure(engine);
            let requests = outcome.requests.max(1) as f64;
            let figures = [
                (&mut rate, outcome.rate),
                (&mut mean, outcome.mean.as_secs_f64() * 1e6),
                (&mut p50, outcome.p50.as_secs_f64() * 1e6),
                (&mut p99, outcome.p99.as_secs_f64() * 1e6),
                (&mut cpu, outcome.server_cpu.as_secs_f64() * 1e6 / requests),
            ];
            for (row, value) in figures {
                if engine == ours {
                    row.torsion.push(value);
                } else {
                    row.tokio.push(value);
                }
            }
        }
    }
    if pinned {
        pin_current_thread(0);
    }
    let mut rows = vec![cpu, rate, mean, p50];
    // wrk prints a 99th percentile of 0 for pipelined runs (its histogram
    // gives out), which is no latency: the row is left out then.
    if !p99
        .torsion
        .iter()
        .chain(&p99.tokio)
        .any(|&value| value == 0.0)
    {
        rows.push(p99);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Running 5s test @ http://127.0.0.1:4000/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   601.21us   90.12us   2.96ms   92.01%
    Req/Sec   106.80k     2.01k  109.42k    76.00%
  Latency Distribution
     50%  590.00us
     75%  610.00us
     90%  650.00us
     99%    1.02ms
  531403 requests in 5.00s, 63.85MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
Requests/sec: 106260.50
Transfer/sec:     12.77MB
";

    #[test]
    fn a_p99_wrk_printed_as_zero_leaves_the_table() {
        let outcome = |p99_us| Outcome {
            p99: Duration::from_micros(p99_us),
            ..parse_wrk(REPORT).unwrap()
        };
        let metrics = |rows: Vec<Row>| rows.into_iter().map(|row| row.metric).collect::<Vec<_>>();
        let whole = metrics(table(Engine::HyperTokio, 2, |_| outcome(1020)));
        assert!(whole.contains(&"latency p99 (us)".to_owned()), "{whole:?}");
        let mut answers = [1020, 0, 1020, 1020].into_iter();
        let pipelined = metrics(table(Engine::HyperTokio, 2, |_| {
            outcome(answers.next().unwrap())
        }));
        assert!(
            !pipelined.contains(&"latency p99 (us)".to_owned()),
            "{pipelined:?}"
        );
        assert_eq!(pipelined.len(), 4, "{pipelined:?}");
    }

    #[test]
    fn imbalance_is_the_largest_share_off_even() {
        assert_eq!(imbalance(&[32, 32]), 0.0);
        assert_eq!(imbalance(&[36, 28]), 12.5);
        assert_eq!(imbalance(&[]), 0.0);
    }

    #[test]
    fn wrk_reports_are_read_with_their_units_and_errors() {
        let outcome = parse_wrk(REPORT).unwrap();
        assert_eq!(outcome.requests, 531_403);
        assert_eq!(outcome.rate, 106_260.5);
        assert_eq!(outcome.mean, Duration::from_nanos(601_210));
        assert_eq!(outcome.p50, Duration::from_micros(590));
        assert_eq!(outcome.p99, Duration::from_micros(1020));
        assert_eq!(outcome.errors, 3);
        assert!(parse_wrk("garbage").is_none());
    }

    #[test]
    fn wrk_gets_hello_from_an_in_process_torsion_web_server_one_by_one_and_pipelined() {
        let (address, handle, server) = crate::hello::torsion_on_a_thread();
        for pipeline in [1, 16] {
            let report = wrk(address, 4, pipeline, Duration::from_secs(1)).unwrap();
            let outcome = parse_wrk(&report).unwrap();
            assert!(outcome.requests > 0, "{report}");
            assert_eq!(outcome.errors, 0, "{report}");
        }
        handle.stop().unwrap();
        server.join().unwrap();
    }
}
