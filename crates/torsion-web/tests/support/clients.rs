//! The clients the tests drive from a thread of their own: curl, Python,
//! and raw HTTP/1 bytes on a socket for what those clients would clean up.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Output};
use std::time::Duration;

use torsion::{Failure, Reactor};

use super::python_command;

/// One HTTP/1 response: status, headers (as sent) and body.
#[derive(Debug)]
pub struct Fetched {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Fetched {
    /// The first header called `name`, in any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Parses one HTTP/1 response: its head, then everything after it as the
/// body (status 0 when there is no status line).
pub fn parse_response(raw: &[u8]) -> Fetched {
    let end = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    Fetched {
        status,
        headers,
        body: raw.get(end + 4..).unwrap_or_default().to_vec(),
    }
}

/// Runs curl with `args` (plus `-sS` and a time limit) and gives its
/// output as it is, for a test that looks at curl's exit, log or raw
/// output itself.
pub fn curl_output(args: &[&str]) -> Output {
    Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args)
        .output()
        .expect("curl runs")
}

/// Runs curl with `args` (plus `-i`), fails unless curl succeeded, and
/// parses the response it ended on: with `-i` curl prints an interim
/// response (100 Continue) and each redirect it followed before it.
pub fn curl(args: &[&str]) -> Fetched {
    let output = curl_output(&[&["-i"], args].concat());
    assert!(output.status.success(), "curl {args:?}: {output:?}");
    let mut fetched = parse_response(&output.stdout);
    while fetched.body.starts_with(b"HTTP/") {
        fetched = parse_response(&fetched.body);
    }
    fetched
}

/// Writes `request` on a fresh connection and reads, as text, until the
/// server closes it (or `limit` passes without a byte).
pub fn exchange(address: SocketAddr, request: &[u8], limit: Duration) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(limit)).unwrap();
    stream.write_all(request).unwrap();
    let mut received = Vec::new();
    let _ = stream.read_to_end(&mut received);
    String::from_utf8_lossy(&received).into_owned()
}

/// A GET for a raw request target, written as is on the request line
/// (where curl would normalize it), and the response to it.
pub fn raw_get(address: SocketAddr, target: &[u8]) -> Fetched {
    let mut request = b"GET ".to_vec();
    request.extend_from_slice(target);
    request.extend_from_slice(b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    parse_response(exchange(address, &request, Duration::from_secs(10)).as_bytes())
}

/// Runs a Python script with `args`, for at most 30 s; gives its standard
/// output, failing the test when the script fails.
pub fn python(script: &str, args: &[&str]) -> String {
    let output = python_command()
        .args(["-c", script])
        .args(args)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "python failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// [`python`] with `requests`, `sys`, `json` and `time` imported first.
pub fn python_requests(script: &str, args: &[&str]) -> String {
    python(&format!("import requests, sys, json, time\n{script}"), args)
}

/// [`python`] on a thread, so that the reactor the caller runs on goes on
/// serving meanwhile; its failure fails the Deferred.
pub async fn python_on(
    reactor: &Reactor,
    script: &'static str,
    args: Vec<String>,
) -> Result<String, Failure> {
    reactor
        .defer_to_thread(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            python(script, &args)
        })
        .await
}
