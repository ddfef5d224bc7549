//! A request body as the server's HTTP/1 connection reads it: the
//! connection pushes the body's content, the body's reader takes it. The
//! connection reads the socket for the body only while its reader wants
//! more and little is queued, so a resource that reads slowly slows the
//! client down rather than filling memory.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http_body::{Frame, SizeHint};

use super::BodyError;

/// Body bytes queued for the reader before the connection stops reading.
const QUEUED_AT_MOST: usize = 64 * 1024;

/// What the connection and the body share.
#[derive(Default)]
struct Shared {
    queue: VecDeque<Bytes>,
    queued: usize,
    /// Bytes still to come, when the length was announced.
    left: Option<u64>,
    ended: bool,
    failed: Option<BodyError>,
    /// The reader has asked for bytes since the connection last looked.
    asked: bool,
    reader_gone: bool,
    reader: Option<Waker>,
    connection: Option<Waker>,
}

/// The connection's end of a request body.
pub(crate) struct InboundSender {
    shared: Rc<RefCell<Shared>>,
}

/// The reader's end, inside a [`Body`](super::Body).
pub(crate) struct Inbound {
    shared: Rc<RefCell<Shared>>,
}

/// A body of `length` bytes (`None`: chunked) and the connection's end.
pub(crate) fn inbound(length: Option<u64>) -> (InboundSender, Inbound) {
    let shared = Rc::new(RefCell::new(Shared {
        left: length,
        ..Shared::default()
    }));
    (
        InboundSender {
            shared: shared.clone(),
        },
        Inbound { shared },
    )
}

impl InboundSender {
    /// Queues body content for the reader.
    pub(crate) fn push(&self, data: Bytes) {
        let mut shared = self.shared.borrow_mut();
        if shared.reader_gone || data.is_empty() {
            return;
        }
        if let Some(left) = &mut shared.left {
            *left = left.saturating_sub(data.len() as u64);
        }
        shared.queued += data.len();
        shared.queue.push_back(data);
        if let Some(reader) = shared.reader.take() {
            reader.wake();
        }
    }

    /// The body ended; the reader gets what is queued, then the end.
    pub(crate) fn finish(&self) {
        let mut shared = self.shared.borrow_mut();
        shared.ended = true;
        if let Some(reader) = shared.reader.take() {
            reader.wake();
        }
    }

    /// The body cannot be read to its end: the reader gets `error` after
    /// what is queued.
    pub(crate) fn fail(&self, error: BodyError) {
        let mut shared = self.shared.borrow_mut();
        if shared.ended || shared.failed.is_some() {
            return;
        }
        shared.failed = Some(error);
        if let Some(reader) = shared.reader.take() {
            reader.wake();
        }
    }

    /// Whether the connection should read the socket for the body: the
    /// reader has room (or is gone, and what arrives is thrown away).
    pub(crate) fn has_room(&self) -> bool {
        let shared = self.shared.borrow();
        shared.reader_gone || shared.queued < QUEUED_AT_MOST
    }

    /// Whether the reader has asked for bytes since the last call (the
    /// first time is when `100 Continue` is due).
    pub(crate) fn take_asked(&self) -> bool {
        std::mem::take(&mut self.shared.borrow_mut().asked)
    }

    /// Whether the body's reader has let it go.
    pub(crate) fn reader_gone(&self) -> bool {
        self.shared.borrow().reader_gone
    }

    /// Wakes the connection's task with `waker` when the reader asks for
    /// more, takes what was queued, or goes.
    pub(crate) fn wake_on_demand(&self, waker: &Waker) {
        let mut shared = self.shared.borrow_mut();
        match &shared.connection {
            Some(known) if known.will_wake(waker) => {}
            _ => shared.connection = Some(waker.clone()),
        }
    }
}

impl Drop for InboundSender {
    /// A connection that goes before the body ended leaves it cut short.
    fn drop(&mut self) {
        self.fail(BodyError::Incomplete);
    }
}

impl Inbound {
    pub(super) fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let mut shared = self.shared.borrow_mut();
        if let Some(data) = shared.queue.pop_front() {
            shared.queued -= data.len();
            if shared.queued < QUEUED_AT_MOST
                && let Some(connection) = shared.connection.take()
            {
                connection.wake();
            }
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        if let Some(error) = shared.failed.take() {
            shared.ended = true;
            return Poll::Ready(Some(Err(error)));
        }
        if shared.ended {
            return Poll::Ready(None);
        }
        shared.asked = true;
        shared.reader = Some(cx.waker().clone());
        if let Some(connection) = shared.connection.take() {
            connection.wake();
        }
        Poll::Pending
    }

    pub(super) fn is_end_stream(&self) -> bool {
        let shared = self.shared.borrow();
        shared.queue.is_empty()
            && shared.failed.is_none()
            && (shared.ended || shared.left == Some(0))
    }

    pub(super) fn size_hint(&self) -> SizeHint {
        let shared = self.shared.borrow();
        match shared.left {
            Some(left) => SizeHint::with_exact(left + shared.queued as u64),
            None => SizeHint::default(),
        }
    }
}

impl Drop for Inbound {
    fn drop(&mut self) {
        let mut shared = self.shared.borrow_mut();
        shared.reader_gone = true;
        shared.queue.clear();
        shared.queued = 0;
        if let Some(connection) = shared.connection.take() {
            connection.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    use super::*;

    /// Counts its wake-ups.
    struct Wakes(AtomicUsize);

    impl Wake for Wakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counting_waker() -> (Arc<Wakes>, Waker) {
        let wakes = Arc::new(Wakes(AtomicUsize::new(0)));
        (wakes.clone(), Waker::from(wakes))
    }

    fn woken(wakes: &Wakes) -> usize {
        wakes.0.load(Ordering::SeqCst)
    }

    /// What the reader gets next: data, the end (`None`), an error, or
    /// nothing yet (`Pending`).
    fn next(body: &mut Inbound, waker: &Waker) -> Poll<Option<Result<Bytes, BodyError>>> {
        body.poll_frame(&mut Context::from_waker(waker))
            .map(|frame| {
                frame.map(|frame| frame.map(|frame| frame.into_data().expect("only data")))
            })
    }

    fn data(polled: Poll<Option<Result<Bytes, BodyError>>>) -> Bytes {
        match polled {
            Poll::Ready(Some(Ok(data))) => data,
            other => panic!("expected data, got {other:?}"),
        }
    }

    #[test]
    fn the_reader_gets_the_content_in_order_then_the_end() {
        let (sender, mut body) = inbound(Some(4));
        let waker = Waker::noop();
        assert_eq!(body.size_hint().exact(), Some(4));
        assert!(next(&mut body, waker).is_pending());
        sender.push(Bytes::from_static(b"ab"));
        sender.push(Bytes::new());
        sender.push(Bytes::from_static(b"cd"));
        assert_eq!(body.size_hint().exact(), Some(4));
        assert_eq!(data(next(&mut body, waker)), "ab");
        assert_eq!(body.size_hint().exact(), Some(2));
        assert!(!body.is_end_stream());
        assert_eq!(data(next(&mut body, waker)), "cd");
        // All announced bytes are read: the body knows it has ended before
        // the connection says so.
        assert!(body.is_end_stream());
        sender.finish();
        assert!(matches!(next(&mut body, waker), Poll::Ready(None)));
    }

    #[test]
    fn a_reader_waiting_for_bytes_is_woken_when_they_come_and_asks_for_them_once() {
        let (sender, mut body) = inbound(None);
        let (wakes, waker) = counting_waker();
        assert!(!sender.take_asked());
        assert!(next(&mut body, &waker).is_pending());
        assert!(
            sender.take_asked(),
            "the reader asked (100 Continue is due)"
        );
        assert!(!sender.take_asked());
        sender.push(Bytes::from_static(b"x"));
        assert_eq!(woken(&wakes), 1);
        assert_eq!(data(next(&mut body, &waker)), "x");
        assert_eq!(body.size_hint().exact(), None);
    }

    #[test]
    fn a_full_queue_stops_the_connection_until_the_reader_takes_from_it() {
        let (sender, mut body) = inbound(None);
        let (wakes, connection) = counting_waker();
        let chunk = Bytes::from(vec![b'a'; QUEUED_AT_MOST / 2]);
        sender.push(chunk.clone());
        assert!(sender.has_room());
        sender.push(chunk.clone());
        assert!(!sender.has_room(), "{QUEUED_AT_MOST} bytes are queued");
        sender.wake_on_demand(&connection);
        assert_eq!(next(&mut body, Waker::noop()).map(|_| ()), Poll::Ready(()));
        assert!(sender.has_room());
        assert_eq!(woken(&wakes), 1, "the connection reads on");
    }

    #[test]
    fn a_failure_comes_after_what_was_queued() {
        let (sender, mut body) = inbound(Some(10));
        sender.push(Bytes::from_static(b"abc"));
        sender.fail(BodyError::Malformed("bad chunk size"));
        // Only the first failure counts.
        sender.fail(BodyError::Incomplete);
        assert_eq!(data(next(&mut body, Waker::noop())), "abc");
        assert!(matches!(
            next(&mut body, Waker::noop()),
            Poll::Ready(Some(Err(BodyError::Malformed("bad chunk size"))))
        ));
        assert!(matches!(next(&mut body, Waker::noop()), Poll::Ready(None)));
    }

    #[test]
    fn a_connection_gone_before_the_end_leaves_the_body_incomplete() {
        let (sender, mut body) = inbound(Some(10));
        sender.push(Bytes::from_static(b"abc"));
        drop(sender);
        assert_eq!(data(next(&mut body, Waker::noop())), "abc");
        assert!(matches!(
            next(&mut body, Waker::noop()),
            Poll::Ready(Some(Err(BodyError::Incomplete)))
        ));
        // A body that ended whole stays whole when the connection goes.
        let (sender, mut body) = inbound(None);
        sender.finish();
        drop(sender);
        assert!(matches!(next(&mut body, Waker::noop()), Poll::Ready(None)));
    }

    #[test]
    fn what_arrives_after_the_reader_went_is_thrown_away() {
        let (sender, body) = inbound(None);
        let (wakes, connection) = counting_waker();
        sender.push(Bytes::from(vec![0; QUEUED_AT_MOST]));
        assert!(!sender.has_room());
        sender.wake_on_demand(&connection);
        drop(body);
        assert_eq!(woken(&wakes), 1, "the connection learns the reader went");
        assert!(sender.reader_gone());
        assert!(sender.has_room(), "the rest is read, to be skipped");
        sender.push(Bytes::from_static(b"more"));
        assert_eq!(sender.shared.borrow().queued, 0);
    }
}
