//! UNIX datagram sockets: listening on a path, connecting, adopting
//! (Twisted's `listenUNIXDatagram` and `connectUNIXDatagram`). They share
//! [`DatagramTransport`] with UDP.

use std::io;
use std::path::{Path, PathBuf};

use crate::Reactor;
use crate::net::sys;
use crate::net::udp::{DEFAULT_MAX_PACKET_SIZE, DatagramSocket};
use crate::net::{DatagramProtocol, DatagramTransport};

/// How a UNIX datagram socket is opened.
#[derive(Clone, Debug)]
pub struct UnixDatagramOptions {
    /// The largest datagram read; longer ones are truncated.
    pub max_packet_size: usize,
    /// Permission bits for the socket file (such as `0o660`); `None` keeps
    /// what the umask gives.
    pub mode: Option<u32>,
}

impl Default for UnixDatagramOptions {
    fn default() -> Self {
        UnixDatagramOptions {
            max_packet_size: DEFAULT_MAX_PACKET_SIZE,
            mode: None,
        }
    }
}

impl Reactor {
    /// Opens a UNIX datagram socket bound to `path` and starts `protocol` on
    /// it. A stale socket file (nobody bound to it) is replaced; a live one
    /// is an `AddrInUse` error. The file is removed when the socket closes.
    ///
    /// ```
    /// use torsion::net::{Address, DatagramProtocol};
    /// use torsion::Reactor;
    ///
    /// struct Print;
    /// impl DatagramProtocol for Print {
    ///     fn datagram_received(&mut self, data: &[u8], _from: Address) {
    ///         println!("{}", String::from_utf8_lossy(data));
    ///     }
    /// }
    ///
    /// let reactor = Reactor::new()?;
    /// let path = std::env::temp_dir().join(format!("torsion-doc-{}.sock", std::process::id()));
    /// let socket = reactor.listen_unix_datagram(&path, Print)?;
    /// std::os::unix::net::UnixDatagram::unbound()?.send_to(b"hello", &path)?;
    /// drop(socket.stop_listening());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn listen_unix_datagram(
        &self,
        path: impl AsRef<Path>,
        protocol: impl DatagramProtocol,
    ) -> io::Result<DatagramTransport> {
        self.listen_unix_datagram_with(path, protocol, UnixDatagramOptions::default())
    }

    /// [`listen_unix_datagram`](Reactor::listen_unix_datagram) with options.
    pub fn listen_unix_datagram_with(
        &self,
        path: impl AsRef<Path>,
        protocol: impl DatagramProtocol,
        options: UnixDatagramOptions,
    ) -> io::Result<DatagramTransport> {
        let path = path.as_ref();
        let socket = sys::unix_datagram(path, options.mode)?;
        DatagramTransport::open(
            self,
            DatagramSocket::Unix(socket),
            Box::new(protocol),
            options.max_packet_size,
            Some(PathBuf::from(path)),
        )
    }

    /// Opens a UNIX datagram socket connected to `path` (Twisted's
    /// `connectUNIXDatagram`). To hear replies it must have an address of
    /// its own: `bind` names a path for it (removed when it closes).
    /// Connecting fails at once if nothing is bound at `path`.
    pub fn connect_unix_datagram(
        &self,
        path: impl AsRef<Path>,
        protocol: impl DatagramProtocol,
        bind: Option<&Path>,
    ) -> io::Result<DatagramTransport> {
        let path = path.as_ref();
        let socket = match bind {
            Some(bind) => sys::unix_datagram(bind, None)?,
            None => mio::net::UnixDatagram::unbound()?,
        };
        if let Err(error) = sys::connect_unix_datagram(&socket, path) {
            if let Some(bind) = bind {
                let _ = std::fs::remove_file(bind);
            }
            return Err(error);
        }
        DatagramTransport::open(
            self,
            DatagramSocket::Unix(socket),
            Box::new(protocol),
            DEFAULT_MAX_PACKET_SIZE,
            bind.map(PathBuf::from),
        )
    }

    /// Runs `protocol` on a UNIX datagram socket opened elsewhere (one end
    /// of a socket pair, say); it is made non-blocking. Its file, if any, is
    /// left in place when it closes.
    pub fn adopt_unix_datagram(
        &self,
        socket: std::os::unix::net::UnixDatagram,
        protocol: impl DatagramProtocol,
    ) -> io::Result<DatagramTransport> {
        socket.set_nonblocking(true)?;
        DatagramTransport::open(
            self,
            DatagramSocket::Unix(mio::net::UnixDatagram::from_std(socket)),
            Box::new(protocol),
            DEFAULT_MAX_PACKET_SIZE,
            None,
        )
    }
}
