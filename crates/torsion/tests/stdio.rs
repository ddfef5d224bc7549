//! `Reactor::standard_io` in a real child process (this test binary run
//! again with one ignored test): what the parent writes to the child's
//! stdin comes back on its stdout through the protocol, a mebibyte of it
//! with both pipes full on the way, and a child whose stdout reader goes
//! away hears of it and ends instead of hanging.
//!
//! The test harness prints a few lines of its own on the child's stdout,
//! so the protocol frames what it writes with `BEGIN` and `END` lines.

use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use torsion::error::ConnectionDone;
use torsion::net::{HalfClose, Protocol, Transport};
use torsion::{Failure, Reactor};

/// Echoes stdin in capitals between a `BEGIN` and an `END` line, then
/// stops the reactor once both sides closed, printing why to stderr.
#[derive(Default)]
struct Shout {
    out: Option<Transport>,
}

impl Protocol for Shout {
    fn connection_made(&mut self, transport: &Transport) {
        transport.write(b"BEGIN\n");
        self.out = Some(transport.clone());
    }

    fn data_received(&mut self, data: &[u8]) {
        if let Some(out) = &self.out {
            out.write(&data.to_ascii_uppercase());
        }
    }

    fn read_connection_lost(&mut self) -> HalfClose {
        if let Some(out) = &self.out {
            out.write(b"END\n");
        }
        HalfClose::Close
    }

    fn connection_lost(&mut self, reason: Failure) {
        if reason.is::<ConnectionDone>() {
            eprintln!("closed cleanly");
        } else {
            eprintln!("lost: {reason}");
        }
        Reactor::current().unwrap().stop().unwrap();
    }
}

/// The child's side: serves its own stdin and stdout until both close.
#[test]
#[ignore = "run by the tests below in a child process"]
fn child_shouts_its_stdin() {
    let reactor = Reactor::new().unwrap();
    reactor.standard_io(Shout::default()).unwrap();
    reactor.run().unwrap();
}

/// Runs the child, feeding it `input` from one thread and reading its
/// stdout from another (so neither pipe can fill and stall both sides),
/// and returns what it printed; killed if not done within 30 s. With
/// `hang_up`, its stdout is read only up to the protocol's `BEGIN` and
/// then closed.
fn run_child(input: Vec<u8>, hang_up: bool) -> Output {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_shouts_its_stdin",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let writer = std::thread::spawn(move || {
        // Fails once the child stops reading; the child says why.
        let _ = stdin.write_all(&input);
    });
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        if hang_up {
            let mut chunk = [0; 4096];
            while find(&out, b"BEGIN\n").is_none() {
                let n = stdout.read(&mut chunk).unwrap();
                assert!(n > 0, "the child closed its stdout first");
                out.extend_from_slice(&chunk[..n]);
            }
            // Nobody reads what the child writes from here on.
            return out;
        }
        stdout.read_to_end(&mut out).unwrap();
        out
    });
    let mut stderr = child.stderr.take().unwrap();
    let (done, waited) = mpsc::channel();
    let pid = child.id();
    std::thread::spawn(move || {
        let mut err = Vec::new();
        stderr.read_to_end(&mut err).unwrap();
        let status = child.wait().unwrap();
        let _ = done.send((status, err));
    });
    let Ok((status, stderr)) = waited.recv_timeout(Duration::from_secs(30)) else {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
        panic!("the child did not end within 30 s");
    };
    writer.join().unwrap();
    let stdout = reader.join().unwrap();
    Output {
        status,
        stdout,
        stderr,
    }
}

/// What the protocol wrote: between its `BEGIN` and `END` lines.
fn framed(stdout: &[u8]) -> &[u8] {
    let begin = find(stdout, b"BEGIN\n").expect("the protocol began") + 6;
    let end = begin + find(&stdout[begin..], b"END\n").expect("the protocol ended");
    &stdout[begin..end]
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[test]
fn what_stdin_brings_comes_back_on_stdout_and_both_close_at_its_end() {
    let output = run_child(b"hello\nworld\n".to_vec(), false);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(framed(&output.stdout), b"HELLO\nWORLD\n");
    assert!(stderr.contains("closed cleanly"), "{stderr}");
}

#[test]
fn a_mebibyte_goes_through_whole_with_both_pipes_full_on_the_way() {
    let input: Vec<u8> = (0..1 << 20).map(|i| b"abcdefghij\n"[i % 11]).collect();
    let output = run_child(input.clone(), false);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let echoed = framed(&output.stdout);
    assert_eq!(echoed.len(), input.len());
    assert!(echoed == input.to_ascii_uppercase(), "the bytes changed");
}

#[test]
fn a_child_whose_stdout_reader_goes_away_hears_it_and_ends() {
    // More than a pipe holds, so the child writes into the closed pipe.
    // (Its exit status is the harness's, which then fails to print to the
    // closed stdout too; what matters is that the child ended, told why.)
    let output = run_child(vec![b'x'; 1 << 20], true);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("lost: "), "{stderr}");
}
