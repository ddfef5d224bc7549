//! The descriptor under a stream connection: a TCP or UNIX socket, or one
//! end of a pipe (a child process's stdin, stdout or any other pipe),
//! behind one type.

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, RawFd};

use crate::net::Address;

/// The descriptor under a stream connection.
#[derive(Debug)]
pub(crate) enum StreamSocket {
    Tcp(mio::net::TcpStream),
    Unix(mio::net::UnixStream),
    /// The read end of a pipe: the connection only reads.
    PipeReader(mio::unix::pipe::Receiver),
    /// The write end of a pipe: the connection only writes.
    PipeWriter(mio::unix::pipe::Sender),
}

impl StreamSocket {
    pub(super) fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            StreamSocket::Tcp(s) => (&*s).read(buf),
            StreamSocket::Unix(s) => (&*s).read(buf),
            StreamSocket::PipeReader(s) => (&*s).read(buf),
            // The loop reads a write end only when the poller reports an
            // error or hang-up on it: the reader closed its end, which is
            // this end's end of file.
            StreamSocket::PipeWriter(_) => Ok(0),
        }
    }

    /// What the poller watches for: a pipe end goes one way only (errors
    /// and hang-ups are always reported).
    pub(super) fn interest(&self) -> mio::Interest {
        match self {
            StreamSocket::Tcp(_) | StreamSocket::Unix(_) => {
                mio::Interest::READABLE | mio::Interest::WRITABLE
            }
            StreamSocket::PipeReader(_) => mio::Interest::READABLE,
            StreamSocket::PipeWriter(_) => mio::Interest::WRITABLE,
        }
    }

    /// True for a pipe end, which cannot be half-closed: shutting down its
    /// writing closes it.
    pub(super) fn is_pipe(&self) -> bool {
        matches!(
            self,
            StreamSocket::PipeReader(_) | StreamSocket::PipeWriter(_)
        )
    }

    pub(super) fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            StreamSocket::Tcp(s) => s.shutdown(how),
            StreamSocket::Unix(s) => s.shutdown(how),
            StreamSocket::PipeReader(_) | StreamSocket::PipeWriter(_) => Ok(()),
        }
    }

    pub(crate) fn peer(&self) -> Address {
        match self {
            StreamSocket::Tcp(s) => s.peer_addr().map(Address::Tcp).unwrap_or(Address::Unknown),
            StreamSocket::Unix(s) => s.peer_addr().map(Address::from).unwrap_or(Address::Unknown),
            StreamSocket::PipeReader(_) | StreamSocket::PipeWriter(_) => Address::Unknown,
        }
    }

    pub(crate) fn host(&self) -> Address {
        match self {
            StreamSocket::Tcp(s) => s.local_addr().map(Address::Tcp).unwrap_or(Address::Unknown),
            StreamSocket::Unix(s) => s
                .local_addr()
                .map(Address::from)
                .unwrap_or(Address::Unknown),
            StreamSocket::PipeReader(_) | StreamSocket::PipeWriter(_) => Address::Unknown,
        }
    }

    pub(crate) fn take_error(&self) -> io::Result<Option<io::Error>> {
        match self {
            StreamSocket::Tcp(s) => s.take_error(),
            StreamSocket::Unix(s) => s.take_error(),
            StreamSocket::PipeReader(_) | StreamSocket::PipeWriter(_) => Ok(None),
        }
    }

    /// Ok(true) once a non-blocking connect has completed.
    pub(crate) fn is_connected(&self) -> io::Result<bool> {
        let result = match self {
            StreamSocket::Tcp(s) => s.peer_addr().map(drop),
            StreamSocket::Unix(s) => s.peer_addr().map(drop),
            StreamSocket::PipeReader(_) | StreamSocket::PipeWriter(_) => Ok(()),
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
            StreamSocket::PipeWriter(s) => (&*s).write(buf),
            StreamSocket::PipeReader(_) => Err(io::ErrorKind::Unsupported.into()),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            StreamSocket::Tcp(s) => (&*s).write_vectored(bufs),
            StreamSocket::Unix(s) => (&*s).write_vectored(bufs),
            StreamSocket::PipeWriter(s) => (&*s).write_vectored(bufs),
            StreamSocket::PipeReader(_) => Err(io::ErrorKind::Unsupported.into()),
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
            StreamSocket::PipeReader(s) => s.as_raw_fd(),
            StreamSocket::PipeWriter(s) => s.as_raw_fd(),
        }
    }
}
