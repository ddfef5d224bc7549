//! What the `torsion` command's tests share: the command started as a
//! watched child process, stopped by a signal; curl as the HTTP client;
//! the pinned Python clients.

#![allow(dead_code)] // each test binary uses its own part of this

use std::process::Command;

use torsion::testing::{WatchedChild, stop_signals_at_default};

/// torsion-web's installer of the pinned Python clients (websockets,
/// requests), shared rather than copied: same requirements file, same
/// directory under the target directory, installed once for both crates.
#[path = "../../../torsion-web/tests/support/python.rs"]
mod python;

#[allow(unused_imports)] // the web tests need no Python
pub use python::{browser_driver_python, python_command};

/// torsion-web's browser test support (headless Chromium through
/// selenium), shared the same way.
#[path = "../../../torsion-web/tests/support/browser.rs"]
mod browser;

#[allow(unused_imports)] // only the browser test drives a browser
pub use browser::{chat_checks, clear_screenshots, run_browser_checks, screenshot_directory};

/// Starts `torsion ARGS` with `RUST_LOG=info` and SIGINT and SIGTERM at
/// their default disposition, its stdout and its log (stderr) read line by
/// line.
pub fn start_torsion(args: &[&str]) -> WatchedChild {
    let mut command = stop_signals_at_default(env!("CARGO_BIN_EXE_torsion"));
    command.args(args).env("RUST_LOG", "info");
    WatchedChild::spawn(&mut command).unwrap()
}

/// `curl -sS URL` (20 s at most): the status code and the body.
pub fn curl(url: &str) -> (u16, String) {
    let output = Command::new("curl")
        .args(["-sS", "--max-time", "20", "-w", "\n%{http_code}"])
        .arg(url)
        .output()
        .expect("curl runs");
    assert!(output.status.success(), "curl {url}: {output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.parse().unwrap(), body.to_owned())
}

/// The body of `GET url`, which must answer 200.
pub fn get(url: &str) -> String {
    let (code, body) = curl(url);
    assert_eq!(code, 200, "GET {url}: {body}");
    body
}
