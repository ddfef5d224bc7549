//! Wrappers that give any protocol a policy (Twisted's
//! `protocols.policies`): [`TimeoutFactory`] and [`TimeoutProtocol`] close
//! a connection that has been quiet, both ways, for a while.

use std::fmt;
use std::rc::{Rc, Weak};
use std::time::Duration;

use crate::net::composite::Composite;
use crate::net::{Address, Factory, HalfClose, Protocol, Transport};
use crate::time::IdleTimeout;
use crate::{Failure, Reactor};

/// Builds `factory`'s protocols wrapped in a [`TimeoutProtocol`] (Twisted's
/// `policies.TimeoutFactory`): each connection closes once nothing was
/// received or written on it for `period`.
///
/// ```no_run
/// use std::time::Duration;
/// use torsion::Reactor;
/// use torsion::net::factory_fn;
/// use torsion::protocols::TimeoutFactory;
/// use torsion::protocols::wire::Echo;
///
/// let reactor = Reactor::new()?;
/// // An echo server that lets go of clients quiet for five minutes.
/// let echo = factory_fn(|_| Some(Echo::default()));
/// let factory = TimeoutFactory::new(echo, Duration::from_secs(300));
/// let port = reactor.listen_tcp("127.0.0.1:7000".parse()?, factory)?;
/// reactor.run()?;
/// # drop(port);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TimeoutFactory<F> {
    factory: F,
    period: Duration,
}

impl<F: Factory> TimeoutFactory<F> {
    /// Wraps `factory`, closing connections quiet for `period`.
    pub fn new(factory: F, period: Duration) -> TimeoutFactory<F> {
        TimeoutFactory { factory, period }
    }
}

impl<F: Factory> Factory for TimeoutFactory<F> {
    fn build_protocol(&self, address: &Address) -> Option<Box<dyn Protocol>> {
        let protocol = self.factory.build_protocol(address)?;
        Some(Box::new(TimeoutProtocol::new(protocol, self.period)))
    }

    fn start_factory(&self) {
        self.factory.start_factory();
    }

    fn stop_factory(&self) {
        self.factory.stop_factory();
    }

    fn identity(&self) -> *const () {
        self.factory.identity()
    }
}

/// Wraps a protocol with an idle timeout (Twisted's
/// `policies.TimeoutProtocol`): the connection is closed (flushed, then
/// closed, as `lose_connection` does) once nothing was received or written
/// for `period`. The wrapped protocol sees a transport that notes its
/// writes. The timer runs on the reactor serving the connection.
pub struct TimeoutProtocol {
    inner: Box<dyn Protocol>,
    period: Duration,
    /// From the connection's start to its end.
    idle: Option<Rc<IdleTimeout>>,
}

impl TimeoutProtocol {
    /// `protocol`, closed after `period` of quiet.
    pub fn new(protocol: impl Protocol, period: Duration) -> TimeoutProtocol {
        TimeoutProtocol {
            inner: Box::new(protocol),
            period,
            idle: None,
        }
    }

    fn touched(&self) {
        if let Some(idle) = &self.idle {
            idle.reset();
        }
    }
}

impl Protocol for TimeoutProtocol {
    fn connection_made(&mut self, transport: &Transport) {
        let Some(reactor) = Reactor::current() else {
            self.inner.connection_made(transport);
            return;
        };
        let quiet = transport.clone();
        let idle = Rc::new(IdleTimeout::new(reactor, move || {
            tracing::debug!(peer = %quiet.peer(), "a quiet connection timed out");
            quiet.lose_connection();
        }));
        idle.set_timeout(Some(self.period));
        // Weak: the wrapped protocol keeps its transport, and with it this
        // hook, for as long as it likes.
        let noted: Weak<IdleTimeout> = Rc::downgrade(&idle);
        let hook = Box::new(move || {
            if let Some(idle) = noted.upgrade() {
                idle.reset();
            }
        });
        self.idle = Some(idle);
        let wrapped = Composite::transport(transport.clone(), transport.clone(), Some(hook));
        self.inner.connection_made(&wrapped);
    }

    fn data_received(&mut self, data: &[u8]) {
        self.touched();
        self.inner.data_received(data);
    }

    fn connection_lost(&mut self, reason: Failure) {
        // Its function holds the transport.
        self.idle = None;
        self.inner.connection_lost(reason);
    }

    fn read_connection_lost(&mut self) -> HalfClose {
        self.inner.read_connection_lost()
    }

    fn write_connection_lost(&mut self) {
        self.inner.write_connection_lost();
    }

    fn handshake_completed(&mut self) {
        self.inner.handshake_completed();
    }

    fn reading_resumed(&mut self) {
        self.inner.reading_resumed();
    }

    fn protocol_name(&self) -> &'static str {
        self.inner.protocol_name()
    }
}

impl<F> fmt::Debug for TimeoutFactory<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimeoutFactory")
            .field("period", &self.period)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for TimeoutProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimeoutProtocol")
            .field("protocol", &self.inner.protocol_name())
            .field("period", &self.period)
            .field("idle", &self.idle)
            .finish()
    }
}
