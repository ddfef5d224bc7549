//! Shared by the static-file tests: a server on a reactor thread of its
//! own, a directory tree with secrets beside it, curl, and raw requests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use torsion::endpoints::server_from_string;
use torsion::net::Address;
use torsion::{Reactor, ReactorHandle};
use torsion_web::{Resource, Server};

pub const SIBLING_SECRET: &str = "TOP-SECRET-SIBLING";
pub const OUTSIDE_SECRET: &str = "TOP-SECRET-OUTSIDE";

/// A server running `resource` on its own reactor thread, stopped on drop.
pub struct TestServer {
    pub address: SocketAddr,
    handle: ReactorHandle,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    pub fn start<R: Resource>(make: impl FnOnce() -> R + Send + 'static) -> TestServer {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let reactor = Reactor::new().unwrap();
            let endpoint = server_from_string(&reactor, "tcp:0:interface=127.0.0.1").unwrap();
            let handle = reactor.handle();
            let listening = Server::new(make()).listen(&reactor, &endpoint);
            drop(listening.map(move |listening| {
                let Address::Tcp(address) = listening.address().clone() else {
                    panic!("a TCP address");
                };
                tx.send((address, handle)).unwrap();
                // Kept listening until the reactor stops.
                std::mem::forget(listening);
            }));
            reactor.run().unwrap();
        });
        let (address, handle) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the server listens");
        TestServer {
            address,
            handle,
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.handle.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A temporary tree: `public/` is served; `secret.txt` and `outside/`
/// sit beside it, and symlinks in `public/` lead out to them.
pub struct Tree {
    pub dir: tempfile::TempDir,
}

impl Tree {
    pub fn new() -> Tree {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        std::fs::write(base.join("secret.txt"), SIBLING_SECRET).unwrap();
        std::fs::create_dir(base.join("outside")).unwrap();
        std::fs::write(base.join("outside/passwd"), OUTSIDE_SECRET).unwrap();
        let public = base.join("public");
        std::fs::create_dir_all(public.join("sub")).unwrap();
        std::fs::create_dir_all(public.join("site")).unwrap();
        std::fs::write(public.join("hello.txt"), "hello, world\n").unwrap();
        std::fs::write(public.join("digits.txt"), "0123456789abcdefghij").unwrap();
        std::fs::write(public.join("page.html"), "<p>page</p>\n").unwrap();
        std::fs::write(public.join("site/index.html"), "<h1>site index</h1>\n").unwrap();
        std::fs::write(public.join("sub/a.txt"), "a\n").unwrap();
        std::fs::write(public.join("sub/<b> & c.txt"), "b\n").unwrap();
        let link = |target: &Path, name: &str| {
            std::os::unix::fs::symlink(target, public.join(name)).unwrap();
        };
        link(Path::new("../secret.txt"), "leak");
        link(Path::new("../outside"), "leakdir");
        link(&base.join("outside/passwd"), "absleak");
        link(Path::new("hello.txt"), "inner");
        // An index file that is itself a way out.
        std::fs::create_dir(public.join("trap")).unwrap();
        std::os::unix::fs::symlink("../../secret.txt", public.join("trap/index.html")).unwrap();
        Tree { dir }
    }

    pub fn public(&self) -> PathBuf {
        self.dir.path().join("public")
    }

    pub fn base(&self) -> &Path {
        self.dir.path()
    }
}

/// A response as curl saw it.
#[derive(Debug)]
pub struct Fetched {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Fetched {
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

/// Runs curl with `args` and the URL; parses its `-i` output.
pub fn curl(args: &[&str], url: &str) -> Fetched {
    let output = Command::new("curl")
        .args(["-sS", "-i", "--max-time", "20"])
        .args(args)
        .arg(url)
        .output()
        .expect("curl runs (install it: apt-get install curl)");
    assert!(output.status.success(), "curl {args:?} {url}: {output:?}");
    parse_response(&output.stdout)
}

/// Parses one HTTP/1 response (head, then everything else as the body).
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

/// Sends `request` as raw bytes and reads until the server closes.
pub fn raw_exchange(address: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    response
}

/// A GET for a raw request target, written as is on the request line.
pub fn raw_get(address: SocketAddr, target: &[u8]) -> Vec<u8> {
    let mut request = b"GET ".to_vec();
    request.extend_from_slice(target);
    request.extend_from_slice(b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    raw_exchange(address, &request)
}
