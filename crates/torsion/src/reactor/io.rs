//! The table of watched descriptors: readiness callbacks (Twisted's
//! `addReader` / `addWriter`) and torsion's own sources (connections,
//! listening ports), one slab indexed by poll token.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::rc::Rc;

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use slab::Slab;

use crate::reactor::Reactor;
use crate::reactor::introspect::SourceInfo;
use crate::reactor::ring::OpDone;

/// Tokens below this are the reactor's own (waker, signal pipe, ring).
pub(crate) const FIRST_IO_TOKEN: usize = 3;
pub(crate) const WAKER_TOKEN: Token = Token(0);
pub(crate) const SIGNAL_TOKEN: Token = Token(1);
/// The io_uring backend's ring: an operation (a send that waited, an
/// accepted connection) completed after its submission.
pub(crate) const RING_TOKEN: Token = Token(2);

/// Identifies a readiness callback registered with
/// [`Reactor::add_reader`] or [`Reactor::add_writer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WatchId(usize);

pub(crate) type ReadyCallback = Box<dyn FnMut(&Reactor)>;

/// What became ready on a descriptor, as the poller reported it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Readiness {
    pub(crate) readable: bool,
    pub(crate) writable: bool,
    /// The peer closed its write side or the socket has an error: a read
    /// will not block.
    pub(crate) read_closed: bool,
    pub(crate) error: bool,
}

impl Readiness {
    pub(crate) fn of(event: &mio::event::Event) -> Readiness {
        Readiness {
            readable: event.is_readable(),
            writable: event.is_writable(),
            read_closed: event.is_read_closed(),
            error: event.is_error(),
        }
    }
}

/// A registered descriptor owned by torsion itself (a connection, a
/// listening port): it handles its own readiness and keeps its state behind
/// `&self`, so the loop holds no borrow while it runs.
pub(crate) trait IoSource {
    fn ready(&self, reactor: &Reactor, readiness: Readiness);

    /// Runs work the source put off until no user callback of its own was
    /// on the stack (see [`Reactor::settle_later`]).
    fn settle(&self, reactor: &Reactor);

    /// The reactor is finishing: close, telling user code as a lost
    /// connection would.
    fn shutdown(&self, reactor: &Reactor);

    /// An operation this source gave the io_uring backend's ring finished
    /// (a connection's send, a port's accept). A source that does not
    /// take what `done` carries just drops it: an accepted descriptor in
    /// it is closed, never leaked.
    fn ring_done(&self, reactor: &Reactor, done: OpDone) {
        let _ = (reactor, done);
    }

    /// What the source is, for [`Reactor::snapshot`]; `now` is the
    /// snapshot's time. Only asked when somebody looks.
    fn describe(&self, now: std::time::Instant) -> Option<SourceInfo> {
        let _ = now;
        None
    }
}

/// One entry of the table. A callback watch is boxed: every connection has
/// an entry, and the enum is as large as its largest variant, so an unboxed
/// callback would cost each idle connection 16 bytes more.
pub(crate) enum Watch {
    Callback(Box<CallbackWatch>),
    Source(Rc<dyn IoSource>),
}

/// A descriptor watched with `add_reader` / `add_writer`.
pub(crate) struct CallbackWatch {
    /// Kept until the watch is removed, so it stays open while watched.
    fd: Box<dyn AsFd>,
    /// None while the callback runs.
    callback: Option<ReadyCallback>,
    removed: bool,
}

#[derive(Default)]
pub(crate) struct Watches {
    slab: Slab<Watch>,
}

/// What the loop should run for a ready token.
pub(crate) enum Ready {
    Callback(ReadyCallback),
    Source(Rc<dyn IoSource>),
}

impl Watches {
    pub(crate) fn add(
        &mut self,
        registry: &Registry,
        fd: Box<dyn AsFd>,
        interest: Interest,
        callback: ReadyCallback,
    ) -> io::Result<WatchId> {
        let entry = self.slab.vacant_entry();
        let key = entry.key();
        let raw = fd.as_fd().as_raw_fd();
        registry.register(&mut SourceFd(&raw), Token(key + FIRST_IO_TOKEN), interest)?;
        entry.insert(Watch::Callback(Box::new(CallbackWatch {
            fd,
            callback: Some(callback),
            removed: false,
        })));
        Ok(WatchId(key))
    }

    /// Adds a source: `make` gets its token, registers the descriptor under
    /// it and returns the source.
    pub(crate) fn add_source<S: IoSource + 'static>(
        &mut self,
        make: impl FnOnce(Token) -> io::Result<Rc<S>>,
    ) -> io::Result<Rc<S>> {
        let entry = self.slab.vacant_entry();
        let source = make(Token(entry.key() + FIRST_IO_TOKEN))?;
        entry.insert(Watch::Source(source.clone()));
        Ok(source)
    }

    pub(crate) fn source(&self, token: Token) -> Option<Rc<dyn IoSource>> {
        match self.slab.get(token.0.checked_sub(FIRST_IO_TOKEN)?)? {
            Watch::Source(source) => Some(source.clone()),
            Watch::Callback(_) => None,
        }
    }

    /// Forgets a source (its owner deregisters and closes the descriptor).
    /// Returns it so the caller drops it outside any borrow.
    pub(crate) fn remove_source(&mut self, token: Token) -> Option<Rc<dyn IoSource>> {
        let key = token.0.checked_sub(FIRST_IO_TOKEN)?;
        match self.slab.get(key) {
            Some(Watch::Source(_)) => match self.slab.remove(key) {
                Watch::Source(source) => Some(source),
                Watch::Callback(_) => None,
            },
            _ => None,
        }
    }

    /// Unregisters a watch. Returns its callback so the caller drops it
    /// outside any borrow.
    pub(crate) fn remove(
        &mut self,
        registry: &Registry,
        id: WatchId,
    ) -> io::Result<Option<ReadyCallback>> {
        let Some(Watch::Callback(watch)) = self.slab.get_mut(id.0) else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                crate::error::ReactorError::NoSuchWatch,
            ));
        };
        let _ = registry.deregister(&mut SourceFd(&watch.fd.as_fd().as_raw_fd()));
        if watch.callback.is_none() {
            // Its callback is running: remove it when that returns.
            watch.removed = true;
            return Ok(None);
        }
        match self.slab.remove(id.0) {
            Watch::Callback(watch) => Ok(watch.callback),
            Watch::Source(_) => Ok(None),
        }
    }

    pub(crate) fn take_ready(&mut self, token: Token) -> Option<Ready> {
        match self.slab.get_mut(token.0.checked_sub(FIRST_IO_TOKEN)?)? {
            Watch::Callback(watch) => watch.callback.take().map(Ready::Callback),
            Watch::Source(source) => Some(Ready::Source(source.clone())),
        }
    }

    /// Puts a callback back after it ran, unless it was removed meanwhile
    /// (then hands it back to be dropped).
    pub(crate) fn restore(
        &mut self,
        token: Token,
        callback: ReadyCallback,
    ) -> Option<ReadyCallback> {
        let key = token.0 - FIRST_IO_TOKEN;
        match self.slab.get_mut(key) {
            Some(Watch::Callback(watch)) if watch.removed => {
                self.slab.remove(key);
                Some(callback)
            }
            Some(Watch::Callback(watch)) => {
                watch.callback = Some(callback);
                None
            }
            _ => Some(callback),
        }
    }

    /// Every source (connection, port), in token order.
    pub(crate) fn all_sources(&self) -> Vec<Rc<dyn IoSource>> {
        self.slab
            .iter()
            .filter_map(|(_, watch)| match watch {
                Watch::Source(source) => Some(source.clone()),
                Watch::Callback(_) => None,
            })
            .collect()
    }

    /// Watches added with `add_reader` / `add_writer`.
    pub(crate) fn callbacks(&self) -> usize {
        self.slab
            .iter()
            .filter(|(_, watch)| matches!(watch, Watch::Callback(_)))
            .count()
    }

    /// Sources (connections, ports) registered now.
    pub(crate) fn sources(&self) -> usize {
        self.slab.len() - self.callbacks()
    }

    /// Empties the table; the caller drops what comes back outside any
    /// borrow. Sources close their own descriptors when dropped.
    pub(crate) fn clear(&mut self, registry: &Registry) -> Vec<Watch> {
        let mut watches: Vec<Watch> = self.slab.drain().collect();
        for watch in &mut watches {
            if let Watch::Callback(watch) = watch {
                let _ = registry.deregister(&mut SourceFd(&watch.fd.as_fd().as_raw_fd()));
            }
        }
        watches
    }
}

impl fmt::Debug for Watches {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watches")
            .field("len", &self.slab.len())
            .finish()
    }
}

impl Reactor {
    /// Calls `callback` whenever `fd` becomes readable (Twisted's
    /// `addReader`). Readiness is edge-triggered: the callback must read
    /// until `WouldBlock`, or it will not be called again for data that was
    /// already there.
    ///
    /// The watch keeps `fd` until it is removed, so the descriptor cannot
    /// be closed while it is watched: pass an owned descriptor (`OwnedFd`,
    /// a `UnixStream`), a shared one (`Rc<UnixStream>`, keeping a clone to
    /// read from in the callback) or a `BorrowedFd<'static>` (stdin).
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::os::unix::net::UnixStream;
    /// use std::rc::Rc;
    /// use torsion::Reactor;
    ///
    /// let reactor = Reactor::new()?;
    /// let (mut writer, reader) = UnixStream::pair()?;
    /// reader.set_nonblocking(true)?;
    /// let reader = Rc::new(reader);
    /// let watched = reader.clone();
    /// reactor.add_reader(watched, move |reactor| {
    ///     let mut line = [0u8; 5];
    ///     if (&*reader).read(&mut line).is_ok() {
    ///         assert_eq!(&line, b"hello");
    ///         reactor.stop().ok();
    ///     }
    /// })?;
    /// writer.write_all(b"hello")?;
    /// reactor.run()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_reader(
        &self,
        fd: impl AsFd + 'static,
        callback: impl FnMut(&Reactor) + 'static,
    ) -> std::io::Result<WatchId> {
        self.add_watch(Box::new(fd), Interest::READABLE, Box::new(callback))
    }

    /// Calls `callback` whenever `fd` becomes writable (Twisted's
    /// `addWriter`): edge-triggered, and keeping `fd` while watched, as
    /// [`add_reader`](Reactor::add_reader) does. A writer that has nothing
    /// more to write removes its watch, or it is called again each time
    /// the socket's buffer drains.
    pub fn add_writer(
        &self,
        fd: impl AsFd + 'static,
        callback: impl FnMut(&Reactor) + 'static,
    ) -> std::io::Result<WatchId> {
        self.add_watch(Box::new(fd), Interest::WRITABLE, Box::new(callback))
    }

    fn add_watch(
        &self,
        fd: Box<dyn AsFd>,
        interest: Interest,
        callback: ReadyCallback,
    ) -> std::io::Result<WatchId> {
        let poll = self.inner.poll.borrow();
        self.inner
            .watches
            .borrow_mut()
            .add(poll.registry(), fd, interest, callback)
    }

    /// Watches a source's descriptor for readability again under its
    /// token, after [`unwatch`](Reactor::unwatch): a listening port going
    /// back from the ring's accept to readiness. Edge-triggered, and a
    /// descriptor already readable is reported at once.
    pub(crate) fn watch_readable(&self, token: Token, fd: RawFd) -> io::Result<()> {
        self.inner
            .poll
            .borrow()
            .registry()
            .register(&mut SourceFd(&fd), token, Interest::READABLE)
    }

    /// Takes a source's descriptor out of the poller while the source
    /// keeps its token: a port whose connections the ring accepts, which
    /// readiness would only wake for an `accept` that finds nothing.
    pub(crate) fn unwatch(&self, fd: RawFd) -> io::Result<()> {
        self.inner
            .poll
            .borrow()
            .registry()
            .deregister(&mut SourceFd(&fd))
    }

    /// Stops watching a descriptor added with `add_reader` or `add_writer`.
    pub fn remove_watch(&self, id: WatchId) -> std::io::Result<()> {
        let removed = {
            let poll = self.inner.poll.borrow();
            self.inner
                .watches
                .borrow_mut()
                .remove(poll.registry(), id)?
        };
        drop(removed);
        Ok(())
    }
}
