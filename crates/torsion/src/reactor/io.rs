//! Readiness callbacks on raw file descriptors (Twisted's `addReader` /
//! `addWriter`), and the pipe that carries signals into the loop.

use std::fmt;
use std::io::{self, Read};
use std::os::fd::RawFd;

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use slab::Slab;

use crate::reactor::Reactor;

/// Tokens below this are the reactor's own (waker, signal pipe).
pub(crate) const FIRST_IO_TOKEN: usize = 2;
pub(crate) const WAKER_TOKEN: Token = Token(0);
pub(crate) const SIGNAL_TOKEN: Token = Token(1);

/// Identifies a readiness callback registered with
/// [`Reactor::add_reader`] or [`Reactor::add_writer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WatchId(usize);

pub(crate) type ReadyCallback = Box<dyn FnMut(&Reactor)>;

pub(crate) struct Watch {
    fd: RawFd,
    /// None while the callback runs.
    callback: Option<ReadyCallback>,
    removed: bool,
}

#[derive(Default)]
pub(crate) struct Watches {
    slab: Slab<Watch>,
}

impl Watches {
    pub(crate) fn add(
        &mut self,
        registry: &Registry,
        fd: RawFd,
        interest: Interest,
        callback: ReadyCallback,
    ) -> io::Result<WatchId> {
        let entry = self.slab.vacant_entry();
        let key = entry.key();
        registry.register(&mut SourceFd(&fd), Token(key + FIRST_IO_TOKEN), interest)?;
        entry.insert(Watch {
            fd,
            callback: Some(callback),
            removed: false,
        });
        Ok(WatchId(key))
    }

    /// Unregisters a watch. Returns its callback so the caller drops it
    /// outside any borrow.
    pub(crate) fn remove(
        &mut self,
        registry: &Registry,
        id: WatchId,
    ) -> io::Result<Option<ReadyCallback>> {
        let Some(watch) = self.slab.get_mut(id.0) else {
            return Err(io::Error::new(io::ErrorKind::NotFound, "no such watch"));
        };
        let _ = registry.deregister(&mut SourceFd(&watch.fd));
        if watch.callback.is_none() {
            // Its callback is running: remove it when that returns.
            watch.removed = true;
            return Ok(None);
        }
        Ok(self.slab.remove(id.0).callback)
    }

    pub(crate) fn take_callback(&mut self, token: Token) -> Option<ReadyCallback> {
        let watch = self.slab.get_mut(token.0.checked_sub(FIRST_IO_TOKEN)?)?;
        watch.callback.take()
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
            Some(watch) if watch.removed => {
                self.slab.remove(key);
                Some(callback)
            }
            Some(watch) => {
                watch.callback = Some(callback);
                None
            }
            None => Some(callback),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.slab.len()
    }

    pub(crate) fn clear(&mut self, registry: &Registry) -> Vec<ReadyCallback> {
        let mut callbacks = Vec::new();
        for watch in self.slab.drain() {
            let _ = registry.deregister(&mut SourceFd(&watch.fd));
            callbacks.extend(watch.callback);
        }
        callbacks
    }
}

impl fmt::Debug for Watches {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watches")
            .field("len", &self.slab.len())
            .finish()
    }
}

/// SIGINT and SIGTERM, written into a socket pair by signal-hook's
/// async-signal-safe handler and read by the loop.
pub(crate) struct SignalPipe {
    reader: mio::net::UnixStream,
    ids: Vec<signal_hook::SigId>,
}

impl SignalPipe {
    pub(crate) fn install(registry: &Registry) -> io::Result<SignalPipe> {
        let (reader, writer) = std::os::unix::net::UnixStream::pair()?;
        reader.set_nonblocking(true)?;
        writer.set_nonblocking(true)?;
        let mut reader = mio::net::UnixStream::from_std(reader);
        registry.register(&mut reader, SIGNAL_TOKEN, Interest::READABLE)?;
        let mut ids = Vec::new();
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            ids.push(signal_hook::low_level::pipe::register(
                signal,
                writer.try_clone()?,
            )?);
        }
        Ok(SignalPipe { reader, ids })
    }

    /// Reads what the handler wrote; true if any signal arrived.
    pub(crate) fn drain(&mut self) -> bool {
        let mut buffer = [0u8; 64];
        let mut any = false;
        loop {
            match self.reader.read(&mut buffer) {
                Ok(0) => return any,
                Ok(_) => any = true,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return any,
            }
        }
    }
}

impl Drop for SignalPipe {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}
