//! Pipes as connections: either end of a pipe driving a [`Protocol`]
//! through the same stream connection as a socket, so a pipe gets the read
//! loop, the write buffer, producers and flow control that sockets have
//! (a child process's stdin, stdout and stderr are made of these).

use std::io;
use std::os::fd::OwnedFd;

use crate::Reactor;
use crate::net::stream::StreamSocket;
use crate::net::{Protocol, Transport};

impl Reactor {
    /// Runs `protocol` over the read end of a pipe (a [`std::io::PipeReader`],
    /// a [`std::process::ChildStdout`], any descriptor that is read only):
    /// the protocol hears what arrives, and the connection closes at end of
    /// file. The descriptor is made non-blocking; writing to the transport
    /// closes it with an error.
    ///
    /// ```
    /// use std::io::Write;
    /// use torsion::net::Protocol;
    /// use torsion::Reactor;
    ///
    /// struct Print;
    /// impl Protocol for Print {
    ///     fn data_received(&mut self, data: &[u8]) {
    ///         assert_eq!(data, b"through a pipe");
    ///     }
    ///     fn connection_lost(&mut self, _: torsion::Failure) {
    ///         torsion::Reactor::current().unwrap().stop().unwrap();
    ///     }
    /// }
    ///
    /// let reactor = Reactor::new()?;
    /// let (reader, mut writer) = std::io::pipe()?;
    /// reactor.adopt_pipe_reader(reader, Print)?;
    /// writer.write_all(b"through a pipe")?;
    /// drop(writer);
    /// reactor.run()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn adopt_pipe_reader(
        &self,
        pipe: impl Into<OwnedFd>,
        protocol: impl Protocol,
    ) -> io::Result<Transport> {
        let receiver = mio::unix::pipe::Receiver::from(pipe.into());
        receiver.set_nonblocking(true)?;
        self.open_stream(StreamSocket::PipeReader(receiver), Box::new(protocol), None)
    }

    /// Runs `protocol` over the write end of a pipe (a
    /// [`std::io::PipeWriter`], a [`std::process::ChildStdin`]): what the
    /// transport is given is written with the socket's buffering and flow
    /// control, and [`lose_connection`](Transport::lose_connection) (or
    /// [`lose_write_connection`](Transport::lose_write_connection)) closes
    /// the pipe once it is flushed, which the reader sees as end of file.
    /// The connection also closes when the reader closes its end. The
    /// descriptor is made non-blocking.
    pub fn adopt_pipe_writer(
        &self,
        pipe: impl Into<OwnedFd>,
        protocol: impl Protocol,
    ) -> io::Result<Transport> {
        let sender = mio::unix::pipe::Sender::from(pipe.into());
        sender.set_nonblocking(true)?;
        self.open_stream(StreamSocket::PipeWriter(sender), Box::new(protocol), None)
    }
}

/// An [`AsyncStream`](crate::net::AsyncStream) reading the read end of a
/// pipe.
pub(crate) fn pipe_reader_stream(
    reactor: &Reactor,
    pipe: OwnedFd,
) -> io::Result<crate::net::AsyncStream> {
    let (protocol, into_stream) = crate::net::stream_connection();
    Ok(into_stream(reactor.adopt_pipe_reader(pipe, protocol)?))
}

/// An [`AsyncStream`](crate::net::AsyncStream) writing the write end of a
/// pipe; shutting its writing down closes the pipe.
pub(crate) fn pipe_writer_stream(
    reactor: &Reactor,
    pipe: OwnedFd,
) -> io::Result<crate::net::AsyncStream> {
    let (protocol, into_stream) = crate::net::stream_connection();
    Ok(into_stream(reactor.adopt_pipe_writer(pipe, protocol)?))
}
