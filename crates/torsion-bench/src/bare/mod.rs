//! Servers with no framework at all: what a server costs on this machine
//! when it does its job and nothing else. [`floor`](crate::floor) measures
//! them against tokio and hyper, so that a goal stated as a ratio to those
//! can be checked against what any server could reach.
//!
//! Two bare servers, each on one thread, each doing only its job:
//!
//! - on epoll ([`epoll::serve`]): mio, each readiness read into one shared
//!   buffer until the socket is drained, each answer written at once;
//! - on io_uring ([`ring::serve`]): the best the ring offers a loopback
//!   TCP server today, with the loop waiting in the ring
//!   (`SINGLE_ISSUER | DEFER_TASKRUN`, so no arrival interrupts it),
//!   multishot accept, multishot receive into a provided buffer ring, and
//!   sends through the ring; no system call per message.
//!
//! Both either echo what they read or answer each HTTP/1 request head with
//! the bytes hyper's and torsion-web's hello-world servers send (a `date`
//! fixed when the server starts: a bare server keeps no clock). They
//! parse nothing else, check nothing and allocate nothing per message.
//!
//! A figure of `torsion` or `torsion-web` can come close to these but
//! not under them: the kernel's TCP work, which on loopback includes the
//! receiving side's (the load generator's) in the sender's system call, is
//! the same for every server.

pub mod epoll;
pub mod ring;

use std::io;
use std::net::{SocketAddr, TcpListener};

use crate::hello::HELLO;

/// What a bare server does with what it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// Writes back every byte.
    Echo,
    /// Answers each HTTP/1 request head (up to its blank line) with the
    /// hello-world response.
    Hello,
}

/// The hello-world response, byte for byte what the `http` benchmark's
/// servers send, with the `date` of when it is called.
pub fn hello_response() -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\ndate: {}\r\n\r\n{HELLO}",
        HELLO.len(),
        httpdate::fmt_http_date(std::time::SystemTime::now())
    )
    .into_bytes()
}

/// Finds the ends of request heads (`\r\n\r\n`) in a byte stream that
/// arrives in chunks.
#[derive(Debug, Default)]
pub struct HeadEnds {
    /// How many bytes of `\r\n\r\n` the stream ended with so far.
    matched: usize,
}

impl HeadEnds {
    /// The end of a request head.
    const END: &[u8; 4] = b"\r\n\r\n";

    /// How many heads end within `chunk`.
    pub fn count(&mut self, chunk: &[u8]) -> usize {
        // The usual chunk holds whole requests: found with a vectorised
        // search, as a bare server should.
        if self.matched == 0 {
            let mut ends = 0;
            let mut last = 0;
            for at in memchr::memmem::find_iter(chunk, Self::END) {
                ends += 1;
                last = at + Self::END.len();
            }
            if last == chunk.len() {
                return ends;
            }
        }
        // A head cut by a chunk's end, byte by byte.
        let mut ends = 0;
        for &byte in chunk {
            self.matched = if byte == Self::END[self.matched] {
                self.matched + 1
            } else if byte == b'\r' {
                1
            } else {
                0
            };
            if self.matched == Self::END.len() {
                ends += 1;
                self.matched = 0;
            }
        }
        ends
    }
}

/// Runs the bare server `server` on a loopback port, on this thread,
/// forever, telling `ready` where it listens first.
pub fn serve(
    server: fn(TcpListener, Reply) -> io::Result<()>,
    reply: Reply,
    ready: impl FnOnce(SocketAddr),
) -> io::Result<()> {
    let (listener, address) = listen()?;
    ready(address);
    server(listener, reply)
}

/// Binds a loopback listener for a bare server.
fn listen() -> io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let address = listener.local_addr()?;
    Ok((listener, address))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    #[test]
    fn heads_are_counted_across_chunks() {
        let mut heads = HeadEnds::default();
        assert_eq!(heads.count(b"GET / HTTP/1.1\r\nHost: a\r\n\r"), 0);
        assert_eq!(heads.count(b"\nGET / HTTP/1.1\r\n\r\nGET"), 2);
        assert_eq!(heads.count(b" / HTTP/1.1\r\r\n\r\n"), 1);
        assert_eq!(heads.count(b"\r\n\n\r\n"), 0);
        // The blank line ends the head cut above, and starts another end.
        assert_eq!(heads.count(b"\r\n\r\n"), 1);
        assert_eq!(heads.count(b"a\r\n\r\nb\r\n\r\n"), 2);
        // Whole heads, then one more blank line that ends no head yet.
        assert_eq!(heads.count(b"\r\n\r\n\r\n"), 1);
        assert_eq!(heads.count(b"\r\n"), 1);
    }

    /// Starts a bare server on a thread of its own and connects to it.
    pub fn connect(serve: fn(TcpListener, Reply) -> io::Result<()>, reply: Reply) -> TcpStream {
        let (listener, address) = listen().unwrap();
        std::thread::spawn(move || serve(listener, reply));
        let stream = TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
    }

    /// Sends `rounds` messages of every size up to 70,000 bytes, in one
    /// write each, and checks each whole echo.
    pub fn echoes_whole(mut stream: TcpStream) {
        for size in [1, 64, 4096, 16 * 1024, 70_000] {
            let message: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            stream.write_all(&message).unwrap();
            let mut echo = vec![0; size];
            stream.read_exact(&mut echo).unwrap();
            assert!(echo == message, "the echo of {size} bytes differs");
        }
    }

    /// Sends requests one at a time, then three in one write split inside
    /// a head, and checks each answer.
    pub fn answers_each_head(mut stream: TcpStream) {
        let response = hello_response();
        let request = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        let mut answer = vec![0; response.len()];
        for _ in 0..3 {
            stream.write_all(request).unwrap();
            stream.read_exact(&mut answer).unwrap();
            assert_eq!(answer[..17], response[..17]);
            assert!(answer.ends_with(HELLO.as_bytes()));
        }
        let three = request.repeat(3);
        stream.write_all(&three[..40]).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        stream.write_all(&three[40..]).unwrap();
        let mut answers = vec![0; 3 * response.len()];
        stream.read_exact(&mut answers).unwrap();
        assert_eq!(
            answers
                .windows(HELLO.len())
                .filter(|w| *w == HELLO.as_bytes())
                .count(),
            3
        );
    }
}
