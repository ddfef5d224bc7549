//! What an HTTP/1 connection keeps of its server, and its read path: every
//! byte goes through the [`Http1Check`] before hyper sees it. A request the
//! checker refuses is answered here, once hyper has answered the requests
//! before it, and hyper is then told the stream ended, so it closes the
//! connection. Refusals, and heads cut by the header read timeout, are
//! reported to the resource as [`RejectedRequest`]s.

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use hyper::rt::ReadBufCursor;
use torsion::net::{Address, AsyncStream};

use super::Registered;
use super::control::{Control, Order};
use super::http1_check::{Checked, Http1Check, Refusal, Verdict};
use crate::body::MalformedBody;
use crate::upgrade::{Overseer, StopRequest};
use crate::{RejectedRequest, Resource};

/// How much a read takes at once when the checker must see the bytes;
/// hyper's own head limits sit this far above the checker's, so that the
/// refusals (and their log lines) are the checker's.
pub(super) const CHECKED_READ: usize = 8192;

thread_local! {
    /// The bytes of a checked read, one buffer for the thread: a read is
    /// done with it before the next one starts, and a buffer per
    /// connection would cost every idle connection its size.
    static CHECKED_READ_BUFFER: RefCell<Box<[u8]>> =
        RefCell::new(vec![0; CHECKED_READ].into_boxed_slice());
}

/// What an HTTP/1 connection (one that may be upgraded) keeps of its
/// server: the control to report to, and its place in the server's table,
/// which an upgrade hands on to the new protocol.
pub(super) struct Http1Oversight {
    control: Rc<Control>,
    /// Held only: the server counts the connection while it lives.
    _registered: Rc<Registered>,
    check: Http1Check,
    refusing: Refusing,
    /// Told of refused requests.
    resource: Rc<dyn Resource>,
    peer: Address,
    /// hyper was told the stream ended so that the connection parks (see
    /// `connection`): the stream goes on.
    parking: bool,
}

/// Where a connection is in refusing a request.
enum Refusing {
    No,
    /// Waiting for hyper to answer the requests before the refused one.
    Waiting(Refusal),
    /// Answered; hyper is told the stream ended.
    Done,
}

/// Bytes already read from the stream (to tell the protocol), which hyper
/// reads first.
pub(super) struct Replay<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) taken: &'a mut usize,
}

impl Http1Oversight {
    pub(super) fn new(
        control: Rc<Control>,
        registered: Rc<Registered>,
        check: Http1Check,
        resource: Rc<dyn Resource>,
        peer: Address,
    ) -> Http1Oversight {
        Http1Oversight {
            control,
            _registered: registered,
            check,
            refusing: Refusing::No,
            resource,
            peer,
            parking: false,
        }
    }

    /// Whether whole requests the checker handed on wait behind the one
    /// being answered (the client pipelined them).
    pub(super) fn requests_waiting(&self) -> bool {
        self.check.heads() > self.control.started()
    }

    /// Whether hyper's connection ended to park, and no longer; the next
    /// read is for a new one.
    pub(super) fn take_parking(&mut self) -> bool {
        std::mem::take(&mut self.parking)
    }

    /// Whether hyper's connection is ending to park.
    pub(super) fn parking(&self) -> bool {
        self.parking
    }

    /// hyper's read: every byte through the checker, and a refused request
    /// answered once the requests before it are. When nothing has come and
    /// the connection may park (hyper between requests and `flushed`, with
    /// nothing of its own left to write), hyper is told the stream ended,
    /// so that it finishes and gives its buffers up.
    pub(super) fn poll_read(
        &mut self,
        stream: &mut AsyncStream,
        replay: Replay<'_>,
        flushed: bool,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        if !matches!(self.refusing, Refusing::No)
            && let Some(refusing) = self.poll_refusal(stream)
        {
            return refusing;
        }
        if self.check.awaits_switch() {
            // Read on only once hyper has answered it: if it switched
            // protocols, the rest is for the new protocol's reader.
            if !self.control.answered_all(self.check.heads()) {
                return Poll::Pending;
            }
            self.check.resume();
        }
        let read = CHECKED_READ_BUFFER
            .with_borrow_mut(|local| self.read_and_check(stream, replay, cx, &mut buf, local));
        let (pass, verdict) = match read {
            Poll::Ready(read) => read?,
            Poll::Pending => {
                if flushed && !self.check.mid_head() && self.control.may_park(self.check.heads()) {
                    self.parking = true;
                    return Poll::Ready(Ok(()));
                }
                return Poll::Pending;
            }
        };
        match verdict {
            Verdict::Fine => Poll::Ready(Ok(())),
            Verdict::Refuse(refusal) => {
                self.refusing = Refusing::Waiting(refusal);
                if pass > 0 {
                    // hyper takes these first; the refusal waits for them.
                    Poll::Ready(Ok(()))
                } else {
                    self.poll_refusal(stream).unwrap_or(Poll::Pending)
                }
            }
            Verdict::Broken(refusal) => {
                let reason = refusal.reason;
                if self.control.idle() {
                    // Answered already, so the access log has no line
                    // that shows the malformed body.
                    self.report(refusal, false);
                } else {
                    // The application's read fails with this error, which
                    // it answers 400 (and the access log logs it).
                    tracing::debug!(reason, "malformed body of a request in flight");
                }
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    MalformedBody(reason),
                )))
            }
        }
    }

    /// While a request is refused: nothing more for hyper until it has
    /// answered the requests before it, then the refusal, written here,
    /// and the end of the stream. `None` when no request is refused.
    ///
    /// Reads ask only once a refusal is under way: this call's frame
    /// (it writes and reports) costs more than the question.
    #[cold]
    fn poll_refusal(&mut self, stream: &AsyncStream) -> Option<Poll<io::Result<()>>> {
        match &self.refusing {
            Refusing::No => None,
            Refusing::Done => Some(Poll::Ready(Ok(()))),
            // The control wakes the task when the last is answered.
            Refusing::Waiting(_) if !self.control.answered_all(self.check.heads()) => {
                Some(Poll::Pending)
            }
            Refusing::Waiting(refusal) => {
                let refusal = refusal.clone();
                self.refusing = Refusing::Done;
                stream.write_all_now(&refusal_response(&refusal));
                self.report(refusal, true);
                // The end of the stream, to hyper: it closes the connection.
                Some(Poll::Ready(Ok(())))
            }
        }
    }

    /// Reads into `local` (hyper's cursor cannot be read back, and the
    /// checker must see the bytes first), checks them, and passes on what
    /// may go: how many, and the verdict. The end of the stream is none
    /// passed and [`Verdict::Fine`].
    fn read_and_check(
        &mut self,
        stream: &mut AsyncStream,
        replay: Replay<'_>,
        cx: &mut Context<'_>,
        buf: &mut ReadBufCursor<'_>,
        local: &mut [u8],
    ) -> Poll<io::Result<(usize, Verdict)>> {
        let want = buf.remaining().min(local.len());
        let mut read = 0;
        if *replay.taken < replay.bytes.len() {
            read = want.min(replay.bytes.len() - *replay.taken);
            local[..read].copy_from_slice(&replay.bytes[*replay.taken..*replay.taken + read]);
            *replay.taken += read;
        }
        // With the sniffed bytes, whatever else has come, so that a
        // request sent at once is checked at once.
        match futures_io::AsyncRead::poll_read(Pin::new(stream), cx, &mut local[read..want]) {
            Poll::Ready(Ok(n)) => read += n,
            Poll::Ready(Err(error)) if read == 0 => return Poll::Ready(Err(error)),
            Poll::Pending if read == 0 => return Poll::Pending,
            // The stream tells it again at the next read.
            Poll::Ready(Err(_)) | Poll::Pending => {}
        }
        // Bytes or the end of the stream, where the phase no longer matters.
        self.control.received();
        if read == 0 {
            return Poll::Ready(Ok((0, Verdict::Fine)));
        }
        let Checked { pass, verdict } = self.check.check(&mut local[..read]);
        buf.put_slice(&local[..pass]);
        Poll::Ready(Ok((pass, verdict)))
    }

    /// Reports a refused request to the resource.
    fn report(&self, refusal: Refusal, answered: bool) {
        tracing::debug!(
            status = refusal.status.as_u16(),
            reason = refusal.reason,
            "refused an HTTP/1 request"
        );
        self.resource.rejected(&RejectedRequest {
            peer: self.peer.clone(),
            status: refusal.status,
            reason: refusal.reason,
            request_line: refusal.request_line,
            answered,
        });
    }
}

impl Drop for Http1Oversight {
    /// A head cut by its timeout is reported as a 408.
    fn drop(&mut self) {
        if self.control.head_timed_out() && self.check.mid_head() {
            let refusal = Refusal {
                status: http::StatusCode::REQUEST_TIMEOUT,
                reason: "request head not received within the header read timeout",
                request_line: self.check.request_line(),
            };
            self.report(refusal, false);
        }
    }
}

impl Overseer for Http1Oversight {
    fn watch(&self, on_stop: Box<dyn Fn(StopRequest)>) {
        self.control.hand_over(Rc::new(move |order| match order {
            Order::Serve => {}
            Order::Finish => on_stop(StopRequest::GoAway),
            Order::Abort => on_stop(StopRequest::Cut),
        }));
    }
}

/// The response to a refused request: the status, why, and a close.
pub(super) fn refusal_response(refusal: &Refusal) -> Vec<u8> {
    let status = refusal.status;
    let body = format!(
        "{} {}: {}\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        refusal.reason
    );
    format!(
        "HTTP/1.1 {} {}\r\ndate: {}\r\ncontent-type: text/plain; charset=utf-8\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        httpdate::fmt_http_date(std::time::SystemTime::now()),
        body.len(),
    )
    .into_bytes()
}
