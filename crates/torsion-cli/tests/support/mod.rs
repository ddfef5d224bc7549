//! What the `torsion` command's tests share: the command started as a
//! child process with its output read line by line, stopped by a signal;
//! curl as the HTTP client; the pinned Python clients.

#![allow(dead_code)] // each test binary uses its own part of this

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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

/// A running `torsion` child, its stdout and stderr read line by line.
pub struct Running {
    child: Child,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
    /// Lines of stdout read so far.
    pub out: Vec<String>,
    /// Lines of stderr (the log) read so far.
    pub log: Vec<String>,
}

impl Running {
    /// Starts `torsion ARGS` with `RUST_LOG=info` and SIGINT and SIGTERM at
    /// their default disposition.
    pub fn start(args: &[&str]) -> Running {
        let mut child = with_default_stop_signals(&mut Command::new(env!("CARGO_BIN_EXE_torsion")))
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = lines_of(child.stdout.take().unwrap());
        let stderr = lines_of(child.stderr.take().unwrap());
        Running {
            child,
            stdout,
            stderr,
            out: Vec::new(),
            log: Vec::new(),
        }
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits (20 s at most) for a line of stdout containing `needle`.
    pub fn wait_for_stdout(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(line) = self.out.iter().find(|line| line.contains(needle)) {
                return line.clone();
            }
            self.log.extend(self.stderr.try_iter());
            let left = deadline.saturating_duration_since(Instant::now());
            match self
                .stdout
                .recv_timeout(left.min(Duration::from_millis(100)))
            {
                Ok(line) => self.out.push(line),
                Err(_) if Instant::now() < deadline => {}
                Err(_) => panic!(
                    "torsion never printed {needle:?}; stdout {:#?}, log {:#?}",
                    self.out, self.log
                ),
            }
        }
    }

    /// Waits (20 s at most) for a line of the log containing `needle`.
    pub fn wait_for_log(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(line) = self.log.iter().find(|line| line.contains(needle)) {
                return line.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) => self.log.push(line),
                Err(_) => panic!("torsion never logged {needle:?}; it logged {:#?}", self.log),
            }
        }
    }

    /// Sends `signal` (`-TERM`, `-INT`) with the shell's own `kill`.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!("kill {signal} {}", self.child.id()))
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits (20 s at most) for the process to exit; its exit code, with
    /// every line it printed and logged.
    pub fn wait(mut self) -> (Option<i32>, Vec<String>, Vec<String>) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("torsion did not exit; it logged {:#?}", self.log);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The reader threads end with the pipes; collect what they still had.
        while let Ok(line) = self.stdout.recv_timeout(Duration::from_millis(500)) {
            self.out.push(line);
        }
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_millis(500)) {
            self.log.push(line);
        }
        (
            status.code(),
            std::mem::take(&mut self.out),
            std::mem::take(&mut self.log),
        )
    }
}

impl Drop for Running {
    /// A test that failed half-way leaves no server behind.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn lines_of(stream: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

/// Gives the child SIGINT and SIGTERM at their default disposition, which
/// the reactor needs to take them: a test run started in the background of
/// a non-interactive shell inherits SIGINT ignored, and an ignored signal
/// stays ignored across exec.
pub fn with_default_stop_signals(command: &mut Command) -> &mut Command {
    // SAFETY: between fork and exec the closure only calls signal(2), which
    // is async-signal-safe, and allocates nothing.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
            Ok(())
        })
    }
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
