//! Debian's OpenSSH client against the torsion SSH server: commands by
//! exec, the interactive shell under `ssh -tt`, a refused key, and the
//! reactor's real connections seen through it.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::Duration;

use support::{Keys, Served, output};

#[test]
fn openssh_runs_commands_by_exec_and_gets_their_exit_status() {
    let keys = Keys::new();
    let served = Served::start(&keys);

    let (code, stdout, stderr) = output(served.ssh(&keys.operator).arg("help"));
    assert_eq!(code, Some(0), "{stderr}");
    for command in ["connections", "timers", "pools", "exit"] {
        assert!(stdout.contains(command), "help lists {command}: {stdout}");
    }

    // The ticking timer is pending whenever the snapshot is taken.
    let (code, stdout, stderr) = output(served.ssh(&keys.operator).arg("timers"));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.starts_with("1 pending timer\nnext in: "), "{stdout}");

    let (code, stdout, _) = output(served.ssh(&keys.operator).arg("pools"));
    assert_eq!(code, Some(0));
    assert!(stdout.contains("thread pool"), "{stdout}");

    let (code, stdout, stderr) = output(served.ssh(&keys.operator).arg("frobnicate"));
    assert_eq!(code, Some(127), "an unknown command's status");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("frobnicate: unknown command; the commands are: help, connections"),
        "{stderr}"
    );

    let (code, _, stderr) = output(served.ssh(&keys.operator).args(["timers", "soon"]));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("timers: takes no arguments"), "{stderr}");

    let (code, _, _) = output(served.ssh(&keys.operator).args(["exit", "7"]));
    assert_eq!(code, Some(7));
}

#[test]
fn the_shell_works_under_ssh_tt_with_commands_on_stdin() {
    let keys = Keys::new();
    let served = Served::start(&keys);

    let mut child = served
        .ssh(&keys.operator)
        .arg("-tt")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ssh");
    // A typo erased with backspace, an unknown command, then exit with a
    // status of its own.
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"help\rtimerz\x7fs\rbogus\rconnections\rexit 3\r")
        .unwrap();
    let done = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert_eq!(done.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains("torsion manhole, process"), "{stdout}");
    assert!(stdout.contains("torsion> "), "the prompt: {stdout}");
    // The terminal sees the typo, its erasure and the fix.
    assert!(stdout.contains("timerz\x08 \x08s\r\n"), "{stdout:?}");
    assert!(stdout.contains("1 pending timer\r\n"), "{stdout:?}");
    assert!(
        stdout.contains("bogus: unknown command"),
        "on the terminal: {stdout:?}"
    );
    // The SSH session itself is tokio's socket, not the reactor's.
    assert!(stdout.contains("0 open connections\r\n"), "{stdout}");
}

#[test]
fn a_shell_without_a_terminal_reads_lines_and_ends_at_eof() {
    let keys = Keys::new();
    let served = Served::start(&keys);
    let mut child = served
        .ssh(&keys.operator)
        .arg("-T")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ssh");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"timers\nnope\n")
        .unwrap();
    let done = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&done.stdout);
    let stderr = String::from_utf8_lossy(&done.stderr);
    // No prompt and no echo on a pipe; the last command's status at EOF.
    assert!(stdout.starts_with("1 pending timer\n"), "{stdout:?}");
    assert!(!stdout.contains("torsion>"), "{stdout:?}");
    assert!(stderr.contains("nope: unknown command"), "{stderr}");
    assert_eq!(done.status.code(), Some(127));
}

#[test]
fn a_key_not_in_authorized_keys_is_refused() {
    let keys = Keys::new();
    let served = Served::start(&keys);
    let (code, stdout, stderr) = output(served.ssh(&keys.stranger).arg("connections"));
    assert_eq!(code, Some(255), "ssh fails: {stdout} {stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("Permission denied (publickey)"), "{stderr}");
    // The operator still gets in.
    let (code, _, stderr) = output(served.ssh(&keys.operator).arg("status"));
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn a_changed_host_key_stops_openssh_before_it_logs_in() {
    let keys = Keys::new();
    let served = Served::start(&keys);
    let other = torsion_ssh::HostKey::generate().unwrap();
    std::fs::write(
        &served.known_hosts,
        format!(
            "[127.0.0.1]:{} {}\n",
            served.ssh.port(),
            other.public_openssh()
        ),
    )
    .unwrap();
    let (code, stdout, stderr) = output(served.ssh(&keys.operator).arg("connections"));
    assert_eq!(code, Some(255), "{stdout} {stderr}");
    assert!(stdout.is_empty());
    assert!(stderr.contains("Host key verification failed"), "{stderr}");
}

#[test]
fn connections_lists_the_reactors_real_connections() {
    const N: usize = 5;
    let keys = Keys::new();
    let served = Served::start(&keys);
    let mut clients = Vec::new();
    for i in 0..N {
        let mut stream = TcpStream::connect(served.echo).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        // An echo back means the reactor has accepted it.
        let message = format!("client {i}\n");
        stream.write_all(message.as_bytes()).unwrap();
        let mut echoed = vec![0; message.len()];
        stream.read_exact(&mut echoed).unwrap();
        assert_eq!(echoed, message.as_bytes());
        clients.push(stream);
    }

    let (code, stdout, stderr) = output(served.ssh(&keys.operator).arg("connections"));
    assert_eq!(code, Some(0), "{stderr}");
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some(format!("{N} open connections").as_str()));
    assert!(lines.next().unwrap().starts_with("PEER"), "{stdout}");
    for client in &clients {
        let peer = client.local_addr().unwrap().to_string();
        let row = stdout
            .lines()
            .find(|line| line.starts_with(&format!("{peer} ")))
            .unwrap_or_else(|| panic!("{peer} listed in {stdout}"));
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells[1], served.echo.to_string(), "{row}");
        assert_eq!(cells[2], "tcp", "{row}");
        assert!(cells[3].ends_with("Echo"), "the protocol: {row}");
        // The kernel's counts: the 9 bytes each way.
        assert_eq!(&cells[4..6], ["9", "9"], "{row}");
    }

    // One closed is one fewer.
    drop(clients.pop());
    let expected = format!("{} open connections", N - 1);
    let mut seen = String::new();
    for _ in 0..50 {
        seen = output(served.ssh(&keys.operator).arg("connections")).1;
        if seen.starts_with(&expected) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(seen.starts_with(&expected), "{seen}");

    let (_, ports, _) = output(served.ssh(&keys.operator).arg("ports"));
    assert!(ports.contains(&served.echo.to_string()), "{ports}");
    assert!(ports.contains("tcp"), "{ports}");
}
