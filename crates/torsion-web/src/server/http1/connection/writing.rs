//! The response side of a connection: the body after the head, held
//! for one write or written as it comes, paced by the transport's room.

use std::io::IoSlice;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::Body as _;
use torsion::net::HIGH_WATER_MARK;

use super::super::encode::{self, Framing, LAST_CHUNK};
use super::{Answer, Exchange, HOLD_AT_MOST, Http1Connection, Reading};
use crate::Body;

/// Body data shorter than this is copied after the response head, so both
/// leave in one buffer; longer data is written as it is.
const COPY_AT_MOST: usize = 4 * 1024;

impl Http1Connection {
    /// Writes what is left; the transport sends it and closes.
    pub(super) fn end(&mut self) {
        if !self.output.is_empty() {
            self.transport.write(&self.output);
            self.output = Vec::new();
        }
        self.transport.lose_write_connection();
    }

    /// Whether the transport can no longer send.
    pub(super) fn broken(&self) -> bool {
        !self.transport.is_open()
    }

    /// Sends what the response body has ready: whether anything came.
    pub(super) fn send_body(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        loop {
            // A slow reader holds the body back, not the transport's buffer.
            if !self.room(cx) {
                return progress;
            }
            let Some(Exchange {
                answer: Answer::Sending(body),
                ..
            }) = &mut self.exchange
            else {
                return progress;
            };
            match Pin::new(&mut *body).poll_frame(cx) {
                Poll::Pending => return progress,
                Poll::Ready(None) => {
                    self.body_end();
                    return true;
                }
                Poll::Ready(Some(Ok(frame))) => {
                    progress = true;
                    // A body that knows it has ended is not polled again.
                    let ended = body.is_end_stream();
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    if !self.body_data(data) {
                        return true;
                    }
                    if ended {
                        self.body_end();
                        return true;
                    }
                }
                Poll::Ready(Some(Err(error))) => {
                    // The client must not take a cut body for a whole one:
                    // the connection ends without the body's end.
                    tracing::debug!(%error, "response body failed; closing the connection");
                    self.cut();
                    return true;
                }
            }
        }
    }

    /// Puts a piece of the response body on its way, held to its framing:
    /// whether the body goes on (bytes past its `Content-Length` end it).
    pub(super) fn body_data(&mut self, mut data: Bytes) -> bool {
        let Some(exchange) = &mut self.exchange else {
            return false;
        };
        let mut overlong = false;
        if let Framing::Length(left) = &mut exchange.framing {
            // Bytes past the announced length would be read as the next
            // response: they are not sent.
            if data.len() as u64 > *left {
                data.truncate(*left as usize);
                overlong = true;
            }
            *left -= data.len() as u64;
        }
        let framing = exchange.framing;
        self.put_data(&data, framing);
        if overlong {
            tracing::error!(
                "a response body was longer than its Content-Length; \
                 the rest was not sent and the connection closes"
            );
            self.closing = true;
            self.complete();
            return false;
        }
        true
    }

    /// The response body has ended: its framing is closed, and the
    /// exchange is over.
    pub(super) fn body_end(&mut self) {
        let Some(exchange) = &self.exchange else {
            return;
        };
        match exchange.framing {
            Framing::Chunked => self.output.extend_from_slice(LAST_CHUNK),
            Framing::UntilClose => self.closing = true,
            Framing::Length(left) if left > 0 => {
                // The client would wait for the rest.
                tracing::error!(
                    missing = left,
                    "a response body ended short of its Content-Length; \
                     closing the connection"
                );
                self.cut();
                return;
            }
            Framing::None | Framing::Length(_) => {}
        }
        self.complete();
    }

    /// Ends the connection in the middle of a response, which the client
    /// must not take for a whole one.
    fn cut(&mut self) {
        self.exchange = None;
        self.closing = true;
        self.reading = Reading::Done;
    }

    /// Puts a piece of the response body on its way.
    fn put_data(&mut self, data: &[u8], framing: Framing) {
        if data.is_empty() {
            return;
        }
        let chunked = matches!(framing, Framing::Chunked);
        if chunked {
            encode::chunk_header(data.len(), &mut self.output);
        }
        if data.len() <= COPY_AT_MOST {
            self.output.extend_from_slice(data);
            if chunked {
                self.output.extend_from_slice(encode::CHUNK_END);
            }
            return;
        }
        let end: &[u8] = if chunked { encode::CHUNK_END } else { b"" };
        self.transport.write_vectored(&[
            IoSlice::new(&self.output),
            IoSlice::new(data),
            IoSlice::new(end),
        ]);
        self.output.clear();
    }

    /// Whether `body`, if held whole, may go out with its head now. A short
    /// one joins the held responses, which are bounded by
    /// [`HOLD_AT_MOST`]; a longer one goes to the transport, so it waits
    /// while the transport is backed up, as [`room`](Self::room) makes a
    /// streamed body wait. (The transport is asked first: the body's
    /// length is worked out again when its head is written.)
    pub(super) fn may_send_whole(&self, body: &Body) -> bool {
        self.transport.buffered() <= HIGH_WATER_MARK
            || body
                .size_hint()
                .exact()
                .is_some_and(|length| length <= COPY_AT_MOST as u64)
    }

    /// Whether the transport has room for more of a response body (if not,
    /// the task is woken when it drains); what is held goes out first
    /// once there is enough of it.
    fn room(&mut self, cx: &mut Context<'_>) -> bool {
        if self.output.len() >= HOLD_AT_MOST {
            return self.flush(cx);
        }
        if self.transport.buffered() <= HIGH_WATER_MARK {
            return true;
        }
        // An empty write asks to be woken when the transport drains.
        let asked = match &mut self.stream {
            Some(stream) => tokio::io::AsyncWrite::poll_write(Pin::new(stream), cx, &[]),
            None => return false,
        };
        matches!(asked, Poll::Ready(Ok(_)))
    }

    /// Writes what is held, unless the transport is full (then the task
    /// is woken when it drains): whether the transport took it and has
    /// room for more.
    pub(super) fn flush(&mut self, cx: &mut Context<'_>) -> bool {
        let slices = [IoSlice::new(&self.output)];
        let Some(stream) = &mut self.stream else {
            return false;
        };
        match tokio::io::AsyncWrite::poll_write_vectored(Pin::new(stream), cx, &slices) {
            Poll::Ready(Ok(_)) => {
                self.output.clear();
                true
            }
            Poll::Ready(Err(_)) => {
                self.output.clear();
                false
            }
            Poll::Pending => false,
        }
    }
}
