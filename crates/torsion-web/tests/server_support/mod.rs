//! A server on a reactor thread of its own, so that a test drives real
//! clients (curl, Python, raw sockets) from its own thread with plain
//! blocking code.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use torsion::endpoints::server_from_string;
use torsion::net::Address;
use torsion::{Reactor, ReactorHandle};
use torsion_web::Server;

/// A server running on its own reactor thread; dropping it stops the
/// reactor (which drains the server) and joins the thread.
pub struct Running {
    pub address: SocketAddr,
    pub handle: ReactorHandle,
    thread: Option<JoinHandle<()>>,
}

/// Serves what `make` builds on `tcp:0` on loopback.
pub fn serve(make: impl FnOnce(&Reactor) -> Server + Send + 'static) -> Running {
    serve_on("tcp:0:interface=127.0.0.1".to_owned(), make)
}

/// Serves what `make` builds on the endpoint `description`.
pub fn serve_on(
    description: String,
    make: impl FnOnce(&Reactor) -> Server + Send + 'static,
) -> Running {
    let (tell, told) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let reactor = Reactor::new().unwrap();
        let server = make(&reactor);
        let endpoint = server_from_string(&reactor, &description).unwrap();
        let handle = reactor.handle();
        drop(server.listen(&reactor, &endpoint).map(move |listening| {
            let Address::Tcp(address) = listening.address().clone() else {
                panic!("a TCP address");
            };
            tell.send((address, handle)).unwrap();
            // Dropping the handle leaves the port open: the server
            // listens until the reactor stops.
            drop(listening);
        }));
        reactor.run().unwrap();
    });
    let (address, handle) = told
        .recv_timeout(Duration::from_secs(10))
        .expect("the server listens");
    Running {
        address,
        handle,
        thread: Some(thread),
    }
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Stops the reactor and waits for its thread, which has drained the
    /// server by then.
    pub fn stop(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = self.handle.stop();
            thread.join().expect("the reactor thread ends cleanly");
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.stop_and_join();
        }
    }
}

/// Runs curl with `args`, bounded in time.
pub fn curl(args: &[&str]) -> Output {
    Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args)
        .output()
        .expect("curl runs")
}

/// Writes `request` on a fresh connection and reads until the server
/// closes it (or `limit` passes).
pub fn exchange(address: SocketAddr, request: &[u8], limit: Duration) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(limit)).unwrap();
    stream.write_all(request).unwrap();
    let mut received = Vec::new();
    let _ = stream.read_to_end(&mut received);
    String::from_utf8_lossy(&received).into_owned()
}

/// A self-signed certificate for `localhost` and its key, as PEM files
/// removed on drop.
pub struct TestCertificate {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestCertificate {
    pub fn new(tag: &str) -> TestCertificate {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let dir = std::env::temp_dir();
        let stem = format!("torsion-web-{tag}-{}", std::process::id());
        let cert = dir.join(format!("{stem}-cert.pem"));
        let key = dir.join(format!("{stem}-key.pem"));
        std::fs::write(&cert, certified.cert.pem()).unwrap();
        std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
        TestCertificate { cert, key }
    }

    /// A `tls:` server endpoint on loopback with this certificate.
    pub fn endpoint(&self) -> String {
        format!(
            "tls:0:privateKey={}:certKey={}:interface=127.0.0.1",
            self.key.display().to_string().replace(':', "\\:"),
            self.cert.display().to_string().replace(':', "\\:")
        )
    }
}

impl Drop for TestCertificate {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.cert);
        let _ = std::fs::remove_file(&self.key);
    }
}
