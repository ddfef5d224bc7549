//! The `torsion` binary end to end: started as a child process, fetched
//! from with curl, stopped by a signal; its exit status and its access log
//! checked.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod support;

use torsion::testing::{WatchedChild, stop_signals_at_default};

/// A running `torsion` child, and the URL it serves.
struct Torsion {
    child: WatchedChild,
    url: String,
}

impl Torsion {
    /// Starts `torsion ARGS` in `cwd` and waits for it to say where it
    /// serves.
    fn start(args: &[&str], cwd: &Path) -> Torsion {
        Torsion::start_with(args, cwd, &[])
    }

    /// [`start`](Torsion::start) with more environment variables.
    fn start_with(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Torsion {
        let mut command = stop_signals_at_default(env!("CARGO_BIN_EXE_torsion"));
        command.args(args).current_dir(cwd).env("RUST_LOG", "info");
        command.envs(env.iter().copied());
        let mut child = WatchedChild::spawn(&mut command).unwrap();
        // The runner announces "serving DIR on URL" once everything is up.
        let serving = child.wait_for_stderr(" on http://");
        let start = serving.find("http://").expect("a URL in the serving line");
        let url = serving[start..].trim().to_owned();
        Torsion { child, url }
    }

    /// `torsion web` serving `path` on a free loopback port, with `env`.
    fn serve_directory(path: &str, env: &[(&str, &str)]) -> Torsion {
        Torsion::start_with(
            &[
                "web",
                "--listen",
                "tcp:0:interface=127.0.0.1",
                "--path",
                path,
            ],
            Path::new("/"),
            env,
        )
    }

    /// Stops it with SIGTERM and checks it exited 0 without an error in
    /// its log, which it returns.
    fn stop_cleanly(self) -> Vec<String> {
        self.signal("TERM");
        let (code, log) = self.wait();
        assert_eq!(code, Some(0), "{log:#?}");
        assert!(!log.iter().any(|line| line.contains("ERROR")), "{log:#?}");
        log
    }

    fn wait_for_line(&mut self, needle: &str) -> String {
        self.child.wait_for_stderr(needle)
    }

    fn signal(&self, signal: &str) {
        self.child.signal(signal);
    }

    /// Waits (bounded) for the process to exit; its exit code and its whole
    /// log.
    fn wait(self) -> (Option<i32>, Vec<String>) {
        let exited = self.child.wait();
        (exited.status.code(), exited.err)
    }
}

fn curl(args: &[&str], url: &str) -> String {
    let output = Command::new("curl")
        .args(["-sS", "--fail", "--max-time", "20"])
        .args(args)
        .arg(url)
        .output()
        .expect("curl runs");
    assert!(output.status.success(), "curl {url}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), "hello from torsion\n").unwrap();
    std::fs::create_dir(dir.path().join("docs")).unwrap();
    std::fs::write(dir.path().join("docs/guide.txt"), "a guide\n").unwrap();
    dir
}

#[test]
fn torsion_web_serves_a_directory_logs_each_request_and_exits_0_on_sigterm() {
    let dir = site();
    let mut torsion = Torsion::serve_directory(dir.path().to_str().unwrap(), &[]);
    assert!(
        torsion.url.starts_with("http://127.0.0.1:"),
        "{}",
        torsion.url
    );
    assert_eq!(
        curl(&[], &format!("{}hello.txt", torsion.url)),
        "hello from torsion\n"
    );
    let listing = curl(&[], &format!("{}docs/", torsion.url));
    assert!(listing.contains("guide.txt"), "{listing}");
    let line = torsion.wait_for_line("\"GET /hello.txt HTTP/1.1\" 200 19 ");
    assert!(line.contains("torsion_web::access"), "{line}");
    assert!(line.contains("127.0.0.1:"), "the peer: {line}");

    let log = torsion.stop_cleanly();
    assert!(log.iter().any(|line| line.contains("stopped")), "{log:#?}");
}

#[test]
fn torsion_backend_io_uring_serves_through_the_ring_and_stops_cleanly() {
    let dir = site();
    // Larger than a socket takes at once, so sends complete in part.
    let big: String = (0..200_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    std::fs::write(dir.path().join("big.txt"), &big).unwrap();
    let mut torsion = Torsion::serve_directory(
        dir.path().to_str().unwrap(),
        &[("TORSION_BACKEND", "io_uring")],
    );
    let io_uring_allowed = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .is_ok_and(|value| value.trim() == "0");
    if io_uring_allowed {
        torsion.wait_for_line("reactor writes through io_uring");
    }
    assert_eq!(
        curl(&[], &format!("{}hello.txt", torsion.url)),
        "hello from torsion\n"
    );
    assert!(curl(&[], &format!("{}big.txt", torsion.url)) == big);
    torsion.stop_cleanly();
}

#[test]
fn with_two_reactors_each_has_a_socket_on_the_port_every_request_is_served_and_sigterm_stops_both()
{
    let dir = site();
    let mut torsion = Torsion::start(
        &[
            "web",
            "--listen",
            "tcp:0:interface=127.0.0.1",
            "--reactors",
            "2",
        ],
        dir.path(),
    );
    let serving = torsion.wait_for_line(" on http://");
    assert!(serving.contains("with 2 reactors"), "{serving}");
    let port: u16 = torsion
        .url
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .expect("a port in the URL");
    // Two sockets listening on the one port: one per reactor.
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let local = format!(":{port:04X} ");
    let listening = table
        .lines()
        .filter(|line| line.contains(&local) && line.split_whitespace().nth(3) == Some("0A"))
        .count();
    assert_eq!(listening, 2, "{table}");
    // Each curl is a connection of its own, hashed to either reactor.
    for _ in 0..8 {
        assert_eq!(
            curl(&[], &format!("{}hello.txt", torsion.url)),
            "hello from torsion\n"
        );
    }
    torsion.signal("TERM");
    let (code, log) = torsion.wait();
    assert_eq!(code, Some(0), "{log:#?}");
    let served = log
        .iter()
        .filter(|line| line.contains("\"GET /hello.txt HTTP/1.1\" 200"))
        .count();
    assert_eq!(served, 8, "{log:#?}");
    assert!(log.iter().any(|line| line.contains("stopped")), "{log:#?}");
    assert!(!log.iter().any(|line| line.contains("ERROR")), "{log:#?}");
}

#[test]
fn sigint_stops_it_cleanly_too_and_the_default_path_is_the_current_directory() {
    let dir = site();
    let mut torsion = Torsion::start(
        &["web", "--listen", "tcp:0:interface=127.0.0.1"],
        dir.path(),
    );
    assert_eq!(
        curl(&[], &format!("{}hello.txt", torsion.url)),
        "hello from torsion\n"
    );
    torsion.wait_for_line("GET /hello.txt");
    torsion.signal("INT");
    let (code, log) = torsion.wait();
    assert_eq!(code, Some(0), "{log:#?}");
}

#[test]
fn a_missing_directory_or_a_bad_endpoint_is_a_clear_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_torsion"))
        .args([
            "web",
            "--path",
            "/no/such/directory",
            "--listen",
            "tcp:0:interface=127.0.0.1",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot serve /no/such/directory"),
        "{stderr}"
    );

    let dir = site();
    let output = Command::new(env!("CARGO_BIN_EXE_torsion"))
        .args(["web", "--listen", "tcp:notaport", "--path"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--listen tcp:notaport"), "{stderr}");
}

#[test]
fn help_documents_the_defaults() {
    let output = Command::new(env!("CARGO_BIN_EXE_torsion"))
        .args(["web", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.contains("tcp:8080:interface=127.0.0.1"), "{help}");
    assert!(help.contains("[default: .]"), "{help}");
}

#[test]
fn a_download_in_flight_finishes_before_sigterm_stops_the_server() {
    let dir = site();
    let big = vec![7u8; 24 << 20];
    std::fs::write(dir.path().join("big.bin"), &big).unwrap();
    let torsion = Torsion::serve_directory(dir.path().to_str().unwrap(), &[]);
    let url = format!("{}big.bin", torsion.url);
    // About 3 s at 8 MiB/s (more than socket buffers hold); the signal
    // comes once the first bytes arrived, so the download is surely in
    // flight however slowly curl started.
    let mut curl = Command::new("curl")
        .args([
            "-sS",
            "--fail",
            "--max-time",
            "20",
            "--limit-rate",
            "8M",
            "-o",
            "-",
        ])
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut body = curl.stdout.take().unwrap();
    let (started, first_bytes) = mpsc::channel();
    let download = std::thread::spawn(move || {
        let mut received = Vec::new();
        let mut chunk = vec![0u8; 64 << 10];
        loop {
            let n = body.read(&mut chunk).unwrap();
            if n == 0 {
                break;
            }
            if received.is_empty() {
                let _ = started.send(());
            }
            received.extend_from_slice(&chunk[..n]);
        }
        received
    });
    if first_bytes.recv_timeout(Duration::from_secs(20)).is_err() {
        let _ = curl.kill();
        let output = curl.wait_with_output().unwrap();
        panic!(
            "the download never started: curl {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    torsion.signal("TERM");
    let received = download.join().unwrap();
    let output = curl.wait_with_output().unwrap();
    let (code, log) = torsion.wait();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "curl: {stderr}; torsion: {log:#?}");
    assert!(received == big, "the whole file arrived");
    assert_eq!(code, Some(0), "{log:#?}");
}

/// A site with a file too big to fit in the socket buffers, and a curl
/// downloading it at 10 kB/s from `torsion` (so the download is surely in
/// flight for the whole test); returns once the first bytes arrived.
struct SlowDownload {
    curl: Child,
}

impl SlowDownload {
    fn start(torsion: &Torsion) -> SlowDownload {
        let mut curl = Command::new("curl")
            .args(["-sS", "--max-time", "30", "--limit-rate", "10k", "-o", "-"])
            .arg(format!("{}big.bin", torsion.url))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut body = curl.stdout.take().unwrap();
        let (started, first_bytes) = mpsc::channel();
        std::thread::spawn(move || {
            let mut chunk = vec![0u8; 64 << 10];
            let mut announced = false;
            while body.read(&mut chunk).is_ok_and(|n| n > 0) {
                if !announced {
                    announced = true;
                    let _ = started.send(());
                }
            }
        });
        if first_bytes.recv_timeout(Duration::from_secs(20)).is_err() {
            let _ = curl.kill();
            panic!("the download never started");
        }
        SlowDownload { curl }
    }
}

impl Drop for SlowDownload {
    fn drop(&mut self) {
        let _ = self.curl.kill();
        let _ = self.curl.wait();
    }
}

fn site_with_a_big_file() -> tempfile::TempDir {
    let dir = site();
    std::fs::write(dir.path().join("big.bin"), vec![7u8; 16 << 20]).unwrap();
    dir
}

fn start_serving(dir: &tempfile::TempDir, shutdown_timeout: &str) -> Torsion {
    Torsion::start(
        &[
            "web",
            "--listen",
            "tcp:0:interface=127.0.0.1",
            "--path",
            dir.path().to_str().unwrap(),
            "--shutdown-timeout",
            shutdown_timeout,
        ],
        Path::new("/"),
    )
}

#[test]
fn stopping_with_a_download_in_flight_says_how_long_it_waits_for_how_many_connections() {
    let dir = site_with_a_big_file();
    let mut torsion = start_serving(&dir, "30");
    let _download = SlowDownload::start(&torsion);
    torsion.signal("INT");
    let line = torsion.wait_for_line("waiting up to");
    assert!(
        line.contains("waiting up to 30 s for 1 connection"),
        "{line}"
    );
    assert!(line.contains("INFO"), "{line}");
    torsion.signal("INT");
    let (code, log) = torsion.wait();
    assert_eq!(code, Some(0), "{log:#?}");
}

#[test]
fn a_second_sigint_stops_at_once_without_waiting_for_the_download() {
    let dir = site_with_a_big_file();
    let mut torsion = start_serving(&dir, "30");
    let _download = SlowDownload::start(&torsion);
    torsion.signal("INT");
    torsion.wait_for_line("waiting up to");
    let second = Instant::now();
    torsion.signal("INT");
    let (code, log) = torsion.wait();
    let took = second.elapsed();
    assert!(took < Duration::from_secs(1), "{took:?}: {log:#?}");
    assert_eq!(code, Some(0), "{log:#?}");
    assert!(
        log.iter()
            .any(|line| line.contains("stopping now without waiting")),
        "{log:#?}"
    );
    assert!(!log.iter().any(|line| line.contains("ERROR")), "{log:#?}");
}

#[test]
fn a_shutdown_that_times_a_download_out_logs_no_error() {
    let dir = site_with_a_big_file();
    let mut torsion = start_serving(&dir, "0.5");
    let _download = SlowDownload::start(&torsion);
    torsion.signal("TERM");
    torsion.wait_for_line("waiting up to 0.5 s for 1 connection");
    let (code, log) = torsion.wait();
    assert_eq!(code, Some(0), "{log:#?}");
    assert!(
        log.iter()
            .any(|line| line.contains("shutdown timed out; closing")),
        "the download was cut by the timeout: {log:#?}"
    );
    assert!(!log.iter().any(|line| line.contains("ERROR")), "{log:#?}");
}

#[test]
fn a_bad_shutdown_timeout_is_a_clear_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_torsion"))
        .args(["web", "--shutdown-timeout", "soon"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("\"soon\" is not a number of seconds"),
        "{stderr}"
    );
}

/// The status curl got for `url`.
fn status_of(url: &str) -> String {
    let output = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "20",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ])
        .arg(url)
        .output()
        .expect("curl runs");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn hidden_files_answer_404_unless_shown_and_help_says_so() {
    let dir = site();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    std::fs::write(dir.path().join(".git/config"), "[core]\n").unwrap();
    std::fs::write(dir.path().join(".env"), "SECRET=1\n").unwrap();
    let listen = ["web", "--listen", "tcp:0:interface=127.0.0.1"];

    let hidden = Torsion::start(&listen, dir.path());
    assert_eq!(status_of(&format!("{}.git/config", hidden.url)), "404");
    assert_eq!(status_of(&format!("{}.env", hidden.url)), "404");
    let listing = curl(&[], &hidden.url);
    assert!(
        listing.contains("hello.txt") && !listing.contains(".git"),
        "{listing}"
    );
    hidden.signal("TERM");
    assert_eq!(hidden.wait().0, Some(0));

    let shown = Torsion::start(&[&listen[..], &["--show-hidden"]].concat(), dir.path());
    assert_eq!(curl(&[], &format!("{}.git/config", shown.url)), "[core]\n");
    shown.signal("TERM");
    assert_eq!(shown.wait().0, Some(0));

    let output = Command::new(env!("CARGO_BIN_EXE_torsion"))
        .args(["web", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.contains("--show-hidden"), "{help}");
    assert!(help.contains("(.git/, .env)"), "{help}");
}
