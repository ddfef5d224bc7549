//! `torsion run FILE` end to end: a file of several services runs in one
//! child process and each answers its real client; bad files are refused
//! with the line of the mistake; the log can be JSON lines; the pid file
//! lives as long as the process.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod support;

use support::{curl, get, start_torsion};
use torsion::testing::WatchedChild;

/// A port free a moment ago, for the one service whose URL the file
/// itself must name.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Where the service `name` announced it serves: the rest of its line
/// after " on ".
fn announced(running: &mut WatchedChild, name: &str) -> String {
    let line = running.wait_for_stderr(&format!("{name}: "));
    let place = line.rsplit_once(" on ").expect("an address").1;
    place.trim().to_owned()
}

#[test]
fn a_file_of_several_services_runs_them_all_and_each_answers() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    std::fs::create_dir(&site).unwrap();
    std::fs::write(site.join("hello.txt"), "static hello\n").unwrap();
    std::fs::write(site.join("rate.json"), r#"{"rate": 1.5}"#).unwrap();
    let site_port = free_port();
    let file = dir.path().join("services.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[[service]]
name = "site"
kind = "static"
listen = "tcp:{site_port}:interface=127.0.0.1"
path = "{site}"

[[service]]
name = "api"
kind = "router"
listen = "tcp:0:interface=127.0.0.1"
routes = [
    {{ path = "/hello", text = "hello from the router" }},
    {{ path = "/things", method = "POST", status = 201, json = {{ created = true }} }},
]

[[service]]
name = "echo"
kind = "echo"
listen = "tcp:0:interface=127.0.0.1"

[[service]]
name = "nc-chat"
kind = "line-chat"
listen = "tcp:0:interface=127.0.0.1"

[[service]]
name = "web-chat"
kind = "websocket-chat"
listen = "tcp:0:interface=127.0.0.1"

[[service]]
name = "rates"
kind = "rate-poller"
source = "http://127.0.0.1:{site_port}/rate.json"
interval = 1
listen = "tcp:0:interface=127.0.0.1"
"#,
            site = site.display()
        ),
    )
    .unwrap();
    let pidfile = dir.path().join("torsion.pid");
    let mut running = start_torsion(&[
        "run",
        file.to_str().unwrap(),
        "--pidfile",
        pidfile.to_str().unwrap(),
    ]);
    let site_url = announced(&mut running, "site");
    assert_eq!(site_url, format!("http://127.0.0.1:{site_port}/"));
    let api = announced(&mut running, "api");
    let echo = announced(&mut running, "echo");
    let nc_chat = announced(&mut running, "nc-chat");
    let web_chat = announced(&mut running, "web-chat");
    let rates = announced(&mut running, "rates");

    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap().trim(),
        running.id().to_string()
    );
    assert_eq!(get(&format!("{site_url}hello.txt")), "static hello\n");
    assert_eq!(get(&format!("{api}hello")), "hello from the router");
    let created = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "10",
            "-X",
            "POST",
            "-w",
            " %{http_code}",
        ])
        .arg(format!("{api}things"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&created.stdout),
        r#"{"created":true} 201"#
    );
    assert_eq!(curl(&format!("{api}missing")).0, 404);

    let mut stream = TcpStream::connect(&echo).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(b"ping").unwrap();
    let mut pong = [0; 4];
    stream.read_exact(&mut pong).unwrap();
    assert_eq!(&pong, b"ping");

    let chat = TcpStream::connect(&nc_chat).unwrap();
    chat.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut welcome = String::new();
    BufReader::new(&chat).read_line(&mut welcome).unwrap();
    assert!(welcome.starts_with("welcome, "), "{welcome}");
    assert!(get(&web_chat).contains("new WebSocket("));

    // The poller reads the static service's file.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status: serde_json::Value =
            serde_json::from_str(&get(&format!("{rates}status"))).unwrap();
        if status["rate"] == serde_json::json!(1.5) {
            break;
        }
        assert!(Instant::now() < deadline, "no rate: {status}");
        std::thread::sleep(Duration::from_millis(100));
    }

    running.signal("TERM");
    let exited = running.wait();
    let (code, log) = (exited.status.code(), exited.err);
    assert_eq!(code, Some(0), "{log:#?}");
    assert!(!log.iter().any(|line| line.contains("ERROR")), "{log:#?}");
    assert!(!pidfile.exists(), "the pid file outlived the process");
}

/// `torsion run` on a file of `text`: its exit code and stderr.
fn run_file(text: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, text).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_torsion"))
        .arg("run")
        .arg(&file)
        .current_dir(dir.path())
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn assert_refused_at(text: &str, line: usize, says: &str) {
    let (code, stderr) = run_file(text);
    assert_eq!(code, Some(1), "{stderr}");
    let place = format!("bad.toml:{line}: ");
    assert!(stderr.contains(&place), "not at line {line}: {stderr}");
    assert!(stderr.contains(says), "does not say {says:?}: {stderr}");
}

const ECHO: &str =
    "[[service]]\nname = \"echo\"\nkind = \"echo\"\nlisten = \"tcp:0:interface=127.0.0.1\"\n\n";

#[test]
fn an_unknown_kind_is_refused_at_its_line() {
    let text = format!("{ECHO}[[service]]\nname = \"b\"\nkind = \"ecko\"\nlisten = \"tcp:0\"\n");
    assert_refused_at(
        &text,
        8,
        "unknown kind \"ecko\"; the kinds are static, router, echo",
    );
}

#[test]
fn a_missing_field_is_refused_at_its_service_s_line() {
    let text =
        format!("{ECHO}[[service]]\nname = \"site\"\nkind = \"static\"\nlisten = \"tcp:0\"\n");
    assert_refused_at(&text, 6, "service \"site\" (static) is missing `path`");
    assert_refused_at("[[service]]\nkind = \"echo\"\n", 1, "missing field `name`");
}

#[test]
fn a_bad_endpoint_string_is_refused_at_its_line() {
    let text =
        format!("{ECHO}[[service]]\nname = \"b\"\nkind = \"echo\"\nlisten = \"tcp:notaport\"\n");
    assert_refused_at(&text, 9, "bad endpoint \"tcp:notaport\"");
}

#[test]
fn a_duplicate_name_is_refused_at_the_second() {
    let text = format!("{ECHO}[[service]]\nname = \"echo\"\nkind = \"echo\"\nlisten = \"tcp:0\"\n");
    assert_refused_at(
        &text,
        7,
        "a second service named \"echo\" (the first is on line 2)",
    );
}

#[test]
fn a_port_in_use_fails_the_start_and_exits_1() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let text = format!(
        "{ECHO}[[service]]\nname = \"b\"\nkind = \"echo\"\nlisten = \"tcp:{port}:interface=127.0.0.1\"\n"
    );
    let (code, stderr) = run_file(&text);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("service b failed to start"),
        "the failed service is not named: {stderr}"
    );
    assert!(stderr.contains("Address already in use"), "{stderr}");
}

#[test]
fn the_json_log_format_writes_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("services.toml");
    std::fs::write(&file, ECHO).unwrap();
    let mut running = start_torsion(&["--log-format", "json", "run", file.to_str().unwrap()]);
    running.wait_for_stderr("echo: listening on 127.0.0.1:");
    running.signal("TERM");
    let exited = running.wait();
    let (code, log) = (exited.status.code(), exited.err);
    assert_eq!(code, Some(0), "{log:#?}");
    assert!(log.len() >= 3, "{log:#?}");
    for line in &log {
        let entry: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}"));
        assert!(entry["level"].is_string(), "{line}");
        assert!(entry["fields"]["message"].is_string(), "{line}");
    }
    assert!(
        log.iter()
            .any(|line| line.contains("\"message\":\"stopped\"")),
        "{log:#?}"
    );
}

#[test]
fn a_pid_file_of_a_running_process_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("services.toml");
    std::fs::write(&file, ECHO).unwrap();
    let pidfile = dir.path().join("torsion.pid");
    // This test's own process is running.
    std::fs::write(&pidfile, format!("{}\n", std::process::id())).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_torsion"))
        .arg("run")
        .arg(&file)
        .arg("--pidfile")
        .arg(&pidfile)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is torsion running already?"), "{stderr}");
    assert!(Path::new(&pidfile).exists());
}
