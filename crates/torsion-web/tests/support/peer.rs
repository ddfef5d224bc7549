//! `client_peer.py`: a Python standard-library HTTP server for the client
//! tests, started as a child process and killed when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The running Python server.
pub struct PythonPeer {
    child: Child,
    port: u16,
}

impl PythonPeer {
    /// Starts the server and waits for the port it listens on.
    pub fn start() -> PythonPeer {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/client_peer.py");
        let mut child = Command::new("python3")
            .arg(script)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("the peer prints its port");
        let port = match line.trim().parse() {
            Ok(port) => port,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the Python peer did not start: {line:?}");
            }
        };
        PythonPeer { child, port }
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for PythonPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
