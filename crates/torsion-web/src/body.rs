//! [`Body`]: the body of a request or a response, whole, streamed from a
//! [`BodySender`] with flow control, or arriving from the network.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body::{Frame, SizeHint};

/// Why a body could not be read (or sent) to its end.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body is longer than the limit set for it.
    #[error("body larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// The connection failed while the body was arriving.
    #[error("receiving the body failed: {0}")]
    Http(#[from] hyper::Error),
    /// The sending side gave up before the end.
    #[error("body aborted: {0}")]
    Aborted(String),
    /// The body's content coding (`Content-Encoding: gzip`, say) does not
    /// decode: corrupt, or cut short.
    #[error("the {coding} body does not decode: {reason}")]
    Decode {
        /// The coding: "gzip" or "deflate".
        coding: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// No body bytes arrived for this long while the body was being read
    /// ([`ServerOptions::body_read_timeout`](crate::ServerOptions::body_read_timeout)).
    #[error("no body bytes arrived for {timeout:?}")]
    ReadTimedOut {
        /// The bound that passed.
        timeout: Duration,
    },
    /// The whole body took longer than this to arrive
    /// ([`ServerOptions::body_total_timeout`](crate::ServerOptions::body_total_timeout)).
    #[error("the body took longer than {timeout:?} to arrive")]
    TotalTimedOut {
        /// The bound that passed.
        timeout: Duration,
    },
}

impl BodyError {
    /// True when the client was too slow sending the body: the server
    /// answers such a request 408 Request Timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            BodyError::ReadTimedOut { .. } | BodyError::TotalTimedOut { .. }
        )
    }
}

/// Times a request body's arrival for the server, which enforces the body
/// timeouts: the body reports when its reader waits and when bytes come,
/// and asks whether a bound has passed.
pub(crate) trait ArrivalWatch {
    /// The timeout that passed, if one has.
    fn expired(&self) -> Option<BodyError>;
    /// The reader waits for bytes, to be woken with `waker`.
    fn waiting(&self, waker: &Waker);
    /// Bytes arrived.
    fn arrived(&self);
    /// The body ended, failed, or its reader let it go: stop timing.
    fn ended(&self);
    /// The reader has had the whole body: the client sent all of it, and
    /// the server has read it off the connection.
    fn read_whole(&self) {
        self.ended();
    }
}

/// The read error hyper gets when the body of a request it is serving
/// turns out to be malformed (a bad chunk), found by the server's HTTP/1
/// checker; a resource reading the body gets a [`BodyError::Http`] with it
/// inside, which is answered 400.
#[derive(Debug, thiserror::Error)]
#[error("malformed request body: {0}")]
pub(crate) struct MalformedBody(pub(crate) &'static str);

impl BodyError {
    /// Whether the body was malformed (the client's fault), not cut.
    pub(crate) fn is_malformed(&self) -> bool {
        let BodyError::Http(error) = self else {
            return false;
        };
        let mut source = std::error::Error::source(error);
        while let Some(error) = source {
            if let Some(io) = error.downcast_ref::<std::io::Error>()
                && io
                    .get_ref()
                    .is_some_and(|inner| inner.is::<MalformedBody>())
            {
                return true;
            }
            source = error.source();
        }
        false
    }
}

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
    Empty,
    Full(Option<Bytes>),
    Incoming {
        body: hyper::body::Incoming,
        limit: Option<u64>,
        seen: u64,
        watch: Option<Rc<dyn ArrivalWatch>>,
    },
    Channel(Rc<RefCell<Channel>>),
    /// Any other body (a client response being decoded).
    Boxed(Pin<Box<dyn http_body::Body<Data = Bytes, Error = BodyError>>>),
}

impl Body {
    /// A body with nothing in it.
    pub fn empty() -> Body {
        Body { kind: Kind::Empty }
    }

    /// A body arriving from the network; reading past `limit` bytes fails
    /// with [`BodyError::TooLarge`].
    pub fn incoming(body: hyper::body::Incoming, limit: Option<u64>) -> Body {
        Body::watched(body, limit, None)
    }

    /// A body arriving from the network, its arrival timed by `watch`.
    pub(crate) fn watched(
        body: hyper::body::Incoming,
        limit: Option<u64>,
        watch: Option<Rc<dyn ArrivalWatch>>,
    ) -> Body {
        Body {
            kind: Kind::Incoming {
                body,
                limit,
                seen: 0,
                watch,
            },
        }
    }

    /// A streamed body and the sender that feeds it. The sender waits (see
    /// [`BodySender::ready`]) while `capacity` bytes are queued and not yet
    /// taken by the connection, so a slow reader slows the producer instead
    /// of filling memory.
    pub fn channel(capacity: usize) -> (BodySender, Body) {
        let channel = Rc::new(RefCell::new(Channel {
            capacity: capacity.max(1),
            ..Channel::default()
        }));
        (
            BodySender {
                channel: channel.clone(),
            },
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
            Kind::Empty => "empty",
            Kind::Full(_) => "full",
            Kind::Incoming { .. } => "incoming",
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
            Kind::Empty => Poll::Ready(None),
            Kind::Full(bytes) => Poll::Ready(bytes.take().map(|bytes| Ok(Frame::data(bytes)))),
            Kind::Incoming {
                body,
                limit,
                seen,
                watch,
            } => {
                if let Some(error) = watch.as_ref().and_then(|watch| watch.expired()) {
                    return Poll::Ready(Some(Err(error)));
                }
                let frame = match Pin::new(&mut *body).poll_frame(cx) {
                    Poll::Pending => {
                        if let Some(watch) = watch {
                            watch.waiting(cx.waker());
                        }
                        return Poll::Pending;
                    }
                    Poll::Ready(frame) => frame,
                };
                if let Some(watch) = watch {
                    // A reader may stop at is_end_stream without asking for
                    // the end, so the last bytes end the timing too.
                    match &frame {
                        Some(Ok(_)) if !body.is_end_stream() => watch.arrived(),
                        Some(Ok(_)) | None => watch.read_whole(),
                        Some(Err(_)) => watch.ended(),
                    }
                }
                let frame = match frame {
                    None => return Poll::Ready(None),
                    Some(Err(error)) => return Poll::Ready(Some(Err(error.into()))),
                    Some(Ok(frame)) => frame,
                };
                if let (Some(limit), Some(data)) = (*limit, frame.data_ref()) {
                    *seen += data.len() as u64;
                    if *seen > limit {
                        return Poll::Ready(Some(Err(BodyError::TooLarge { limit })));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Kind::Channel(channel) => channel.borrow_mut().poll_next(cx),
            Kind::Boxed(body) => body.as_mut().poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Empty => true,
            Kind::Full(bytes) => bytes.is_none(),
            Kind::Incoming { body, .. } => body.is_end_stream(),
            Kind::Channel(channel) => {
                // An aborted body is not at its end: its error is still to
                // be read, or the peer would see a clean, complete body.
                let channel = channel.borrow();
                channel.finished && channel.queue.is_empty() && channel.aborted.is_none()
            }
            Kind::Boxed(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Empty => SizeHint::with_exact(0),
            Kind::Full(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |bytes| bytes.len() as u64))
            }
            Kind::Incoming { body, .. } => body.size_hint(),
            Kind::Channel(_) => SizeHint::default(),
            Kind::Boxed(body) => body.size_hint(),
        }
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        if let Kind::Incoming {
            watch: Some(watch), ..
        } = &self.kind
        {
            // Nobody waits for the rest: the client is not late.
            watch.ended();
        }
        if let Kind::Channel(channel) = &self.kind {
            let mut channel = channel.borrow_mut();
            channel.receiver_gone = true;
            channel.queue.clear();
            if let Some(waker) = channel.writer.take() {
                waker.wake();
            }
        }
    }
}

#[derive(Default)]
struct Channel {
    queue: VecDeque<Bytes>,
    queued: usize,
    capacity: usize,
    finished: bool,
    aborted: Option<String>,
    receiver_gone: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

impl Channel {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        if let Some(data) = self.queue.pop_front() {
            self.queued -= data.len();
            if self.queued < self.capacity
                && let Some(waker) = self.writer.take()
            {
                waker.wake();
            }
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        if let Some(reason) = self.aborted.take() {
            return Poll::Ready(Some(Err(BodyError::Aborted(reason))));
        }
        if self.finished {
            return Poll::Ready(None);
        }
        self.reader = Some(cx.waker().clone());
        Poll::Pending
    }

    fn wake_reader(&mut self) {
        if let Some(waker) = self.reader.take() {
            waker.wake();
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

/// The receiver of a streamed body has gone (the client went away, or the
/// response was dropped): stop producing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the body's receiver has gone")]
pub struct BodyClosed;

/// Feeds a [`Body::channel`]. Dropping it (or [`finish`](Self::finish))
/// ends the body; [`abort`](Self::abort) ends it with an error, so the peer
/// sees the response cut short rather than complete.
pub struct BodySender {
    channel: Rc<RefCell<Channel>>,
}

impl BodySender {
    /// Queues `data` without waiting. Check [`ready`](Self::ready) between
    /// chunks to respect flow control.
    pub fn send(&self, data: impl Into<Bytes>) -> Result<(), BodyClosed> {
        let data = data.into();
        let mut channel = self.channel.borrow_mut();
        if channel.receiver_gone {
            return Err(BodyClosed);
        }
        if data.is_empty() {
            return Ok(());
        }
        channel.queued += data.len();
        channel.queue.push_back(data);
        channel.wake_reader();
        Ok(())
    }

    /// Waits until fewer than the channel's capacity of bytes are queued.
    pub async fn ready(&self) -> Result<(), BodyClosed> {
        poll_fn(|cx| {
            let mut channel = self.channel.borrow_mut();
            if channel.receiver_gone {
                Poll::Ready(Err(BodyClosed))
            } else if channel.queued < channel.capacity {
                Poll::Ready(Ok(()))
            } else {
                channel.writer = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }

    /// Waits for room, then queues `data`.
    pub async fn send_data(&self, data: impl Into<Bytes>) -> Result<(), BodyClosed> {
        self.ready().await?;
        self.send(data)
    }

    /// True once the receiver has gone.
    pub fn is_closed(&self) -> bool {
        self.channel.borrow().receiver_gone
    }

    /// Bytes queued and not yet taken.
    pub fn queued(&self) -> usize {
        self.channel.borrow().queued
    }

    /// Ends the body normally.
    pub fn finish(self) {}

    /// Ends the body with an error: the connection reports it instead of a
    /// clean end (an HTTP/1 response is cut off, an HTTP/2 stream reset).
    pub fn abort(self, reason: impl Into<String>) {
        self.channel.borrow_mut().aborted = Some(reason.into());
    }
}

impl Drop for BodySender {
    fn drop(&mut self) {
        let mut channel = self.channel.borrow_mut();
        channel.finished = true;
        channel.wake_reader();
    }
}

impl fmt::Debug for BodySender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let channel = self.channel.borrow();
        f.debug_struct("BodySender")
            .field("queued", &channel.queued)
            .field("capacity", &channel.capacity)
            .field("closed", &channel.receiver_gone)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::sync::Arc;
    use std::task::Wake;

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
