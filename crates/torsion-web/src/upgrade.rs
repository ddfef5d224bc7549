//! HTTP upgrades (`101 Switching Protocols`): handing a connection from
//! HTTP to another protocol such as WebSockets.
//!
//! hyper hands an upgraded connection over as a `hyper::upgrade::Upgraded`,
//! which it builds only from I/O that is `Send`. torsion's [`AsyncStream`]
//! is not (it lives on its reactor's thread), so connections that may be
//! upgraded are served through an [`UpgradableStream`]: a `Send` token
//! naming a stream kept in a table of the reactor thread. Once hyper gives
//! the connection back, [`into_stream`] turns the `Upgraded` into the
//! original [`AsyncStream`] and the bytes hyper had read past the request.
//!
//! The token is only usable on the thread that made it; polled anywhere
//! else it fails with an I/O error instead of touching the stream.
//!
//! A server does not forget a connection it upgraded: the protocol that
//! takes the connection over inside torsion-web (a WebSocket) gets the
//! server's hold on it too, through which the server counts the
//! connection as open (its graceful stop waits for it) and tells the
//! protocol when the server stops. [`into_stream`] lets go of that hold.

use std::any::Any;
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

/// The connection I/O a token can stand for: a plain stream, or the
/// server's stream wrapper, which gives the stream back when upgraded.
pub(crate) trait UpgradableIo: Read + Write + Unpin + 'static {
    /// The stream under the wrapper, once hyper has given the connection
    /// up, and the server's hold on it when a server served it.
    fn into_stream(self: Box<Self>) -> (AsyncStream, Option<Box<dyn Overseer>>);

    /// The I/O itself, for its owner to take back by its type (a server
    /// taking its wrapper back from a connection it ended).
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl UpgradableIo for AsyncStream {
    fn into_stream(self: Box<Self>) -> (AsyncStream, Option<Box<dyn Overseer>>) {
        (*self, None)
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

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
    /// What hyper had read past the HTTP message.
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

/// The connection of `request`, once its response has switched protocols,
/// when the server's own HTTP/1 connection serves it: `None` for any other
/// request (or when asked twice, or off its thread). The Deferred fails if
/// the response does not switch.
pub(crate) fn on_switch(request: &crate::Request) -> Option<Deferred<Handover>> {
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
    static STREAMS: RefCell<Slab<(u64, Box<dyn UpgradableIo>)>> = RefCell::new(Slab::new());
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
fn take(key: Key) -> Option<Box<dyn UpgradableIo>> {
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
        UpgradableStream::wrapping(stream)
    }

    /// Puts any upgradable I/O in this thread's table.
    pub(crate) fn wrapping(io: impl UpgradableIo) -> UpgradableStream {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let slot = STREAMS.with(|streams| streams.borrow_mut().insert((id, Box::new(io))));
        UpgradableStream {
            key: Some(Key { slot, id }),
        }
    }

    /// Takes the stream back out of the table; `None` on another thread.
    pub fn into_inner(self) -> Option<AsyncStream> {
        self.into_parts().map(|(stream, _overseer)| stream)
    }

    /// The I/O the token stands for, if it is a `T` (and this is its
    /// thread): `None` otherwise, and the I/O is then closed.
    pub(crate) fn into_io<T: 'static>(mut self) -> Option<T> {
        let io = take(self.key.take()?)?;
        io.into_any().downcast::<T>().ok().map(|io| *io)
    }

    /// The stream and the server's hold on it; `None` on another thread.
    fn into_parts(mut self) -> Option<(AsyncStream, Option<Box<dyn Overseer>>)> {
        take(self.key.take()?).map(UpgradableIo::into_stream)
    }

    /// Runs `f` on the stream, or fails when polled off its thread.
    fn with<T>(
        &self,
        f: impl FnOnce(Pin<&mut dyn UpgradableIo>) -> Poll<io::Result<T>>,
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
                    Some((id, stream)) if *id == key.id => f(Pin::new(&mut **stream)),
                    _ => missing(),
                }
            })
            .unwrap_or_else(|_| missing())
    }
}

/// The stream of an upgraded connection and the bytes hyper had already
/// read from it past the HTTP message (the start of the new protocol).
/// `None` when the connection was not served through an
/// [`UpgradableStream`], or when asked off the stream's thread.
///
/// The server that upgraded the connection stops counting it from here
/// on: its graceful stop neither waits for nor closes the stream.
pub fn into_stream(upgraded: Upgraded) -> Option<(AsyncStream, Bytes)> {
    hand_over(upgraded).map(|handover| (handover.stream, handover.already_read))
}

/// [`into_stream`] with the server's hold on the connection.
pub(crate) fn hand_over(upgraded: Upgraded) -> Option<Handover> {
    let parts = upgraded.downcast::<UpgradableStream>().ok()?;
    let (stream, overseer) = parts.io.into_parts()?;
    Some(Handover {
        stream,
        already_read: parts.read_buf,
        overseer,
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
