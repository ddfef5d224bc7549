//! What the SSH tests share: keys made with OpenSSH's own `ssh-keygen`,
//! a reactor on a thread of its own serving an echo server, a ticking
//! timer and the SSH door, and `ssh` commands with every option pinned
//! (no user configuration, no agent, the host key checked against a
//! `known_hosts` file written for the test).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use torsion::reactor::Signals;
use torsion::testing::echo_server;
use torsion::{Reactor, ReactorHandle};
use torsion_ssh::{AuthorizedKeys, HostKey, ServerConfig, SshServer};

/// The user name the tests log in as (any name is let in with a key).
pub const USER: &str = "operator";

/// Keys in a temporary directory: an authorized one, one that is not,
/// and the server's host key.
pub struct Keys {
    pub dir: tempfile::TempDir,
    pub operator: PathBuf,
    pub stranger: PathBuf,
    pub authorized_keys: PathBuf,
    pub host_key: PathBuf,
}

impl Keys {
    pub fn new() -> Keys {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let operator = keygen(dir.path(), "operator");
        let stranger = keygen(dir.path(), "stranger");
        let authorized_keys = dir.path().join("authorized_keys");
        let public = std::fs::read_to_string(operator.with_extension("pub")).unwrap();
        std::fs::write(&authorized_keys, format!("# the tests' operator\n{public}")).unwrap();
        let host_key = dir.path().join("ssh_host_ed25519_key");
        Keys {
            dir,
            operator,
            stranger,
            authorized_keys,
            host_key,
        }
    }

    /// The server's configuration: the host key made (and written) on
    /// first use, refusals answered quickly so the tests stay fast.
    pub fn server_config(&self) -> ServerConfig {
        ServerConfig::new(
            HostKey::load_or_generate(&self.host_key).expect("a host key"),
            AuthorizedKeys::file(&self.authorized_keys),
        )
        .auth_rejection_time(Duration::from_millis(100))
    }
}

/// `ssh-keygen -t ed25519 -N '' -f DIR/NAME`: the private key's path (the
/// public one is beside it, `.pub`).
fn keygen(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path)
        .status()
        .expect("run ssh-keygen (the openssh-client package)");
    assert!(status.success(), "ssh-keygen: {status}");
    path
}

/// A reactor running on a thread of its own with an echo server, a timer
/// that ticks every 10 ms, and the SSH door; stopped when dropped.
pub struct Served {
    pub echo: SocketAddr,
    pub ssh: SocketAddr,
    pub host_key: String,
    pub ticks: Arc<AtomicU64>,
    pub known_hosts: PathBuf,
    handle: ReactorHandle,
    thread: Option<JoinHandle<()>>,
}

impl Served {
    pub fn start(keys: &Keys) -> Served {
        let config = keys.server_config();
        let ticks = Arc::new(AtomicU64::new(0));
        let counted = ticks.clone();
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let reactor = Reactor::new().expect("a reactor");
            let echo = echo_server(&reactor);
            let door = SshServer::listen(&reactor, "tcp:0:interface=127.0.0.1", config)
                .expect("the SSH server listens");
            tick(&reactor, counted);
            tx.send((
                echo,
                door.address(),
                door.host_key().public_openssh(),
                reactor.handle(),
            ))
            .unwrap();
            reactor
                .run_with(Signals::LeaveAlone)
                .expect("the reactor runs");
        });
        let (echo, ssh, host_key, handle) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the reactor thread starts");
        let known_hosts = keys.dir.path().join(format!("known_hosts_{}", ssh.port()));
        std::fs::write(
            &known_hosts,
            format!("[127.0.0.1]:{} {host_key}\n", ssh.port()),
        )
        .unwrap();
        Served {
            echo,
            ssh,
            host_key,
            ticks,
            known_hosts,
            handle,
            thread: Some(thread),
        }
    }

    /// `ssh` logging in with `key`, with every option pinned; the caller
    /// adds `-tt` or a command.
    pub fn ssh(&self, key: &Path) -> Command {
        let mut command = Command::new("timeout");
        command.arg("20").arg("ssh").args([
            "-F",
            "/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "IdentityAgent=none",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            "-o",
            "ConnectTimeout=5",
        ]);
        command
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", self.known_hosts.display()))
            .arg("-p")
            .arg(self.ssh.port().to_string())
            .arg("-i")
            .arg(key)
            .arg(format!("{USER}@127.0.0.1"));
        command
    }

    /// How many times the timer has ticked.
    pub fn ticks(&self) -> u64 {
        self.ticks.load(Ordering::SeqCst)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.handle.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Counts a tick every 10 ms for as long as the reactor runs.
fn tick(reactor: &Reactor, ticks: Arc<AtomicU64>) {
    let r = reactor.clone();
    reactor.call_later(Duration::from_millis(10), move || {
        ticks.fetch_add(1, Ordering::SeqCst);
        tick(&r, ticks);
    });
}

/// Runs `command` (bounded by the `timeout` it runs under) and returns
/// its exit code, standard output and standard error.
pub fn output(command: &mut Command) -> (Option<i32>, String, String) {
    let output = command
        .output()
        .expect("run ssh (the openssh-client package)");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
