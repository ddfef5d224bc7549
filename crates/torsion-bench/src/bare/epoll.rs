//! The bare server on epoll: mio, one thread, each readiness read until the socket
//! is drained and each answer written at once.

use std::io::{self, Read, Write};
use std::net::TcpListener;

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use super::{HeadEnds, Reply, hello_response};

/// One accepted connection.
struct Connection {
    stream: TcpStream,
    heads: HeadEnds,
    /// What the socket had no room for, sent when it is writable.
    unsent: Vec<u8>,
}

impl Connection {
    /// Writes `bytes` after what is still unsent, holding back what the
    /// socket has no room for. False once the connection has failed.
    fn send(&mut self, bytes: &[u8]) -> bool {
        if !self.unsent.is_empty() {
            self.unsent.extend_from_slice(bytes);
            return true;
        }
        let mut written = 0;
        while written < bytes.len() {
            match self.stream.write(&bytes[written..]) {
                Ok(0) => return false,
                Ok(count) => written += count,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.unsent.extend_from_slice(&bytes[written..]);
                    break;
                }
                Err(_) => return false,
            }
        }
        true
    }

    /// Sends what is unsent. False once the connection has failed.
    fn flush(&mut self) -> bool {
        let unsent = std::mem::take(&mut self.unsent);
        self.send(&unsent)
    }
}

/// Runs the bare epoll server on `listener`, on this thread, forever.
pub fn serve(listener: TcpListener, reply: Reply) -> io::Result<()> {
    const LISTENER: Token = Token(usize::MAX);
    listener.set_nonblocking(true)?;
    let mut listener = mio::net::TcpListener::from_std(listener);
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let response = hello_response();
    let mut connections = Slab::new();
    let mut events = Events::with_capacity(1024);
    let mut buffer = vec![0u8; 64 * 1024];
    let mut answers = Vec::new();
    loop {
        poll.poll(&mut events, None)?;
        for event in events.iter() {
            if event.token() == LISTENER {
                while let Ok((mut stream, _)) = listener.accept() {
                    stream.set_nodelay(true)?;
                    let interest = Interest::READABLE | Interest::WRITABLE;
                    let entry = connections.vacant_entry();
                    poll.registry()
                        .register(&mut stream, Token(entry.key()), interest)?;
                    entry.insert(Connection {
                        stream,
                        heads: HeadEnds::default(),
                        unsent: Vec::new(),
                    });
                }
                continue;
            }
            let id = event.token().0;
            let Some(connection) = connections.get_mut(id) else {
                continue;
            };
            let mut open = !event.is_writable() || connection.flush();
            // mio is edge-triggered: read until the socket is drained,
            // which a read that does not fill the buffer shows.
            while open && event.is_readable() {
                match connection.stream.read(&mut buffer) {
                    Ok(0) => open = false,
                    Ok(read) => {
                        let out = match reply {
                            Reply::Echo => &buffer[..read],
                            Reply::Hello => {
                                answers.clear();
                                for _ in 0..connection.heads.count(&buffer[..read]) {
                                    answers.extend_from_slice(&response);
                                }
                                &answers[..]
                            }
                        };
                        open = connection.send(out);
                        if read < buffer.len() {
                            break;
                        }
                    }
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => open = false,
                }
            }
            if !open {
                connections.remove(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{answers_each_head, connect, echoes_whole};
    use super::*;

    #[test]
    fn the_bare_epoll_server_echoes_every_size_whole() {
        echoes_whole(connect(serve, Reply::Echo));
    }

    #[test]
    fn the_bare_epoll_server_answers_each_request_head() {
        answers_each_head(connect(serve, Reply::Hello));
    }
}
