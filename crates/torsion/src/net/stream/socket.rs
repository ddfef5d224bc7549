//! The socket under a stream connection: TCP or UNIX, behind one type.

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, RawFd};

use crate::net::Address;

/// The socket under a stream connection.
#[derive(Debug)]
pub(crate) enum StreamSocket {
    Tcp(mio::net::TcpStream),
    Unix(mio::net::UnixStream),
}

impl StreamSocket {
    pub(super) fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            StreamSocket::Tcp(s) => (&*s).read(buf),
            StreamSocket::Unix(s) => (&*s).read(buf),
        }
    }

    pub(super) fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            StreamSocket::Tcp(s) => s.shutdown(how),
            StreamSocket::Unix(s) => s.shutdown(how),
        }
    }

    pub(crate) fn peer(&self) -> Address {
        match self {
            StreamSocket::Tcp(s) => s.peer_addr().map(Address::Tcp).unwrap_or(Address::Unknown),
            StreamSocket::Unix(s) => s.peer_addr().map(Address::from).unwrap_or(Address::Unknown),
        }
    }

    pub(crate) fn host(&self) -> Address {
        match self {
            StreamSocket::Tcp(s) => s.local_addr().map(Address::Tcp).unwrap_or(Address::Unknown),
            StreamSocket::Unix(s) => s
                .local_addr()
                .map(Address::from)
                .unwrap_or(Address::Unknown),
        }
    }

    pub(crate) fn take_error(&self) -> io::Result<Option<io::Error>> {
        match self {
            StreamSocket::Tcp(s) => s.take_error(),
            StreamSocket::Unix(s) => s.take_error(),
        }
    }

    /// Ok(true) once a non-blocking connect has completed.
    pub(crate) fn is_connected(&self) -> io::Result<bool> {
        let result = match self {
            StreamSocket::Tcp(s) => s.peer_addr().map(drop),
            StreamSocket::Unix(s) => s.peer_addr().map(drop),
        };
        match result {
            Ok(()) => Ok(true),
            Err(error) if error.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(error) => Err(error),
        }
    }
}

impl Write for &StreamSocket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            StreamSocket::Tcp(s) => (&*s).write(buf),
            StreamSocket::Unix(s) => (&*s).write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            StreamSocket::Tcp(s) => (&*s).write_vectored(bufs),
            StreamSocket::Unix(s) => (&*s).write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsRawFd for StreamSocket {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            StreamSocket::Tcp(s) => s.as_raw_fd(),
            StreamSocket::Unix(s) => s.as_raw_fd(),
        }
    }
}
