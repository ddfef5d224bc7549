//! A body arriving from the network (hyper's body, or the one the server's
//! own HTTP/1 connection fills), read against a size limit, its arrival
//! timed for the server's body timeouts, and carrying the connection it
//! came on.

use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http_body::{Body as _, Frame};

use super::BodyError;
use super::inbound::Inbound;
use crate::ConnectionInfo;

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
}

/// Where a body arriving from the network comes from.
pub(super) enum Source {
    Hyper(hyper::body::Incoming),
    /// The server's HTTP/1 connection.
    Connection(Inbound),
}

impl Source {
    pub(super) fn is_end_stream(&self) -> bool {
        match self {
            Source::Hyper(body) => body.is_end_stream(),
            Source::Connection(inbound) => inbound.is_end_stream(),
        }
    }

    pub(super) fn size_hint(&self) -> http_body::SizeHint {
        match self {
            Source::Hyper(body) => body.size_hint(),
            Source::Connection(inbound) => inbound.size_hint(),
        }
    }

    fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self {
            Source::Hyper(body) => Pin::new(body)
                .poll_frame(cx)
                .map(|frame| frame.map(|frame| frame.map_err(BodyError::from))),
            Source::Connection(inbound) => inbound.poll_frame(cx),
        }
    }
}

pub(super) struct Incoming {
    pub(super) body: Source,
    limit: Option<u64>,
    seen: u64,
    watch: Option<Rc<dyn ArrivalWatch>>,
    /// The connection of the request this is the body of. It rides here
    /// rather than in the request's extensions, whose first value costs
    /// every request three allocations.
    pub(super) connection: Option<Rc<ConnectionInfo>>,
}

impl Incoming {
    pub(super) fn new(
        body: Source,
        limit: Option<u64>,
        watch: Option<Rc<dyn ArrivalWatch>>,
        connection: Option<Rc<ConnectionInfo>>,
    ) -> Incoming {
        Incoming {
            body,
            limit,
            seen: 0,
            watch,
            connection,
        }
    }

    pub(super) fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        if let Some(error) = self.watch.as_ref().and_then(|watch| watch.expired()) {
            return Poll::Ready(Some(Err(error)));
        }
        let frame = match self.body.poll_frame(cx) {
            Poll::Pending => {
                if let Some(watch) = &self.watch {
                    watch.waiting(cx.waker());
                }
                return Poll::Pending;
            }
            Poll::Ready(frame) => frame,
        };
        if let Some(watch) = &self.watch {
            // A reader may stop at is_end_stream without asking for the
            // end, so the last bytes end the timing too.
            match &frame {
                Some(Ok(_)) if !self.body.is_end_stream() => watch.arrived(),
                Some(_) | None => watch.ended(),
            }
        }
        let frame = match frame {
            None => return Poll::Ready(None),
            Some(Err(error)) => return Poll::Ready(Some(Err(error))),
            Some(Ok(frame)) => frame,
        };
        if let (Some(limit), Some(data)) = (self.limit, frame.data_ref()) {
            self.seen += data.len() as u64;
            if self.seen > limit {
                return Poll::Ready(Some(Err(BodyError::TooLarge { limit })));
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if let Some(watch) = &self.watch {
            // Nobody waits for the rest: the client is not late.
            watch.ended();
        }
    }
}
