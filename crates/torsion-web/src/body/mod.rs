//! [`Body`]: the body of a request or a response, whole, streamed from a
//! [`BodySender`] with flow control, or arriving from the network.

mod channel;
mod error;
mod inbound;
mod incoming;

use std::cell::RefCell;
use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Frame, SizeHint};

use crate::ConnectionInfo;
pub use channel::BodySender;
use channel::Channel;
pub use error::{BodyClosed, BodyError};
pub(crate) use inbound::{Inbound, InboundSender, inbound};
pub(crate) use incoming::ArrivalWatch;
use incoming::{Incoming, Source};

/// The body of a request or a response.
///
/// Build one from bytes or a string, stream one with [`Body::channel`], or
/// read one that arrived with [`Body::bytes`] / [`Body::text`]. It is
/// hyper's body type on both sides of torsion-web.
///
/// ```
/// use torsion_web::Body;
///
/// let body = Body::from("hello");
/// assert_eq!(body.exact_len(), Some(5));
/// ```
pub struct Body {
    kind: Kind,
}

enum Kind {
    /// Nothing in it: a body made empty, or (with its connection) a
    /// request's that the client sent without one.
    Empty(Option<Rc<ConnectionInfo>>),
    Full(Option<Bytes>),
    Incoming(Incoming),
    Channel(Rc<RefCell<Channel>>),
    /// Any other body (a client response being decoded).
    Boxed(Pin<Box<dyn http_body::Body<Data = Bytes, Error = BodyError>>>),
}

impl Body {
    /// A body with nothing in it.
    pub fn empty() -> Body {
        Body {
            kind: Kind::Empty(None),
        }
    }

    /// A body arriving from the network; reading past `limit` bytes fails
    /// with [`BodyError::TooLarge`].
    pub fn incoming(body: hyper::body::Incoming, limit: Option<u64>) -> Body {
        Body {
            kind: Kind::Incoming(Incoming::new(Source::Hyper(body), limit, None, None)),
        }
    }

    /// The body of a request the server received on `connection`, its
    /// arrival timed by `watch`.
    pub(crate) fn received(
        body: hyper::body::Incoming,
        limit: Option<u64>,
        watch: Option<Rc<dyn ArrivalWatch>>,
        connection: Rc<ConnectionInfo>,
    ) -> Body {
        Body {
            kind: Kind::Incoming(Incoming::new(
                Source::Hyper(body),
                limit,
                watch,
                Some(connection),
            )),
        }
    }

    /// The body of a request the server's own HTTP/1 connection received
    /// on `connection`: read from `inbound` (`None`: the request has no
    /// body), its arrival timed by `watch`.
    pub(crate) fn from_connection(
        inbound: Option<Inbound>,
        limit: Option<u64>,
        watch: Option<Rc<dyn ArrivalWatch>>,
        connection: Rc<ConnectionInfo>,
    ) -> Body {
        let kind = match inbound {
            Some(inbound) => Kind::Incoming(Incoming::new(
                Source::Connection(inbound),
                limit,
                watch,
                Some(connection),
            )),
            None => Kind::Empty(Some(connection)),
        };
        Body { kind }
    }

    /// The connection the server received this body on, if it did.
    pub(crate) fn connection(&self) -> Option<&ConnectionInfo> {
        match &self.kind {
            Kind::Incoming(incoming) => incoming.connection.as_deref(),
            Kind::Empty(connection) => connection.as_deref(),
            _ => None,
        }
    }

    /// A streamed body and the sender that feeds it. The sender waits (see
    /// [`BodySender::ready`]) while `capacity` bytes are queued and not yet
    /// taken by the connection, so a slow reader slows the producer instead
    /// of filling memory.
    pub fn channel(capacity: usize) -> (BodySender, Body) {
        let (sender, channel) = Channel::open(capacity);
        (
            sender,
            Body {
                kind: Kind::Channel(channel),
            },
        )
    }

    /// Any body of bytes failing with [`BodyError`].
    pub(crate) fn boxed(
        body: impl http_body::Body<Data = Bytes, Error = BodyError> + 'static,
    ) -> Body {
        Body {
            kind: Kind::Boxed(Box::pin(body)),
        }
    }

    /// The bytes of a body held whole in memory, taken out of it (an
    /// empty body gives none): the server sends them without polling the
    /// body. `None` for a body that streams.
    pub(crate) fn take_whole(&mut self) -> Option<Bytes> {
        match &mut self.kind {
            Kind::Empty(_) => Some(Bytes::new()),
            Kind::Full(bytes) => Some(bytes.take().unwrap_or_default()),
            Kind::Incoming(_) | Kind::Channel(_) | Kind::Boxed(_) => None,
        }
    }

    /// The length, when it is known before reading.
    pub fn exact_len(&self) -> Option<u64> {
        http_body::Body::size_hint(self).exact()
    }

    /// Reads the whole body.
    pub async fn bytes(mut self) -> Result<Bytes, BodyError> {
        let mut whole = Joined::default();
        while let Some(frame) = poll_fn(|cx| Pin::new(&mut self).poll_data(cx)).await {
            whole.push(frame?);
        }
        Ok(whole.finish())
    }

    /// Reads the whole body as UTF-8 text (invalid sequences replaced).
    pub async fn text(self) -> Result<String, BodyError> {
        let bytes = self.bytes().await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The next chunk of data, skipping trailers; `None` at the end.
    pub async fn chunk(&mut self) -> Option<Result<Bytes, BodyError>> {
        poll_fn(|cx| Pin::new(&mut *self).poll_data(cx)).await
    }

    fn poll_data(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, BodyError>>> {
        let mut this = self;
        loop {
            match std::task::ready!(http_body::Body::poll_frame(this.as_mut(), cx)) {
                None => return Poll::Ready(None),
                Some(Err(error)) => return Poll::Ready(Some(Err(error))),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Poll::Ready(Some(Ok(data)));
                    }
                }
            }
        }
    }
}

impl Default for Body {
    fn default() -> Body {
        Body::empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Empty(_) => "empty",
            Kind::Full(_) => "full",
            Kind::Incoming(_) => "incoming",
            Kind::Channel(_) => "channel",
            Kind::Boxed(_) => "boxed",
        };
        f.debug_struct("Body").field("kind", &kind).finish()
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Body {
        Body {
            kind: Kind::Full(Some(bytes)),
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Body {
        Body::from(Bytes::from(bytes))
    }
}

impl From<String> for Body {
    fn from(text: String) -> Body {
        Body::from(Bytes::from(text))
    }
}

impl From<&'static str> for Body {
    fn from(text: &'static str) -> Body {
        Body::from(Bytes::from_static(text.as_bytes()))
    }
}

impl From<&'static [u8]> for Body {
    fn from(bytes: &'static [u8]) -> Body {
        Body::from(Bytes::from_static(bytes))
    }
}

impl From<hyper::body::Incoming> for Body {
    fn from(body: hyper::body::Incoming) -> Body {
        Body::incoming(body, None)
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match &mut self.get_mut().kind {
            Kind::Empty(_) => Poll::Ready(None),
            Kind::Full(bytes) => Poll::Ready(bytes.take().map(|bytes| Ok(Frame::data(bytes)))),
            Kind::Incoming(incoming) => incoming.poll_frame(cx),
            Kind::Channel(channel) => channel.borrow_mut().poll_next(cx),
            Kind::Boxed(body) => body.as_mut().poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Empty(_) => true,
            Kind::Full(bytes) => bytes.is_none(),
            Kind::Incoming(incoming) => incoming.body.is_end_stream(),
            Kind::Channel(channel) => channel.borrow().at_end(),
            Kind::Boxed(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Empty(_) => SizeHint::with_exact(0),
            Kind::Full(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |bytes| bytes.len() as u64))
            }
            Kind::Incoming(incoming) => incoming.body.size_hint(),
            Kind::Channel(_) => SizeHint::default(),
            Kind::Boxed(body) => body.size_hint(),
        }
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        if let Kind::Channel(channel) = &self.kind {
            channel.borrow_mut().receiver_dropped();
        }
    }
}

/// Chunks joined into one buffer, copied only when there are two or more.
#[derive(Default)]
pub(crate) struct Joined {
    first: Option<Bytes>,
    rest: BytesMut,
}

impl Joined {
    pub(crate) fn push(&mut self, data: Bytes) {
        match &self.first {
            None => self.first = Some(data),
            Some(head) => {
                if self.rest.is_empty() {
                    self.rest.extend_from_slice(head);
                }
                self.rest.extend_from_slice(&data);
            }
        }
    }

    pub(crate) fn finish(self) -> Bytes {
        if self.rest.is_empty() {
            self.first.unwrap_or_default()
        } else {
            self.rest.freeze()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }

    fn poll_once<F: Future>(future: F) -> Poll<F::Output> {
        let waker = Waker::from(Arc::new(Noop));
        let mut cx = Context::from_waker(&waker);
        std::pin::pin!(future).poll(&mut cx)
    }

    #[test]
    fn a_full_body_reads_back_whole() {
        let Poll::Ready(bytes) = poll_once(Body::from("hello").bytes()) else {
            panic!("a full body is ready at once");
        };
        assert_eq!(bytes.unwrap(), "hello");
    }

    #[test]
    fn a_channel_waits_at_capacity_and_ends_when_the_sender_drops() {
        let (sender, mut body) = Body::channel(8);
        sender.send("12345678").unwrap();
        assert!(poll_once(sender.ready()).is_pending(), "full at 8 bytes");
        let Poll::Ready(Some(Ok(chunk))) = poll_once(body.chunk()) else {
            panic!("a chunk is queued");
        };
        assert_eq!(chunk, "12345678");
        assert_eq!(poll_once(sender.ready()), Poll::Ready(Ok(())));
        sender.send("tail").unwrap();
        drop(sender);
        let Poll::Ready(rest) = poll_once(body.bytes()) else {
            panic!("the rest is queued and the body ended");
        };
        assert_eq!(rest.unwrap(), "tail");
    }

    #[test]
    fn an_aborted_channel_ends_with_an_error_and_a_dropped_body_closes_the_sender() {
        let (sender, body) = Body::channel(8);
        sender.send("part").unwrap();
        sender.abort("disk failed");
        assert!(
            !http_body::Body::is_end_stream(&body),
            "the error is still to come"
        );
        let Poll::Ready(result) = poll_once(body.bytes()) else {
            panic!("ready");
        };
        assert!(matches!(result, Err(BodyError::Aborted(reason)) if reason == "disk failed"));

        let (sender, body) = Body::channel(8);
        drop(body);
        assert!(sender.is_closed());
        assert_eq!(sender.send("x"), Err(BodyClosed));
        assert_eq!(poll_once(sender.ready()), Poll::Ready(Err(BodyClosed)));
    }
}
