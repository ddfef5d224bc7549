//! The callbacks a connection drives: [`Protocol`] for one connection,
//! [`Factory`] for a listening port or a client, and the producers that feed
//! a transport.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use crate::Failure;
use crate::failure::catch_panic;
use crate::net::{Address, Connector, Transport};

/// What one connection does with its bytes (Twisted's `IProtocol`).
///
/// The transport calls `connection_made` exactly once, then
/// `data_received` any number of times with chunks of any size (message
/// boundaries are not kept), then `connection_lost` exactly once. Keep the
/// [`Transport`] given to `connection_made` to write and to close.
///
/// Every method runs on the reactor thread, and may call any transport
/// method, of this connection or another. A panic in any of them is caught:
/// it is logged, this connection is aborted and `connection_lost` gets a
/// [`Panicked`](crate::error::Panicked) failure; other connections go on.
pub trait Protocol: 'static {
    /// The connection is up; `transport` writes to it and closes it.
    fn connection_made(&mut self, transport: &Transport) {
        let _ = transport;
    }

    /// Bytes arrived.
    fn data_received(&mut self, data: &[u8]);

    /// The connection is closed. `reason` is a
    /// [`ConnectionDone`](crate::error::ConnectionDone) failure for a clean
    /// close, [`ConnectionAborted`](crate::error::ConnectionAborted) after
    /// `abort_connection`, and [`ConnectionLost::new()`](crate::error::ConnectionLost::new())
    /// (with the socket error) or another failure otherwise.
    fn connection_lost(&mut self, reason: Failure) {
        let _ = reason;
    }

    /// The peer shut down its write side (end of file). By default
    /// ([`HalfClose::Close`]) this side closes too once what is buffered has
    /// been written, and `connection_lost` follows with `ConnectionDone`. A
    /// half-closing protocol (Twisted's `IHalfCloseableProtocol`) returns
    /// [`HalfClose::KeepWriting`] and closes when it is done.
    fn read_connection_lost(&mut self) -> HalfClose {
        HalfClose::Close
    }

    /// This side's write half was shut down after
    /// [`Transport::lose_write_connection`].
    fn write_connection_lost(&mut self) {}

    /// The TLS handshake of this connection finished (Twisted's
    /// `IHandshakeListener.handshakeCompleted`): the peer's certificate
    /// verified, and [`Transport::tls_info`] now tells the version and the
    /// ALPN protocol agreed. Called before any data of the connection
    /// arrives; never called on a connection without TLS.
    fn handshake_completed(&mut self) {}

    /// Reading resumed after [`Transport::pause_reading`]: the connection
    /// calls this once the call to
    /// [`resume_reading`](Transport::resume_reading) has returned (never
    /// from inside it), before any byte read after the pause. A protocol
    /// that held back data it had already buffered while
    /// [`Transport::is_reading_paused`] was true delivers it here, without
    /// waiting for new bytes to arrive; the framing layer does.
    ///
    /// Twisted has no such callback: its transports resume reading without
    /// a word to the protocol, and `LineReceiver` goes on delivering the
    /// lines it buffered while its transport is paused.
    fn reading_resumed(&mut self) {}

    /// What this protocol is called where a connection is listed (the live
    /// view's table, [`Reactor::snapshot`](crate::Reactor::snapshot)): by
    /// default its type's name. Code that serves several protocols through
    /// one type names the one in use with
    /// [`Transport::set_protocol_name`] instead.
    fn protocol_name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }
}

/// A boxed protocol is a protocol, so that code choosing one at run time
/// can hand it anywhere a protocol goes.
impl<P: Protocol + ?Sized> Protocol for Box<P> {
    fn connection_made(&mut self, transport: &Transport) {
        (**self).connection_made(transport);
    }
    fn data_received(&mut self, data: &[u8]) {
        (**self).data_received(data);
    }
    fn connection_lost(&mut self, reason: Failure) {
        (**self).connection_lost(reason);
    }
    fn read_connection_lost(&mut self) -> HalfClose {
        (**self).read_connection_lost()
    }
    fn write_connection_lost(&mut self) {
        (**self).write_connection_lost();
    }
    fn handshake_completed(&mut self) {
        (**self).handshake_completed();
    }
    fn reading_resumed(&mut self) {
        (**self).reading_resumed();
    }
    fn protocol_name(&self) -> &'static str {
        (**self).protocol_name()
    }
}

/// What to do when the peer has shut down its write side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HalfClose {
    /// Flush and close this side too.
    Close,
    /// Stay open for writing; close later with `lose_connection` or
    /// `lose_write_connection`.
    KeepWriting,
}

/// Builds a protocol for each connection (Twisted's `Factory`).
///
/// A listening port calls `build_protocol` for each accepted connection;
/// returning `None` refuses it (the connection is closed at once). Methods
/// take `&self` so that a factory can be shared and called back into from
/// its own protocols; keep mutable state in a `Cell` or `RefCell`.
///
/// Start and stop are counted across every port and connector that uses
/// the factory (Twisted's `doStart` / `doStop` and `numPorts`): one factory
/// shared by two ports (as an `Rc<F>`) gets `start_factory` when the first
/// starts listening and `stop_factory` when the last stops. A connector
/// uses its factory from `connect` until that attempt, or the connection it
/// made, ends without the factory connecting again.
pub trait Factory: 'static {
    /// A protocol for a connection from (or to) `address`, or `None` to
    /// refuse it.
    fn build_protocol(&self, address: &Address) -> Option<Box<dyn Protocol>>;

    /// Called when the first port or connector using this factory starts.
    fn start_factory(&self) {}

    /// Called when the last port or connector using this factory stops.
    fn stop_factory(&self) {}

    /// Which factory start and stop are counted for: this one, unless it
    /// forwards to another (as `Rc<F>` does, so that clones of one `Rc`
    /// count as one factory). Only a wrapper that forwards `start_factory`
    /// and `stop_factory` to a factory it shares needs to override it.
    fn identity(&self) -> *const () {
        (self as *const Self).cast()
    }
}

/// A client-side factory: it also hears how connection attempts end
/// (Twisted's `ClientFactory`).
pub trait ClientFactory: Factory {
    /// An attempt has started.
    fn started_connecting(&self, connector: &Connector) {
        let _ = connector;
    }

    /// The attempt failed before a connection was made: refused, timed out,
    /// unreachable. `connector.connect()` tries again.
    fn client_connection_failed(&self, connector: &Connector, reason: Failure) {
        let _ = (connector, reason);
    }

    /// A connection that had been made was lost.
    fn client_connection_lost(&self, connector: &Connector, reason: Failure) {
        let _ = (connector, reason);
    }
}

impl<F: Factory + ?Sized> Factory for Rc<F> {
    fn build_protocol(&self, address: &Address) -> Option<Box<dyn Protocol>> {
        (**self).build_protocol(address)
    }

    fn start_factory(&self) {
        (**self).start_factory()
    }

    fn stop_factory(&self) {
        (**self).stop_factory()
    }

    fn identity(&self) -> *const () {
        (**self).identity()
    }
}

impl<F: ClientFactory + ?Sized> ClientFactory for Rc<F> {
    fn started_connecting(&self, connector: &Connector) {
        (**self).started_connecting(connector)
    }

    fn client_connection_failed(&self, connector: &Connector, reason: Failure) {
        (**self).client_connection_failed(connector, reason)
    }

    fn client_connection_lost(&self, connector: &Connector, reason: Failure) {
        (**self).client_connection_lost(connector, reason)
    }
}

/// One port's or connector's use of a factory: the first use of a factory
/// on this thread starts it, and dropping the last stops it.
pub(crate) struct FactoryUse {
    factory: Rc<dyn Factory>,
}

thread_local! {
    /// Uses per factory identity. Factories are `!Send` and used on their
    /// reactor's thread only, so a count per thread is a count per factory.
    static FACTORY_USES: RefCell<HashMap<usize, usize>> = RefCell::new(HashMap::new());
}

impl FactoryUse {
    /// Counts a use of `factory`, starting it if it is the first.
    pub(crate) fn start(factory: Rc<dyn Factory>) -> FactoryUse {
        let key = factory.identity() as usize;
        let first = FACTORY_USES.with(|uses| {
            let mut uses = uses.borrow_mut();
            let count = uses.entry(key).or_insert(0);
            *count += 1;
            *count == 1
        });
        if first {
            report(catch_panic(|| factory.start_factory()), "start_factory");
        }
        FactoryUse { factory }
    }
}

impl Drop for FactoryUse {
    /// Stops the factory if this was its last use.
    fn drop(&mut self) {
        let key = self.factory.identity() as usize;
        let last = FACTORY_USES
            .try_with(|uses| {
                let mut uses = uses.borrow_mut();
                let Some(count) = uses.get_mut(&key) else {
                    return false;
                };
                *count -= 1;
                if *count == 0 {
                    uses.remove(&key);
                    true
                } else {
                    false
                }
            })
            .unwrap_or(false);
        if last {
            report(catch_panic(|| self.factory.stop_factory()), "stop_factory");
        }
    }
}

fn report(result: Result<(), Failure>, what: &str) {
    if let Err(failure) = result {
        tracing::error!(%failure, what, "panic in a factory callback");
    }
}

/// A factory made from a closure, for the common case where building the
/// protocol is all a factory does (Twisted's `Factory.forProtocol`).
///
/// ```
/// use torsion::net::{Protocol, factory_fn};
///
/// struct Discard;
/// impl Protocol for Discard {
///     fn data_received(&mut self, _: &[u8]) {}
/// }
/// let factory = factory_fn(|_peer| Some(Discard));
/// # let _ = factory;
/// ```
pub fn factory_fn<P, F>(build: F) -> FnFactory<F>
where
    P: Protocol,
    F: Fn(&Address) -> Option<P> + 'static,
{
    FnFactory { build }
}

/// See [`factory_fn`].
pub struct FnFactory<F> {
    build: F,
}

impl<P, F> Factory for FnFactory<F>
where
    P: Protocol,
    F: Fn(&Address) -> Option<P> + 'static,
{
    fn build_protocol(&self, address: &Address) -> Option<Box<dyn Protocol>> {
        (self.build)(address).map(|protocol| Box::new(protocol) as Box<dyn Protocol>)
    }
}

/// A closure factory used as a client factory hears nothing back about
/// failed attempts; use a Deferred-returning connect for that.
impl<P, F> ClientFactory for FnFactory<F>
where
    P: Protocol,
    F: Fn(&Address) -> Option<P> + 'static,
{
}

impl<F> fmt::Debug for FnFactory<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnFactory")
    }
}

/// A producer that writes on its own and must be told to pause when the
/// transport's buffer is full (Twisted's `IPushProducer`).
///
/// The transport calls these from inside `write` (pause) and from the loop
/// (resume), so they take `&self`: keep state in a `Cell`.
pub trait PushProducer {
    /// Stop writing until `resume_producing`.
    fn pause_producing(&self);
    /// Write again.
    fn resume_producing(&self);
    /// The consumer is gone: stop for good.
    fn stop_producing(&self);
}

/// A producer that writes one chunk each time it is asked (Twisted's
/// `IPullProducer`): the transport asks once at registration and again each
/// time its buffer is empty.
pub trait PullProducer {
    /// Write the next chunk (or unregister when done).
    fn resume_producing(&self);
    /// The consumer is gone: stop for good.
    fn stop_producing(&self);
}

/// A producer registered with [`Transport::register_producer`].
#[derive(Clone)]
pub enum Producer {
    /// Streaming: paused above the high-water mark, resumed below the low.
    Push(Rc<dyn PushProducer>),
    /// Asked for a chunk whenever the buffer is empty.
    Pull(Rc<dyn PullProducer>),
}

impl Producer {
    pub(crate) fn stop(&self) {
        match self {
            Producer::Push(producer) => producer.stop_producing(),
            Producer::Pull(producer) => producer.stop_producing(),
        }
    }
}

impl fmt::Debug for Producer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Producer::Push(_) => "Producer::Push",
            Producer::Pull(_) => "Producer::Pull",
        })
    }
}
