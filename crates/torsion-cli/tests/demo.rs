//! `torsion demo` end to end, as a child process on free ports with the
//! rate polled every second: the chat between Python WebSocket clients and
//! a raw TCP line client, the blocking app's answer following the poller
//! (and "unavailable" when the source is down) while a 10 ms reactor timer
//! stays on time, the SVG chart, and a SIGTERM that exits 0 with every
//! port closed.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

mod support;

use support::{curl, get, python_command, start_torsion};
use torsion::testing::WatchedChild;

/// The demo running, and the URL of each part by name (`chat`,
/// `chat-line`, `rate`, `chart`, `status`, `live`, `rate-source`).
struct Demo {
    running: WatchedChild,
    urls: BTreeMap<String, String>,
}

impl Demo {
    /// `torsion demo --port-base 0 --poll-interval 1 EXTRA`, once it has
    /// printed its URLs.
    fn start(extra: &[&str]) -> Demo {
        let mut args = vec!["demo", "--port-base", "0", "--poll-interval", "1"];
        args.extend_from_slice(extra);
        let mut running = start_torsion(&args);
        running.wait_for_stdout("READY");
        let urls = running
            .out
            .iter()
            .filter_map(|line| {
                let mut words = line.split_whitespace();
                if words.next() != Some("URL") {
                    return None;
                }
                Some((words.next()?.to_owned(), words.next()?.to_owned()))
            })
            .collect();
        Demo { running, urls }
    }

    fn url(&self, part: &str) -> &str {
        self.urls
            .get(part)
            .unwrap_or_else(|| panic!("no URL for {part}: {:?}", self.urls))
    }

    fn status(&self) -> serde_json::Value {
        serde_json::from_str(&get(self.url("status"))).unwrap()
    }

    /// Every port the demo printed.
    fn addresses(&self) -> Vec<SocketAddr> {
        self.urls
            .values()
            .map(|url| {
                let rest = url.split_once("://").unwrap().1;
                rest.split('/').next().unwrap().parse().unwrap()
            })
            .collect()
    }

    /// SIGTERM; the exit code and the log.
    fn stop(self) -> (Option<i32>, Vec<String>) {
        self.running.signal("TERM");
        let exited = self.running.wait();
        (exited.status.code(), exited.err)
    }
}

/// Polls `probe` every 100 ms until it returns `Some`, for at most
/// `seconds`.
fn eventually<T>(seconds: u64, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An `nc`-style client: raw TCP, lines typed ending with `\n`.
struct LineClient {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl LineClient {
    fn connect(url: &str) -> LineClient {
        let address = url.strip_prefix("tcp://").unwrap();
        let stream = TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        LineClient {
            writer: stream.try_clone().unwrap(),
            reader: BufReader::new(stream),
        }
    }

    fn type_in(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).unwrap();
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        line.trim_end_matches(['\r', '\n']).to_owned()
    }
}

/// Two WebSocket members talk; the nc member hears them and speaks to
/// them; a later member gets the history.
const CHAT_SCRIPT: &str = r#"
import sys
from websockets.sync.client import connect
url = sys.argv[1]
def say(who, line):
    print(f"{who}: {line}", flush=True)
with connect(url + "?name=bob", open_timeout=5) as bob:
    say("bob", bob.recv(timeout=5))
    with connect(url + "?name=alice", open_timeout=5) as alice:
        say("alice", alice.recv(timeout=5))
        say("bob", bob.recv(timeout=5))
        alice.send("hello from alice")
        say("bob", bob.recv(timeout=5))
        say("alice", alice.recv(timeout=5))
        print("waiting for nc", flush=True)
        say("alice", alice.recv(timeout=10))
        say("alice", alice.recv(timeout=10))
    for _ in range(3):
        say("bob", bob.recv(timeout=5))
    with connect(url + "?name=dave", open_timeout=5) as dave:
        for _ in range(3):
            say("dave", dave.recv(timeout=5))
        dave.send("/nick david")
        say("dave", dave.recv(timeout=5))
"#;

#[test]
fn the_websocket_chat_relays_between_python_clients_and_an_nc_client_shares_the_room() {
    let demo = Demo::start(&[]);
    let page = get(demo.url("chat"));
    assert!(page.contains("new WebSocket("), "{page}");

    let mut nc = LineClient::connect(demo.url("chat-line"));
    assert!(nc.line().starts_with("welcome, "));
    let ws_url = format!("{}ws", demo.url("chat").replacen("http://", "ws://", 1));
    let mut python = python_command()
        .arg("-c")
        .arg(CHAT_SCRIPT)
        .arg(&ws_url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = BufReader::new(python.stdout.take().unwrap());
    let mut heard = Vec::new();
    loop {
        let mut line = String::new();
        if said.read_line(&mut line).unwrap() == 0 {
            break;
        }
        let line = line.trim_end().to_owned();
        if line == "waiting for nc" {
            assert_eq!(nc.line(), "* bob joined");
            assert_eq!(nc.line(), "* alice joined");
            assert_eq!(nc.line(), "<alice> hello from alice");
            nc.type_in("/nick carol\nhi from nc\n");
        }
        heard.push(line);
    }
    let status = python.wait().unwrap();
    let mut errors = String::new();
    python
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut errors)
        .unwrap();
    assert!(
        status.success(),
        "the Python clients failed: {errors}\nthey heard {heard:#?}"
    );
    // The nc member is named after its address until it renames.
    let nc_name = heard
        .iter()
        .find_map(|line| {
            line.strip_prefix("alice: * ")?
                .strip_suffix(" is now carol")
        })
        .expect("alice heard the nc member rename")
        .to_owned();
    assert!(nc_name.starts_with("127.0.0.1:"), "{nc_name}");
    let heard: Vec<String> = heard
        .iter()
        .map(|line| line.replace(&nc_name, "NC"))
        .collect();
    assert_eq!(
        heard,
        [
            "bob: * welcome, bob; 1 other(s) here",
            "alice: * welcome, alice; 2 other(s) here",
            "bob: * alice joined",
            "bob: <alice> hello from alice",
            "alice: <alice> hello from alice",
            "waiting for nc",
            "alice: * NC is now carol",
            "alice: <carol> hi from nc",
            "bob: * NC is now carol",
            "bob: <carol> hi from nc",
            "bob: * alice left",
            "dave: * welcome, dave; 2 other(s) here",
            "dave: <alice> hello from alice",
            "dave: <carol> hi from nc",
            "dave: * dave is now david",
        ]
    );
    assert_eq!(nc.line(), "* alice left");
    assert_eq!(nc.line(), "* dave joined");
    assert_eq!(nc.line(), "* dave is now david");

    let (code, log) = demo.stop();
    assert_eq!(code, Some(0), "{log:#?}");
}

#[test]
fn the_blocking_app_answers_the_rate_the_poller_fetched_and_follows_it() {
    let demo = Demo::start(&[]);
    let rate_url = demo.url("rate").to_owned();
    let first = eventually(10, "a rate from the blocking app", || {
        let answer = get(&rate_url);
        (!answer.contains("unavailable")).then_some(answer)
    });
    assert!(first.starts_with("EUR/USD rate: 1."), "{first}");
    // The feed drifts; the poller runs every second.
    let next = eventually(15, "a new rate after more polls", || {
        let answer = get(&rate_url);
        (answer != first).then_some(answer)
    });
    assert!(next.starts_with("EUR/USD rate: 1."), "{next}");
    let polls = demo.status()["polls"].as_u64().unwrap();
    assert!(polls >= 2, "{polls} polls");
    assert_eq!(curl(&format!("{rate_url}nothing")).0, 404);
    let (code, log) = demo.stop();
    assert_eq!(code, Some(0), "{log:#?}");
}

/// A rate source on a plain thread: answers `{"rate": 1.2345}` to every
/// request until told to stop, then closes its port.
struct FakeSource {
    address: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeSource {
    fn start() -> FakeSource {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => answer_rate(stream),
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        FakeSource {
            address,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops answering; from then on the port refuses.
    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap();
    }
}

fn answer_rate(stream: TcpStream) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
        line.clear();
    }
    let body = r#"{"rate": 1.2345}"#;
    let _ = (&stream).write_all(
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
}

/// The most the 10 ms heartbeat may be late while the blocking app is
/// busy: a blocked reactor would be late by the bridge's 2 s timeout.
const LATE_LIMIT_MS: f64 = 150.0;

#[test]
fn the_rate_is_unavailable_when_the_source_is_down_and_the_reactor_timer_stays_on_time() {
    let mut source = FakeSource::start();
    let url = format!("http://{}/rate.json", source.address);
    let demo = Demo::start(&["--rate-source", &url]);
    assert_eq!(demo.url("rate-source"), url);
    let rate_url = demo.url("rate").to_owned();
    eventually(10, "the source's rate", || {
        (get(&rate_url) == "EUR/USD rate: 1.23450\n").then_some(())
    });

    source.stop();
    eventually(10, "unavailable once the source refuses", || {
        (get(&rate_url) == "EUR/USD rate: unavailable\n").then_some(())
    });
    let status = demo.status();
    assert!(status["failures"].as_u64().unwrap() >= 1, "{status}");
    assert!(status["last_error"].is_string(), "{status}");
    assert_eq!(status["rate"], serde_json::Value::Null);

    // Eight blocking clients ask for 2 s while the heartbeat is watched:
    // its worst lateness over the last hundred beats, sampled every 200 ms,
    // covers the whole time.
    let beats_before = status["timer"]["beats"].as_u64().unwrap();
    let started = Instant::now();
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let rate_url = rate_url.clone();
            std::thread::spawn(move || {
                let mut answers = 0;
                while started.elapsed() < Duration::from_secs(2) {
                    assert_eq!(get(&rate_url), "EUR/USD rate: unavailable\n");
                    answers += 1;
                }
                answers
            })
        })
        .collect();
    let mut worst: f64 = 0.0;
    while started.elapsed() < Duration::from_millis(2200) {
        let timer = &demo.status()["timer"];
        worst = worst.max(timer["recent_worst_late_ms"].as_f64().unwrap());
        std::thread::sleep(Duration::from_millis(200));
    }
    let answers: u32 = clients.into_iter().map(|c| c.join().unwrap()).sum();
    let beats = demo.status()["timer"]["beats"].as_u64().unwrap() - beats_before;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    assert!(answers >= 8, "{answers} answers");
    assert!(worst < LATE_LIMIT_MS, "the 10 ms timer was {worst} ms late");
    // Skipped beats would show as too few of them.
    assert!(
        beats * 10 >= elapsed_ms / 2,
        "{beats} beats in {elapsed_ms} ms"
    );

    let (code, log) = demo.stop();
    assert_eq!(code, Some(0), "{log:#?}");
}

#[test]
fn the_live_view_lists_a_chat_member_and_the_demos_ports() {
    let demo = Demo::start(&[]);
    let line = demo
        .url("chat-line")
        .trim_start_matches("tcp://")
        .to_owned();
    let mut member = TcpStream::connect(&line).unwrap();
    member.write_all(b"/nick viewer\r\n").unwrap();
    let peer = member.local_addr().unwrap().to_string();
    let live = format!("{}live.json", demo.url("live"));
    let document: serde_json::Value = eventually(10, "the chat member listed", || {
        let document: serde_json::Value = serde_json::from_str(&get(&live)).unwrap();
        let listed = document["connections"]
            .as_array()
            .unwrap()
            .iter()
            .any(|connection| connection["peer"] == peer.as_str());
        listed.then_some(document)
    });
    // Every port on the reactor; the blocking app listens on its own
    // threads (tiny_http), not on the reactor.
    let ports = document["ports"].to_string();
    for part in ["chat", "chat-line", "chart", "live", "rate-source"] {
        let port = demo.url(part).split(':').nth(2).unwrap();
        let port = port.split('/').next().unwrap();
        assert!(
            ports.contains(&format!(":{port}\"")),
            "{part} ({port}) not in {ports}"
        );
    }
    let page = get(demo.url("live"));
    assert!(page.contains("live.json"), "{page}");
    drop(member);
    let (code, log) = demo.stop();
    assert_eq!(code, Some(0), "{log:#?}");
}

#[test]
fn the_chart_page_is_an_svg_with_a_point_for_each_sample() {
    let demo = Demo::start(&[]);
    let history = eventually(15, "three samples", || {
        let history = demo.status()["history"].as_array().unwrap().clone();
        (history.len() >= 3).then_some(history)
    });
    let page = get(demo.url("chart"));
    assert!(page.contains("<svg "), "{page}");
    let points = page.matches("<circle class=\"point\"").count();
    assert!(
        page.contains(&format!("data-points=\"{points}\"")),
        "{page}"
    );
    assert!(points >= history.len(), "{points} points for {history:?}");
    for sample in &history {
        let rate = sample["rate"].as_f64().unwrap();
        assert!(
            page.contains(&format!("data-rate=\"{rate:.5}\"")),
            "{rate} missing: {page}"
        );
    }
    let svg = get(&format!("{}chart.svg", demo.url("chart")));
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{svg}"
    );
    let (code, log) = demo.stop();
    assert_eq!(code, Some(0), "{log:#?}");
}

#[test]
fn sigterm_stops_every_part_exits_0_and_closes_every_port() {
    let demo = Demo::start(&[]);
    let addresses = demo.addresses();
    assert_eq!(addresses.len(), 7, "{:?}", demo.urls);
    // A member still connected is let go.
    let mut nc = LineClient::connect(demo.url("chat-line"));
    assert!(nc.line().starts_with("welcome, "));
    get(demo.url("rate"));
    let (code, log) = demo.stop();
    assert_eq!(code, Some(0), "{log:#?}");
    assert!(!log.iter().any(|line| line.contains("ERROR")), "{log:#?}");
    assert!(log.iter().any(|line| line.contains("stopped")), "{log:#?}");
    assert_eq!(nc.line(), "", "the nc member was not disconnected");
    for address in addresses {
        assert!(
            TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_err(),
            "{address} still accepts"
        );
    }
}

#[test]
fn the_demo_is_what_torsion_runs_without_a_command_and_its_flags_are_documented() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_torsion"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(
        help.contains("With no command, runs `torsion demo`"),
        "{help}"
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_torsion"))
        .args(["demo", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--port-base",
        "[default: 8600]",
        "--poll-interval",
        "--rate-source",
    ] {
        assert!(help.contains(flag), "{flag} missing: {help}");
    }
}
