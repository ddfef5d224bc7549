//! The process's own standard input and output as one connection
//! (Twisted's `stdio.StandardIO`): a protocol hears what arrives on stdin
//! and writes to stdout through one [`Transport`].
//!
//! Each side is a pipe connection of its own (see `pipe`), so stdout gets
//! the write buffer, producers and flow control a socket has, and stdin
//! the read loop and `pause_reading`. The transport the protocol sees
//! joins them (a `composite` transport): writes go to stdout, reading is
//! stdin's. The protocol's
//! `connection_lost` comes once, when both sides have closed.

use std::cell::{Cell, OnceCell, RefCell};
use std::io;
use std::os::fd::AsFd;
use std::rc::Rc;

use crate::error::{ConnectionDone, ConnectionLost};
use crate::net::composite::Composite;
use crate::net::{HalfClose, Protocol, Transport};
use crate::{Failure, Reactor};

impl Reactor {
    /// Runs `protocol` on this process's standard input and output
    /// (Twisted's `stdio.StandardIO`): `data_received` hears stdin, the
    /// transport writes to stdout (buffered, with flow control, as a
    /// socket), and `pause_reading` pauses stdin. When stdin ends the
    /// protocol's `read_connection_lost` decides: by default stdout is
    /// flushed and closed too. `connection_lost` comes once both are
    /// closed, with stdout's error if writing failed (the reader of stdout
    /// went away). Descriptors 0 and 1 themselves stay open for `std`;
    /// the reactor works on duplicates.
    ///
    /// # Errors
    ///
    /// When stdin or stdout cannot be duplicated or watched: a regular
    /// file, which the kernel cannot poll, is refused (`EPERM`).
    ///
    /// ```no_run
    /// use torsion::Reactor;
    /// use torsion::net::{Protocol, Transport};
    ///
    /// /// Echoes stdin to stdout in capitals, then stops the reactor.
    /// #[derive(Default)]
    /// struct Shout(Option<Transport>);
    ///
    /// impl Protocol for Shout {
    ///     fn connection_made(&mut self, transport: &Transport) {
    ///         self.0 = Some(transport.clone());
    ///     }
    ///     fn data_received(&mut self, data: &[u8]) {
    ///         if let Some(out) = &self.0 {
    ///             out.write(&data.to_ascii_uppercase());
    ///         }
    ///     }
    ///     fn connection_lost(&mut self, _: torsion::Failure) {
    ///         Reactor::current().unwrap().stop().unwrap();
    ///     }
    /// }
    ///
    /// let reactor = Reactor::new()?;
    /// reactor.standard_io(Shout::default())?;
    /// reactor.run()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn standard_io(&self, protocol: impl Protocol) -> io::Result<Transport> {
        let stdin = io::stdin().as_fd().try_clone_to_owned()?;
        let stdout = io::stdout().as_fd().try_clone_to_owned()?;
        let core = Rc::new(StdioCore {
            protocol: RefCell::new(Box::new(protocol)),
            transport: OnceCell::new(),
            input_open: Cell::new(true),
            output_open: Cell::new(true),
            output_error: RefCell::new(None),
        });
        let output = self.adopt_pipe_writer(stdout, Side::Output(core.clone()))?;
        let input = match self.adopt_pipe_reader(stdin, Side::Input(core.clone())) {
            Ok(input) => input,
            Err(error) => {
                output.abort_connection();
                return Err(error);
            }
        };
        let transport = Composite::transport(input, output, None);
        let _ = core.transport.set(transport.clone());
        core.protocol.borrow_mut().connection_made(&transport);
        Ok(transport)
    }
}

/// What both sides share: the protocol, the joined transport once made,
/// and which sides are still open.
struct StdioCore {
    protocol: RefCell<Box<dyn Protocol>>,
    transport: OnceCell<Transport>,
    input_open: Cell<bool>,
    output_open: Cell<bool>,
    /// Why stdout closed, if it was not closed on purpose.
    output_error: RefCell<Option<Failure>>,
}

impl StdioCore {
    fn joined(&self) -> Option<&Transport> {
        self.transport.get()
    }

    /// Stdin ended: the protocol decides whether stdout stays open.
    fn input_lost(&self) {
        self.input_open.set(false);
        if self.output_open.get() {
            let decision = self.protocol.borrow_mut().read_connection_lost();
            if decision == HalfClose::Close
                && let Some(joined) = self.joined()
            {
                joined.lose_write_connection();
            }
        } else {
            self.finish();
        }
    }

    /// Stdout closed: nobody reads what the protocol writes, so stdin is
    /// not read any longer either.
    fn output_lost(&self, reason: Failure) {
        self.output_open.set(false);
        if !reason.is::<ConnectionDone>() {
            *self.output_error.borrow_mut() = Some(reason);
        }
        if self.input_open.get() {
            if let Some(joined) = self.joined() {
                joined.lose_connection();
            }
        } else {
            self.finish();
        }
    }

    fn finish(&self) {
        let reason = self
            .output_error
            .borrow_mut()
            .take()
            .unwrap_or_else(|| Failure::new(ConnectionDone));
        self.protocol.borrow_mut().connection_lost(reason);
    }
}

/// The protocol of one side's pipe connection.
enum Side {
    Input(Rc<StdioCore>),
    Output(Rc<StdioCore>),
}

impl Protocol for Side {
    fn data_received(&mut self, data: &[u8]) {
        if let Side::Input(core) = self {
            core.protocol.borrow_mut().data_received(data);
        }
    }

    /// On stdout's side, the only "end of file" a write end sees: its
    /// reader went away. Twisted reports that as a lost connection, and so
    /// does the protocol's `connection_lost`.
    fn read_connection_lost(&mut self) -> HalfClose {
        if let Side::Output(core) = self {
            let gone = io::Error::from(io::ErrorKind::BrokenPipe);
            *core.output_error.borrow_mut() = Some(Failure::new(ConnectionLost::from(gone)));
        }
        HalfClose::Close
    }

    fn connection_lost(&mut self, reason: Failure) {
        match self {
            Side::Input(core) => core.input_lost(),
            Side::Output(core) => core.output_lost(reason),
        }
    }
}
