//! A streamed body's channel: the [`BodySender`] a producer feeds, and the
//! queue the body reads from, bounded so a slow reader slows the producer.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http_body::Frame;

use super::{BodyClosed, BodyError};

/// The queue between a [`BodySender`] and its body.
#[derive(Default)]
pub(super) struct Channel {
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
    /// A channel that holds up to `capacity` bytes, and its sender.
    pub(super) fn open(capacity: usize) -> (BodySender, Rc<RefCell<Channel>>) {
        let channel = Rc::new(RefCell::new(Channel {
            capacity: capacity.max(1),
            ..Channel::default()
        }));
        (
            BodySender {
                channel: channel.clone(),
            },
            channel,
        )
    }

    pub(super) fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
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

    /// Whether the body has ended cleanly. An aborted body is not at its
    /// end: its error is still to be read, or the peer would see a clean,
    /// complete body.
    pub(super) fn at_end(&self) -> bool {
        self.finished && self.queue.is_empty() && self.aborted.is_none()
    }

    /// The body was dropped: the sender learns it, and what is queued goes.
    pub(super) fn receiver_dropped(&mut self) {
        self.receiver_gone = true;
        self.queue.clear();
        if let Some(waker) = self.writer.take() {
            waker.wake();
        }
    }

    fn wake_reader(&mut self) {
        if let Some(waker) = self.reader.take() {
            waker.wake();
        }
    }
}

/// Feeds a [`Body::channel`](super::Body::channel). Dropping it (or [`finish`](Self::finish))
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
