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

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::io::Read;
    use std::rc::Rc;
    use std::time::{Duration, Instant};

    use crate::net::{Protocol, Transport};
    use crate::{Failure, Reactor};

    #[derive(Default)]
    struct Seen {
        data: Vec<u8>,
        lost: Option<String>,
    }

    struct Record(Rc<RefCell<Seen>>);

    impl Protocol for Record {
        fn data_received(&mut self, data: &[u8]) {
            self.0.borrow_mut().data.extend_from_slice(data);
        }
        fn connection_lost(&mut self, reason: Failure) {
            self.0.borrow_mut().lost = Some(reason.to_string());
        }
    }

    fn turn_until(reactor: &Reactor, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !done() {
            assert!(Instant::now() < deadline, "timed out");
            reactor.run_once(Some(Duration::from_millis(10))).unwrap();
        }
    }

    #[test]
    fn a_write_end_closes_after_flushing_and_the_reader_sees_end_of_file() {
        let reactor = Reactor::new().unwrap();
        let (mut reader, writer) = std::io::pipe().unwrap();
        let seen = Rc::new(RefCell::new(Seen::default()));
        let transport: Transport = reactor
            .adopt_pipe_writer(writer, Record(seen.clone()))
            .unwrap();
        // More than a pipe holds: the rest waits in the write buffer.
        let big = vec![7u8; 1 << 20];
        transport.write(&big);
        assert!(transport.buffered() > 0);
        transport.lose_write_connection();
        let reading = std::thread::spawn(move || {
            let mut all = Vec::new();
            reader.read_to_end(&mut all).unwrap();
            all.len()
        });
        turn_until(&reactor, || seen.borrow().lost.is_some());
        assert_eq!(reading.join().unwrap(), big.len());
        assert_eq!(reactor.stats().sources, 0);
    }

    #[test]
    fn a_write_end_whose_reader_closed_is_lost() {
        let reactor = Reactor::new().unwrap();
        let (reader, writer) = std::io::pipe().unwrap();
        let seen = Rc::new(RefCell::new(Seen::default()));
        reactor
            .adopt_pipe_writer(writer, Record(seen.clone()))
            .unwrap();
        drop(reader);
        turn_until(&reactor, || seen.borrow().lost.is_some());
        assert_eq!(reactor.stats().sources, 0);
    }

    #[test]
    fn a_read_end_delivers_data_then_closes_at_end_of_file() {
        let reactor = Reactor::new().unwrap();
        let (reader, mut writer) = std::io::pipe().unwrap();
        let seen = Rc::new(RefCell::new(Seen::default()));
        reactor
            .adopt_pipe_reader(reader, Record(seen.clone()))
            .unwrap();
        std::io::Write::write_all(&mut writer, b"abc").unwrap();
        drop(writer);
        turn_until(&reactor, || seen.borrow().lost.is_some());
        assert_eq!(seen.borrow().data, b"abc");
        assert!(seen.borrow().lost.as_deref().unwrap().contains("cleanly"));
    }
}
