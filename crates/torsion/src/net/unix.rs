//! UNIX stream sockets: listening on a path, connecting, adopting.

use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::Reactor;
use crate::net::connector::Connector;
use crate::net::listener::{Listener, ListeningPort, PortExtras};
use crate::net::stream::StreamSocket;
use crate::net::sys;
use crate::net::{Address, ClientFactory, ConnectOptions, Factory, Protocol, Transport};

/// How a UNIX port listens.
#[derive(Clone, Debug)]
pub struct UnixListenOptions {
    /// The kernel's queue of connections not yet accepted.
    pub backlog: i32,
    /// Permission bits for the socket file (such as `0o660`); `None` keeps
    /// what the umask gives.
    pub mode: Option<u32>,
}

impl Default for UnixListenOptions {
    fn default() -> Self {
        UnixListenOptions {
            backlog: 1024,
            mode: None,
        }
    }
}

impl Reactor {
    /// Listens on a UNIX socket at `path`. A stale socket file (nobody
    /// listening) is replaced; a live one is an `AddrInUse` error. The file
    /// is removed when the port stops listening.
    pub fn listen_unix(
        &self,
        path: impl AsRef<Path>,
        factory: impl Factory,
    ) -> io::Result<ListeningPort> {
        self.listen_unix_with(path, factory, UnixListenOptions::default())
    }

    /// [`listen_unix`](Reactor::listen_unix) with options.
    pub fn listen_unix_with(
        &self,
        path: impl AsRef<Path>,
        factory: impl Factory,
        options: UnixListenOptions,
    ) -> io::Result<ListeningPort> {
        let path = path.as_ref();
        let listener = sys::unix_listener(path, options.backlog, options.mode)?;
        ListeningPort::open(
            self,
            Listener::Unix(listener),
            Rc::new(factory),
            PortExtras {
                unlink: Some(PathBuf::from(path)),
                ..PortExtras::default()
            },
        )
    }

    /// Serves connections on a UNIX listening socket opened elsewhere.
    pub fn adopt_unix_listener(
        &self,
        listener: std::os::unix::net::UnixListener,
        factory: impl Factory,
    ) -> io::Result<ListeningPort> {
        listener.set_nonblocking(true)?;
        let listener = mio::net::UnixListener::from_std(listener);
        ListeningPort::open(
            self,
            Listener::Unix(listener),
            Rc::new(factory),
            PortExtras::default(),
        )
    }

    /// Connects to the UNIX socket at `path` (Twisted's `connectUNIX`).
    pub fn connect_unix(&self, path: impl AsRef<Path>, factory: impl ClientFactory) -> Connector {
        let address = Address::Unix(Some(path.as_ref().to_owned()));
        let connector = Connector::new(self, address, Rc::new(factory), ConnectOptions::default());
        connector.connect();
        connector
    }

    /// Runs `protocol` over a connected UNIX socket opened elsewhere (one
    /// end of a socket pair, say).
    pub fn adopt_unix_stream(
        &self,
        stream: std::os::unix::net::UnixStream,
        protocol: impl Protocol,
    ) -> io::Result<Transport> {
        stream.set_nonblocking(true)?;
        let socket = StreamSocket::Unix(mio::net::UnixStream::from_std(stream));
        self.open_stream(socket, Box::new(protocol), None)
    }
}
