//! One HTTP/1 connection, parsed and answered here: the checker reads
//! each request head and body, the resource answers, and the encoder
//! writes the response.
//!
//! Requests are answered one at a time, in order (as Twisted and hyper
//! do): the next head is parsed once the response before it is written.
//! Responses to requests a client pipelined (sent before reading the
//! answers) are held while whole requests wait in the read buffer, and
//! leave together in one write when there are no more, or 16 KiB of them.
//!
//! A request body reaches its reader through an
//! [`InboundSender`](crate::body::InboundSender): the connection reads the
//! socket for it only while the reader has room, so a slow reader slows
//! the client. A connection at rest holds no buffer (nor the parser's
//! notes of where a head's parts lay) once its [`Control`] lets it park.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::{Method, StatusCode};
use torsion::net::{AsyncStream, Transport};

use super::encode::{self, Answering as Facts, Framing};
use super::head;
use crate::body::{ArrivalWatch, InboundSender, inbound};
use crate::server::Registered;
use crate::server::control::{Control, Order};
use crate::server::http1_check::{BodyFraming, Http1Check, Refusal, Step};
use crate::server::service::{Answering, RequestService, TrackedBody};
use crate::upgrade::SwitchOffer;
use crate::{Body, BodyError, Request};

mod handover;
mod refusal;
mod writing;

use refusal::{refusal_response, report};

/// The most one read takes from the socket.
const READ_SIZE: usize = 64 * 1024;

/// The least room made in a connection's read buffer when it grows.
const INPUT_ROOM: usize = 4096;

/// Responses held back for one write while pipelined requests wait; past
/// this they go out.
const HOLD_AT_MOST: usize = 16 * 1024;

/// The interim response a client that sent `Expect: 100-continue` waits
/// for before it sends the body.
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

thread_local! {
    /// The bytes of one read on their way into a connection's buffer: a
    /// read is done with it before the next one starts, and a buffer per
    /// connection would cost every idle connection its size.
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0; READ_SIZE].into_boxed_slice());
}

/// What the connection reads next.
enum Reading {
    /// A request head (once the request before has been answered).
    Head,
    /// The body of the request in flight.
    Body(InboundSender),
    /// Nothing until the request in flight is answered: it may switch
    /// protocols, and then what follows is not HTTP.
    Switch,
    /// Nothing more: a request was refused, or a body was malformed.
    Done,
}

/// The request in flight and where its answer stands.
struct Exchange {
    answer: Answer,
    facts: Facts,
    /// How the response's body is framed, once its head is written.
    framing: Framing,
    /// The client waits for `100 Continue` before sending the body.
    expects_continue: bool,
    /// The request's offer to switch protocols, when it may: taken only
    /// when the response switches.
    offer: Option<SwitchOffer>,
}

/// How serving a connection ended.
pub(in crate::server) enum Ended {
    /// The connection is to close: its last bytes are in the transport's
    /// buffer.
    Closed,
    /// A response switched protocols: the connection goes to the offer.
    Switched(SwitchOffer),
}

enum Answer {
    /// The resource has not answered.
    Waiting(Answering),
    /// The resource answered when called: its response's head is being
    /// written.
    Answered,
    /// The head is written; the body follows.
    Sending(TrackedBody),
}

/// An HTTP/1 connection served without hyper.
pub(in crate::server) struct Http1Connection {
    /// Taken when the connection is handed over to another protocol.
    stream: Option<AsyncStream>,
    transport: Transport,
    check: Http1Check,
    /// Bytes read and not yet taken: part of a head (`checked` of them
    /// read by the checker), body bytes, the next requests.
    input: BytesMut,
    checked: usize,
    /// Response bytes not yet written.
    output: Vec<u8>,
    reading: Reading,
    exchange: Option<Exchange>,
    /// A refused request, answered once the request before it is.
    refusal: Option<Refusal>,
    /// No request after the one in flight: the client or the response
    /// said so, or the server is stopping.
    closing: bool,
    /// The buffers are let go until the client sends again.
    parked: bool,
    /// The response just written switched protocols.
    switched: Option<SwitchOffer>,
    service: RequestService,
    control: Rc<Control>,
    pipeline_flush: bool,
    max_body_size: Option<u64>,
    /// Held only: the server counts the connection while it lives.
    _registered: Rc<Registered>,
}

impl Http1Connection {
    /// Serves `stream`, whose first bytes (read to tell the protocol) are
    /// `first`.
    pub(in crate::server) fn new(
        stream: AsyncStream,
        first: &[u8],
        service: RequestService,
        registered: Rc<Registered>,
    ) -> Http1Connection {
        let options = &service.server.options;
        let check = Http1Check::new(options.max_header_size, options.max_headers);
        let pipeline_flush = options.http1_pipeline_flush;
        let max_body_size = options.max_body_size;
        Http1Connection {
            transport: stream.transport().clone(),
            stream: Some(stream),
            check,
            input: BytesMut::from(first),
            checked: 0,
            output: Vec::new(),
            reading: Reading::Head,
            exchange: None,
            refusal: None,
            closing: false,
            parked: false,
            switched: None,
            control: service.control.clone(),
            service,
            pipeline_flush,
            max_body_size,
            _registered: registered,
        }
    }

    /// Serves until the connection is to close or switch protocols.
    pub(in crate::server) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Ended> {
        encode::refresh_date();
        loop {
            let mut progress = self.parse(cx);
            progress |= self.answer(cx);
            if let Some(offer) = self.switched.take() {
                return Poll::Ready(Ended::Switched(offer));
            }
            if self.exchange.is_none() && self.over() {
                self.end();
                return Poll::Ready(Ended::Closed);
            }
            if progress {
                continue;
            }
            // Nothing more to do with what has arrived: what is held goes.
            if !self.flush(cx) && self.broken() {
                return Poll::Ready(Ended::Closed);
            }
            match self.poll_input(cx) {
                Poll::Ready(Ok(())) => continue,
                Poll::Ready(Err(error)) => {
                    tracing::debug!(%error, "HTTP/1 connection failed");
                    return Poll::Ready(Ended::Closed);
                }
                Poll::Pending => {}
            }
            self.park();
            return Poll::Pending;
        }
    }

    /// Whether the connection is done, now that no request is in flight.
    fn over(&mut self) -> bool {
        if let Some(refusal) = self.refusal.take() {
            refusal_response(&refusal, &mut self.output);
            report(&self.service, refusal, true);
            return true;
        }
        if self.control.order() >= Order::Finish {
            // The request being read is answered, with a close (see
            // `write_head`), unless the client is too slow for the timeouts.
            return !self.mid_head();
        }
        self.closing
    }

    /// Whether part of a request head has arrived and not the rest.
    fn mid_head(&self) -> bool {
        matches!(self.reading, Reading::Head) && !self.input.is_empty()
    }

    /// Parses what has arrived, as far as the connection may: whether
    /// anything came of it.
    fn parse(&mut self, cx: &mut Context<'_>) -> bool {
        match &self.reading {
            Reading::Head => self.parse_head(),
            Reading::Body(sender) => {
                if !sender.has_room() || self.input.is_empty() {
                    sender.wake_on_demand(cx.waker());
                    return false;
                }
                self.parse_body()
            }
            Reading::Switch | Reading::Done => false,
        }
    }

    fn parse_head(&mut self) -> bool {
        if self.exchange.is_some()
            || self.closing
            || self.output.len() >= HOLD_AT_MOST
            || self.checked == self.input.len()
        {
            return false;
        }
        match self.check.read(&mut self.input[self.checked..]) {
            Step::MoreHead => {
                self.checked = self.input.len();
                false
            }
            Step::Head {
                used,
                body,
                may_switch,
            } => {
                let head = self.input.split_to(self.checked + used).freeze();
                self.checked = 0;
                self.start(head, body, may_switch);
                true
            }
            Step::Refuse(refusal) => {
                self.refuse(refusal);
                true
            }
            Step::Body { .. } | Step::Broken(_) => {
                debug_assert!(false, "a body read while a head was expected");
                self.reading = Reading::Done;
                true
            }
        }
    }

    fn refuse(&mut self, refusal: Refusal) {
        self.refusal = Some(refusal);
        self.reading = Reading::Done;
        self.input = BytesMut::new();
        self.checked = 0;
    }

    fn parse_body(&mut self) -> bool {
        let Reading::Body(sender) = &self.reading else {
            return false;
        };
        match read_body(&mut self.check, &mut self.input, sender) {
            BodyRead::Nothing => false,
            BodyRead::Some => true,
            BodyRead::Ended => {
                self.body_ended();
                true
            }
            BodyRead::Malformed(refusal) => {
                sender.fail(BodyError::Malformed(refusal.reason));
                if self.exchange.is_none() {
                    // Answered already: the access log has no line that
                    // shows the malformed body.
                    report(&self.service, refusal, false);
                } else {
                    // The resource's read fails with this error, which it
                    // answers 400 (and the access log logs it).
                    tracing::debug!(
                        reason = refusal.reason,
                        "malformed body of a request in flight"
                    );
                }
                self.reading = Reading::Done;
                self.closing = true;
                true
            }
        }
    }

    /// The body of the last request has been read whole.
    fn body_ended(&mut self) {
        self.reading = match &self.exchange {
            Some(exchange) if exchange.offer.is_some() => Reading::Switch,
            _ => Reading::Head,
        };
    }

    /// A request head arrived: the resource is called.
    fn start(&mut self, head: Bytes, framing: BodyFraming, may_switch: bool) {
        let (sender, inbound, announced) = match framing {
            BodyFraming::Empty => (None, None, None),
            BodyFraming::Length(length) => {
                let (sender, inbound) = inbound(Some(length));
                (Some(sender), Some(inbound), Some(length))
            }
            BodyFraming::Chunked => {
                let (sender, inbound) = inbound(None);
                (Some(sender), Some(inbound), None)
            }
        };
        let with_body = sender.is_some();
        let clock = if with_body {
            self.service.body_clock(false)
        } else {
            None
        };
        let watch = clock.clone().map(|clock| clock as Rc<dyn ArrivalWatch>);
        let info = self.service.info.clone();
        let body = Body::from_connection(inbound, self.max_body_size, watch, info);
        // Built once, in place: a request is some 300 bytes, and each move
        // of it is a copy.
        let mut request = Request::new(body);
        let asks = match head::parse(&head, self.check.spans(), &mut request) {
            Ok(asks) => asks,
            Err(reason) => {
                let refusal = Refusal {
                    status: StatusCode::BAD_REQUEST,
                    reason,
                    request_line: Some(head::request_line(&head, self.check.spans())),
                };
                self.refuse(refusal);
                return;
            }
        };
        let mut body_ended = false;
        if let Some(sender) = &sender {
            // The body's bytes that came with the head are read at once: a
            // malformed body refuses its request before the resource sees
            // it, and a body nobody reads may already be whole.
            loop {
                match read_body(&mut self.check, &mut self.input, sender) {
                    BodyRead::Some => {}
                    BodyRead::Nothing => break,
                    BodyRead::Ended => {
                        body_ended = true;
                        break;
                    }
                    BodyRead::Malformed(refusal) => {
                        self.refuse(refusal);
                        return;
                    }
                }
            }
        }
        let method = request.method();
        let facts = Facts {
            head_request: method == Method::HEAD,
            connect: method == Method::CONNECT,
            version: request.version(),
            keep_alive: asks.keep_alive,
        };
        self.closing |= !asks.keep_alive;
        let offer = may_switch.then(|| {
            let (offer, switchable) = SwitchOffer::new();
            request.extensions_mut().insert(switchable);
            offer
        });
        let mut answering = self.service.answer(request, announced, clock);
        self.reading = match sender {
            Some(sender) if !body_ended => Reading::Body(sender),
            _ if may_switch => Reading::Switch,
            _ => Reading::Head,
        };
        self.exchange = Some(Exchange {
            answer: Answer::Answered,
            facts,
            framing: Framing::None,
            expects_continue: asks.expects_continue && with_body,
            offer,
        });
        // Most resources answer when called: the head is written from the
        // response where it lies, and only its body is kept.
        let Some(response) = answering.ready() else {
            if let Some(exchange) = &mut self.exchange {
                exchange.answer = Answer::Waiting(answering);
            }
            return;
        };
        // A body held whole goes out with its head, unless the transport is
        // backed up: then it waits its turn as a streamed body does, and the
        // next request is not read meanwhile.
        let whole_now = self.may_send_whole(response.body());
        if !self.write_head(response) {
            return;
        }
        let body = response.body_mut();
        match whole_now.then(|| body.take_whole()).flatten() {
            // Sent with the head, without polling a body.
            Some(data) => {
                if self.body_data(data) {
                    self.body_end();
                }
            }
            None => {
                let body = std::mem::take(body);
                self.send(answering.track(body));
            }
        }
    }

    /// Moves the request in flight on: its answer, then its body. Whether
    /// anything came of it.
    fn answer(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(exchange) = &mut self.exchange else {
            return false;
        };
        match &mut exchange.answer {
            Answer::Waiting(answering) => {
                if exchange.expects_continue
                    && let Reading::Body(sender) = &self.reading
                    && sender.take_asked()
                {
                    // The resource reads the body: the client may send it.
                    exchange.expects_continue = false;
                    self.output.extend_from_slice(CONTINUE);
                }
                let Poll::Ready(Ok(response)) = Pin::new(answering).poll(cx) else {
                    return false;
                };
                if self.write_head(&response) {
                    self.send(response.into_body());
                }
                true
            }
            Answer::Sending { .. } => self.send_body(cx),
            Answer::Answered => false,
        }
    }

    /// Writes the head of `response`, to the request in flight: whether a
    /// body follows (not when the exchange is over, or switched protocols).
    fn write_head<B: http_body::Body>(&mut self, response: &http::Response<B>) -> bool {
        let Some(exchange) = &mut self.exchange else {
            return false;
        };
        let head = encode::Head::from(response);
        let length = response.body().size_hint().exact();
        let mut facts = exchange.facts;
        facts.keep_alive &= !self.closing && self.control.order() < Order::Finish;
        let encoded = encode::encode_head(head, length, &facts, &mut self.output);
        self.closing |= encoded.close;
        if let Some(refused) = encoded.refused {
            tracing::error!(%refused, "a response could not be sent as it was: answered 500");
        }
        if exchange.offer.is_some() {
            let switched = head.status() == StatusCode::SWITCHING_PROTOCOLS
                || (facts.connect && head.status().is_success());
            if switched {
                // The head goes now; the new protocol has the rest.
                self.transport.write(&self.output);
                self.output = Vec::new();
                self.switched = self.exchange.take().and_then(|exchange| exchange.offer);
                return false;
            }
            if let Reading::Switch = self.reading {
                self.reading = Reading::Head;
            }
        }
        if let Framing::None = encoded.framing {
            self.complete();
            return false;
        }
        exchange.framing = encoded.framing;
        true
    }

    /// Sends the body of the response whose head was written.
    fn send(&mut self, body: TrackedBody) {
        if let Some(exchange) = &mut self.exchange {
            exchange.answer = Answer::Sending(body);
        }
    }

    /// The response to the request in flight is written whole.
    fn complete(&mut self) {
        // Lets the request go: its count in flight, its body clock.
        self.exchange = None;
        if let Reading::Body(sender) = &self.reading
            && sender.reader_gone()
        {
            // Nobody reads the rest of the body, which stands between the
            // client and its next request: what has arrived is skipped,
            // and if that is not all of it the connection closes rather
            // than wait for bytes nobody wants.
            loop {
                match read_body(&mut self.check, &mut self.input, sender) {
                    BodyRead::Some => {}
                    BodyRead::Ended => {
                        self.reading = Reading::Head;
                        break;
                    }
                    BodyRead::Nothing | BodyRead::Malformed(_) => {
                        self.closing = true;
                        break;
                    }
                }
            }
        }
        if let Reading::Switch = self.reading {
            self.reading = Reading::Head;
        }
        if !self.pipeline_flush {
            self.transport.write(&self.output);
            self.output.clear();
        }
    }

    /// Reads from the socket, when the connection wants bytes: `Ready`
    /// when bytes (or the end) arrived.
    fn poll_input(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.wants_input() {
            return Poll::Pending;
        }
        let Some(stream) = &mut self.stream else {
            return Poll::Pending;
        };
        let input = &mut self.input;
        let read = SCRATCH.with_borrow_mut(|scratch| {
            let polled = futures_io::AsyncRead::poll_read(Pin::new(stream), cx, scratch);
            if let Poll::Ready(Ok(n)) = polled {
                // Room for a few requests at once: the buffer is reused
                // (its bytes reclaimed) once the requests it held are gone.
                input.reserve(n.max(INPUT_ROOM));
                input.extend_from_slice(&scratch[..n]);
            }
            polled
        });
        match read? {
            Poll::Pending => Poll::Pending,
            Poll::Ready(n) => {
                self.control.received();
                if std::mem::take(&mut self.parked) {
                    self.control.set_parked(false);
                }
                if n == 0 {
                    self.client_done();
                }
                Poll::Ready(Ok(()))
            }
        }
    }

    /// Whether the connection reads on: for the head of the next request,
    /// for a body whose reader has room, and (up to a bound) past the
    /// request in flight, to see pipelined requests and the client going.
    fn wants_input(&self) -> bool {
        let bound = self.service.server.options.max_header_size;
        match &self.reading {
            Reading::Head => self.input.len() <= bound,
            Reading::Body(sender) => sender.has_room(),
            Reading::Switch | Reading::Done => false,
        }
    }

    /// The client sent its last byte.
    fn client_done(&mut self) {
        if let Reading::Body(sender) = &self.reading {
            sender.fail(BodyError::Incomplete);
        }
        // The connection ends at once, as hyper's does without half-close
        // support: a reply not yet given is dropped, which cancels the
        // work behind it, a response under way is cut, and requests
        // pipelined behind it are not answered (their answers would follow
        // a cut one).
        self.exchange = None;
        self.reading = Reading::Done;
        self.closing = true;
        self.input = BytesMut::new();
        self.checked = 0;
    }

    /// At rest, lets the buffers go when the control allows it.
    fn park(&mut self) {
        let at_rest = self.exchange.is_none()
            && matches!(self.reading, Reading::Head)
            && self.input.is_empty()
            && self.output.is_empty();
        if at_rest && self.control.may_park() {
            self.input = BytesMut::new();
            self.output = Vec::new();
            self.check.release_spans();
            self.parked = true;
            self.control.set_parked(true);
        }
    }
}

impl Drop for Http1Connection {
    /// A head cut by its timeout is reported as a 408.
    fn drop(&mut self) {
        if self.control.head_timed_out() && self.mid_head() {
            let refusal = Refusal {
                status: StatusCode::REQUEST_TIMEOUT,
                reason: "request head not received within the header read timeout",
                request_line: self.check.request_line(),
            };
            report(&self.service, refusal, false);
        }
    }
}

/// What reading a body's bytes came to.
enum BodyRead {
    /// Nothing: no bytes have arrived, or the reader has no room.
    Nothing,
    Some,
    Ended,
    Malformed(Refusal),
}

/// Reads the body's bytes that have arrived in `input` into `sender`, up
/// to the next run of content.
fn read_body(check: &mut Http1Check, input: &mut BytesMut, sender: &InboundSender) -> BodyRead {
    if input.is_empty() {
        return BodyRead::Nothing;
    }
    match check.read(&mut input[..]) {
        Step::Body { used, data, end } => {
            let taken = input.split_to(used);
            if !data.is_empty() {
                sender.push(taken.freeze().slice(data));
            }
            if end {
                sender.finish();
                BodyRead::Ended
            } else if used > 0 {
                BodyRead::Some
            } else {
                BodyRead::Nothing
            }
        }
        Step::Broken(refusal) => BodyRead::Malformed(refusal),
        Step::MoreHead | Step::Head { .. } | Step::Refuse(_) => BodyRead::Nothing,
    }
}
