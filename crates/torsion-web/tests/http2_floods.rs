//! HTTP/2 attacks against the server, from the hostile clients of
//! `http2_floods.py` (Python's h2 stack), over cleartext HTTP/2 with prior
//! knowledge: rapid reset, CONTINUATION flood, SETTINGS and PING floods
//! whose acknowledgements are never read, and an HPACK bomb. Each must end
//! in a GOAWAY or cost the server a bounded amount of memory and CPU, and
//! a normal client on another connection is served during the attack and
//! after it.
//!
//! The server runs in this process, so its memory and CPU are this
//! process's; the tests take turns, so that one attack's figures are not
//! another's.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use support::{
    Running, cpu_time, curl_output, mib, peak_resident_kib, python_command, reset_peak_resident,
    serve, settled_resident_kib,
};
use torsion_web::{Body, Request, Response, Server};

/// One attack at a time in this process.
static SERIAL: Mutex<()> = Mutex::new(());

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/http2_floods.py");

/// Most the server's resident memory may grow while an attack runs (peak
/// over the figure before it). Every attack here would cost far more
/// unbounded: 10,000 streams' state, a header block decoded to 48 MB,
/// a million queued acknowledgements.
const MAX_PEAK_GROWTH_KIB: u64 = 24 * 1024;

/// Most CPU the process (the server: the clients are other processes) may
/// spend while an attack runs.
const MAX_CPU: Duration = Duration::from_secs(8);

/// What the hostile client reported, and what the server cost.
#[derive(Debug)]
struct Observed {
    /// The GOAWAY's error code, by h2's name, if one came.
    goaway: Option<String>,
    report: serde_json::Value,
    during: Duration,
    after: Duration,
    peak_growth_kib: u64,
    cpu: Duration,
}

impl Observed {
    fn count(&self, group: &str, key: &str) -> u64 {
        self.report[group][key].as_u64().unwrap_or(0)
    }
}

fn hello_server() -> Running {
    serve(|_| Server::new(|_request: Request| Response::new(Body::from("hello\n"))))
}

/// A normal HTTP/2 client on a connection of its own: curl, with prior
/// knowledge. Fails unless served; gives how long the exchange took.
fn normal_request(server: &Running) -> Duration {
    let started = Instant::now();
    let output = curl_output(&["--http2-prior-knowledge", &server.url("/normal")]);
    let took = started.elapsed();
    assert!(output.status.success(), "the normal client: {output:?}");
    assert_eq!(output.stdout, b"hello\n");
    took
}

fn spawn_attack(attack: &str, server: &Running) -> Child {
    python_command()
        .arg(SCRIPT)
        .arg(attack)
        .arg(server.address.port().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs")
}

/// Runs `attack` against a fresh server: a normal request first (so that
/// first-use allocations are behind us), then the attack, a normal request
/// once it is under way, and another after it.
fn run_attack(attack: &str) -> Observed {
    let _turn = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let server = hello_server();
    normal_request(&server);
    let before_kib = settled_resident_kib();
    reset_peak_resident();
    let cpu_before = cpu_time();

    let mut child = spawn_attack(attack, &server);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    if line.trim() != "attacking" {
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        panic!("{attack} did not start: {line:?}\n{stderr}");
    }
    let during = normal_request(&server);
    // The normal client is done: the attack may end. A client the server
    // has already cut off may be gone, and its pipe with it.
    let _ = writeln!(child.stdin.take().unwrap(), "done");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{attack}: {status}\n{rest}\n{stderr}");
    let cpu = cpu_time() - cpu_before;
    let peak_growth_kib = peak_resident_kib().saturating_sub(before_kib);

    let after = normal_request(&server);
    let report: serde_json::Value = serde_json::from_str(rest.trim()).unwrap();
    let observed = Observed {
        goaway: report["goaway"].as_str().map(str::to_owned),
        report,
        during,
        after,
        peak_growth_kib,
        cpu,
    };
    println!(
        "{attack}: goaway {:?}, normal client {:.0?} during / {:.0?} after, \
         peak RSS +{:.1} MiB over {:.1} MiB, CPU {:.2?}; client: {}",
        observed.goaway,
        observed.during,
        observed.after,
        mib(observed.peak_growth_kib),
        mib(before_kib),
        observed.cpu,
        observed.report,
    );
    assert!(
        observed.peak_growth_kib < MAX_PEAK_GROWTH_KIB,
        "{attack} grew the server by {:.1} MiB",
        mib(observed.peak_growth_kib)
    );
    assert!(
        observed.cpu < MAX_CPU,
        "{attack} cost {:?} of CPU",
        observed.cpu
    );
    observed
}

/// Every connection of an attack the server answers with GOAWAY got one,
/// or was reset by the kernel before the attacker could read it: the server
/// closes with the attack's bytes unread, and such a close is a reset that
/// may discard what the attacker had not read yet.
fn assert_every_connection_got_goaway(observed: &Observed) {
    let count = |key: &str| observed.report[key].as_u64().unwrap_or(0);
    assert!(count("goaways") >= 1, "{observed:?}");
    assert_eq!(
        count("goaways") + count("reset_without_goaway"),
        count("connections"),
        "{observed:?}"
    );
}

#[test]
fn rapid_reset_ends_in_goaway_and_others_are_served() {
    let observed = run_attack("rapid-reset");
    assert_eq!(observed.goaway.as_deref(), Some("ENHANCE_YOUR_CALM"));
    assert_eq!(observed.report["goaway_debug"], "too_many_resets");
    assert_every_connection_got_goaway(&observed);
}

#[test]
fn a_continuation_flood_ends_in_goaway() {
    let observed = run_attack("continuation-flood");
    assert_eq!(observed.goaway.as_deref(), Some("ENHANCE_YOUR_CALM"));
    assert_eq!(observed.report["goaway_debug"], "too_many_continuations");
    assert_every_connection_got_goaway(&observed);
}

#[test]
fn a_settings_flood_never_read_is_pushed_back_by_tcp() {
    let observed = run_attack("settings-flood");
    assert_eq!(observed.goaway, None);
    assert_eq!(observed.report["blocked"], true);
}

#[test]
fn a_ping_flood_never_read_is_pushed_back_by_tcp() {
    let observed = run_attack("ping-flood");
    assert_eq!(observed.goaway, None);
    assert_eq!(observed.report["blocked"], true);
}

#[test]
fn an_hpack_bomb_ends_in_goaway_without_being_decoded_whole() {
    let observed = run_attack("hpack-bomb");
    assert_eq!(observed.count("statuses", "200"), 0);
    assert_eq!(observed.goaway.as_deref(), Some("ENHANCE_YOUR_CALM"));
    assert_eq!(observed.report["goaway_debug"], "header_list_way_too_large");
    assert_every_connection_got_goaway(&observed);
}
