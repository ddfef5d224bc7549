//! HTTP upgrades (`101 Switching Protocols`, and a 2xx to `CONNECT`):
//! handing a connection from HTTP to another protocol such as WebSockets.
//!
//! torsion-web's server answers HTTP/1 itself. A request that may switch
//! protocols carries an offer in its extensions; a resource that accepts
//! the switch (the [`WebSocketResource`](crate::websocket::WebSocketResource))
//! takes from it a Deferred of the connection, which fires once the
//! response has gone out, with the stream and the bytes the client sent
//! after the request. A response that does not switch fails it.
//!
//! hyper, which fetches for torsion-web's client, hands an upgraded
//! connection over as a `hyper::upgrade::Upgraded`, which it builds only
//! from I/O that is `Send`. torsion's [`AsyncStream`] is not (it lives on
//! its reactor's thread), so a connection hyper may upgrade is driven
//! through an [`UpgradableStream`]: a `Send` token naming a stream kept in
//! a table of the reactor thread. Once hyper gives the connection back,
//! [`into_stream`] turns the `Upgraded` into the original [`AsyncStream`]
//! and the bytes hyper had read past the response. The token is only
//! usable on the thread that made it; polled anywhere else it fails with
//! an I/O error instead of touching the stream.
//!
//! A server does not forget a connection it switched: the protocol that
//! takes it over inside torsion-web (a WebSocket) gets the server's hold on
//! it too, through which the server counts the connection as open (its
//! graceful stop waits for it) and tells the protocol when the server
//! stops.

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper::upgrade::Upgraded;
use slab::Slab;
use torsion::Deferred;
use torsion::defer::Resolver;
use torsion::net::AsyncStream;

/// What a server asks of a connection it upgraded when it stops, in
/// increasing severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StopRequest {
    /// The server is going down: close gracefully.
    GoAway,
    /// The server's shutdown timeout passed: end now.
    Cut,
}

/// A server's hold on a connection it upgraded. The server counts the
/// connection as open until this is dropped, so the protocol that took the
/// connection over keeps it for as long as it serves the connection.
pub(crate) trait Overseer {
    /// Calls `on_stop` with each request the server makes from now on; with
    /// the last one at once if the server is already stopping. `on_stop`
    /// may be called from any reactor callback that stops the server, but
    /// never while the server's own state is borrowed.
    fn watch(&self, on_stop: Box<dyn Fn(StopRequest)>);
}

/// An upgraded connection, as the protocol taking it over receives it.
pub(crate) struct Handover {
    pub(crate) stream: AsyncStream,
    /// What the client had sent past the HTTP message: the start of the
    /// new protocol.
    pub(crate) already_read: Bytes,
    /// The hold of the server that upgraded it, if a server did.
    pub(crate) overseer: Option<Box<dyn Overseer>>,
}

/// A request whose connection the server's own HTTP/1 connection would
/// switch to another protocol if its response says so; found in the
/// request's extensions. Extensions must be `Send`, and the connection is
/// not: this names the offer in its thread's table.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Switchable {
    key: Key,
}

/// The connection's end of a [`Switchable`]: handing the connection over
/// resolves the offer; dropping it (the response did not switch) fails it.
#[derive(Debug)]
pub(crate) struct SwitchOffer {
    key: Key,
}

/// An offer in its thread's table: the Deferred a resource takes, and the
/// resolver the connection fires.
struct Offer {
    id: u64,
    taken: Option<Deferred<Handover>>,
    resolver: Resolver<Handover>,
}

impl SwitchOffer {
    /// An offer for one request, and what its extensions carry.
    pub(crate) fn new() -> (SwitchOffer, Switchable) {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let (taken, resolver) = Deferred::new();
        let slot = OFFERS.with_borrow_mut(|offers| {
            offers.insert(Offer {
                id,
                taken: Some(taken),
                resolver,
            })
        });
        let key = Key { slot, id };
        (SwitchOffer { key }, Switchable { key })
    }

    /// The response switched protocols: the connection goes to whoever
    /// took the offer (and is closed if nobody did).
    pub(crate) fn hand_over(self, handover: Handover) {
        if let Some(offer) = self.take() {
            offer.resolver.resolve(handover);
        }
    }

    fn take(&self) -> Option<Offer> {
        let key = self.key;
        OFFERS
            .try_with(|offers| {
                let mut offers = offers.borrow_mut();
                match offers.get(key.slot) {
                    Some(offer) if offer.id == key.id => Some(offers.remove(key.slot)),
                    _ => None,
                }
            })
            .ok()
            .flatten()
    }
}

impl Drop for SwitchOffer {
    fn drop(&mut self) {
        // Dropped outside the table's borrow: failing the Deferred may run
        // callbacks.
        drop(self.take());
    }
}

/// The connection of `request` once the response to it has switched
/// protocols (a `101 Switching Protocols`, or a 2xx to `CONNECT`): the
/// stream, and the bytes the client sent after the request, which belong
/// to the new protocol.
///
/// `None` when the request cannot switch (it carries no `Upgrade` and is
/// not a `CONNECT`, or it came over HTTP/2), when it was asked already, or
/// off the request's reactor thread. The Deferred fails if the response
/// does not switch. The server stops counting the connection once it is
/// handed over: its graceful stop neither waits for the stream nor closes
/// it.
///
/// ```no_run
/// use torsion_web::{Body, Reply, Request, Response, upgrade};
///
/// // A CONNECT tunnel's start: answer 200, then own the stream.
/// fn tunnel(request: Request) -> Reply {
///     if let Some(switched) = upgrade::on_switch(&request) {
///         torsion::Reactor::current().unwrap().spawn_detached(async move {
///             if let Ok((stream, _already_read)) = switched.await {
///                 stream.write_all_now(b"tunnel open\n");
///             }
///         });
///     }
///     Response::new(Body::empty()).into()
/// }
/// ```
pub fn on_switch(request: &crate::Request) -> Option<Deferred<(AsyncStream, Bytes)>> {
    switched(request)
        .map(|switched| switched.map(|handover: Handover| (handover.stream, handover.already_read)))
}

/// [`on_switch`] with the server's hold on the connection, for a protocol
/// of torsion-web's that the server keeps counting and tells of its stop.
pub(crate) fn switched(request: &crate::Request) -> Option<Deferred<Handover>> {
    let key = request.extensions().get::<Switchable>()?.key;
    OFFERS
        .try_with(|offers| match offers.borrow_mut().get_mut(key.slot) {
            Some(offer) if offer.id == key.id => offer.taken.take(),
            _ => None,
        })
        .ok()
        .flatten()
}

/// Whether `request` may be switched to another protocol by its connection.
pub(crate) fn is_switchable(request: &crate::Request) -> bool {
    request.extensions().get::<Switchable>().is_some()
        || request
            .extensions()
            .get::<hyper::upgrade::OnUpgrade>()
            .is_some()
}

thread_local! {
    /// The offers of this thread's requests that may switch protocols.
    static OFFERS: RefCell<Slab<Offer>> = const { RefCell::new(Slab::new()) };

    /// The streams of this thread's live tokens: a slot per token (no
    /// hashing on every read and write), with the token's id to check.
    static STREAMS: RefCell<Slab<(u64, AsyncStream)>> = const { RefCell::new(Slab::new()) };
}

/// Ids are never reused, so a token polled on the wrong thread cannot find
/// another connection's stream there, even in a slot of the same number.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// Where a token's stream is: its slot and its id.
#[derive(Debug, Clone, Copy)]
struct Key {
    slot: usize,
    id: u64,
}

/// Takes the stream of `key` out of this thread's table, if it is there.
fn take(key: Key) -> Option<AsyncStream> {
    STREAMS
        .try_with(|streams| {
            let mut streams = streams.borrow_mut();
            match streams.get(key.slot) {
                Some((id, _)) if *id == key.id => Some(streams.remove(key.slot).1),
                _ => None,
            }
        })
        .ok()
        .flatten()
}

/// A `Send` handle to an [`AsyncStream`] of the current thread, for hyper
/// connections that may be upgraded (`with_upgrades` needs `Send` I/O).
/// Dropping it closes the stream, as dropping the stream would.
pub struct UpgradableStream {
    key: Option<Key>,
}

impl UpgradableStream {
    /// Puts `stream` in this thread's table and returns its token.
    pub fn new(stream: AsyncStream) -> UpgradableStream {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let slot = STREAMS.with(|streams| streams.borrow_mut().insert((id, stream)));
        UpgradableStream {
            key: Some(Key { slot, id }),
        }
    }

    /// Takes the stream back out of the table; `None` on another thread.
    pub fn into_inner(mut self) -> Option<AsyncStream> {
        take(self.key.take()?)
    }

    /// Runs `f` on the stream, or fails when polled off its thread.
    fn with<T>(
        &self,
        f: impl FnOnce(Pin<&mut AsyncStream>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        let missing = || {
            Poll::Ready(Err(io::Error::other(
                "an upgradable stream was used off its reactor thread",
            )))
        };
        let Some(key) = self.key else {
            return missing();
        };
        STREAMS
            .try_with(|streams| {
                // Polling a stream only stores wakers, so nothing re-enters
                // the table while it is borrowed.
                match streams.borrow_mut().get_mut(key.slot) {
                    Some((id, stream)) if *id == key.id => f(Pin::new(stream)),
                    _ => missing(),
                }
            })
            .unwrap_or_else(|_| missing())
    }
}

/// The stream of a connection hyper upgraded and the bytes hyper had
/// already read from it past the HTTP message (the start of the new
/// protocol). `None` when the connection was not driven through an
/// [`UpgradableStream`], or when asked off the stream's thread.
pub fn into_stream(upgraded: Upgraded) -> Option<(AsyncStream, Bytes)> {
    hand_over(upgraded).map(|handover| (handover.stream, handover.already_read))
}

/// [`into_stream`] as a [`Handover`], which no server holds.
pub(crate) fn hand_over(upgraded: Upgraded) -> Option<Handover> {
    let parts = upgraded.downcast::<UpgradableStream>().ok()?;
    let stream = parts.io.into_inner()?;
    Some(Handover {
        stream,
        already_read: parts.read_buf,
        overseer: None,
    })
}

impl Drop for UpgradableStream {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            // Dropped outside the borrow: closing may run callbacks. A
            // thread already tearing down its table has closed it too.
            let torn_down = STREAMS.try_with(|_| ()).is_err();
            if take(key).is_none() && !torn_down {
                tracing::error!("an upgradable stream was dropped off its thread");
            }
        }
    }
}

impl fmt::Debug for UpgradableStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpgradableStream")
            .field("key", &self.key)
            .finish()
    }
}

impl Read for UpgradableStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        self.with(|stream| stream.poll_read(cx, buf))
    }
}

impl Write for UpgradableStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.with(|stream| stream.poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with(|stream| stream.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with(|stream| stream.poll_shutdown(cx))
    }

    /// Every stream torsion serves writes vectors in one call.
    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.with(|stream| stream.poll_write_vectored(cx, bufs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use torsion::net::{AsyncListener, ConnectOptions};
    use torsion::{Failure, Reactor};

    #[test]
    fn a_token_reads_and_writes_its_stream_and_gives_it_back() {
        let reactor = Reactor::new().unwrap();
        let listener = AsyncListener::bind_tcp(&reactor, "127.0.0.1:0".parse().unwrap()).unwrap();
        let address = listener.address();
        let r = reactor.clone();
        let finished = std::rc::Rc::new(std::cell::Cell::new(false));
        let f = finished.clone();
        drop(reactor.spawn(async move {
            let client = r.connect_stream(address, ConnectOptions::default()).await?;
            let (server, _) = listener.accept().await?;
            let mut token = UpgradableStream::new(server);
            std::future::poll_fn(|cx| Pin::new(&mut token).poll_write(cx, b"ping")).await?;
            let mut buf = [0u8; 4];
            client.read_exact(&mut buf).await?;
            assert_eq!(&buf, b"ping");

            let other_thread = std::thread::spawn(move || {
                let waker = std::task::Waker::noop();
                let mut cx = Context::from_waker(waker);
                let result = Pin::new(&mut token).poll_write(&mut cx, b"x");
                (matches!(result, Poll::Ready(Err(_))), token)
            });
            let (refused, token) = other_thread.join().unwrap();
            assert!(refused, "a token is useless off its thread");

            let server = token.into_inner().expect("the stream comes back");
            server.write_all_now(b"pong");
            client.read_exact(&mut buf).await?;
            assert_eq!(&buf, b"pong");
            f.set(true);
            r.stop().unwrap();
            Ok::<(), Failure>(())
        }));
        reactor.run().unwrap();
        assert!(finished.get());
    }
}
