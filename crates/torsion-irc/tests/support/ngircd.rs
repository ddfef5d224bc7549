//! Debian's ngircd, started for a test on a free port of 127.0.0.1 with a
//! generated configuration in a temporary directory, and killed when the
//! test ends.

use std::net::TcpListener;
use std::process::Command;

use tempfile::TempDir;
use torsion::testing::WatchedChild;

/// A running ngircd; dropping it kills it and removes its directory.
pub struct Ngircd {
    pub port: u16,
    pub name: &'static str,
    _child: WatchedChild,
    _directory: TempDir,
}

impl Ngircd {
    /// Starts ngircd and waits until it listens. It sends every new
    /// client a PING and registers it only once answered
    /// (`RequireAuthPing`), so a client that signs on has handled PING.
    /// Its own flood penalties are off (`MaxPenaltyTime = 0`), so that
    /// lines are relayed when they arrive and the client's spacing shows.
    pub fn start() -> Ngircd {
        let directory = tempfile::tempdir().expect("a temporary directory");
        // A port free a moment ago; ngircd binds it itself.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let name = "irc.ngircd.test";
        let config = format!(
            "[Global]\n\
             Name = {name}\n\
             Info = torsion test server\n\
             AdminInfo1 = torsion tests\n\
             AdminInfo2 = 127.0.0.1\n\
             AdminEMail = nobody@localhost\n\
             Listen = 127.0.0.1\n\
             Ports = {port}\n\
             MotdPhrase = hello from ngircd\n\
             [Limits]\n\
             MaxNickLength = 30\n\
             MaxPenaltyTime = 0\n\
             [Options]\n\
             RequireAuthPing = yes\n\
             PAM = no\n\
             Ident = no\n\
             DNS = no\n"
        );
        let file = directory.path().join("ngircd.conf");
        std::fs::write(&file, config).expect("write ngircd.conf");
        let mut child = WatchedChild::spawn(Command::new("ngircd").arg("-n").arg("-f").arg(&file))
            .expect("ngircd runs (Debian's ngircd package; scripts/test installs it)");
        child.wait_for_stdout("Now listening on");
        Ngircd {
            port,
            name,
            _child: child,
            _directory: directory,
        }
    }

    /// The client endpoint string for it.
    pub fn endpoint(&self) -> String {
        format!("tcp:host=127.0.0.1:port={}", self.port)
    }
}
