//! Answering the requests of one connection, HTTP/1 (torsion-web's own
//! connection) or HTTP/2 (hyper's, through the `hyper::service::Service`
//! impl): it makes the [`Request`], checks the announced body size, calls
//! the resource (a panic becomes a 500), and keeps the connection's count
//! of requests in flight
//! until each response's body has been sent or dropped. A request body
//! that arrives too slowly (see `body_clock`) is answered 408 for a
//! resource that has not answered, and cuts a response under way.

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use torsion::Failure;

use super::Shared;
use super::body_clock::BodyClock;
use super::control::Control;
use crate::body::ArrivalWatch;
use crate::{Body, BodyError, ConnectionInfo, RejectedRequest, Reply, Request, Resource, Response};

/// Answers the requests of one connection with a resource.
#[derive(Clone)]
pub(super) struct RequestService {
    pub(super) resource: Rc<dyn Resource>,
    /// Handed to every request with its body.
    pub(super) info: Rc<ConnectionInfo>,
    pub(super) control: Rc<Control>,
    /// The server, for its options.
    pub(super) server: Rc<Shared>,
}

impl hyper::service::Service<http::Request<Incoming>> for RequestService {
    type Response = http::Response<TrackedBody>;
    type Error = Infallible;
    type Future = Http2Answer;

    fn call(&self, request: http::Request<Incoming>) -> Http2Answer {
        let announced = http_body::Body::size_hint(request.body()).exact();
        let clock = if http_body::Body::is_end_stream(request.body()) {
            None
        } else {
            self.body_clock(true)
        };
        let watch = clock.clone().map(|clock| clock as Rc<dyn ArrivalWatch>);
        let (limit, info) = (self.server.options.max_body_size, self.info.clone());
        let request = request.map(|body| Body::received(body, limit, watch, info));
        let mut answering = self.answer(request, announced, clock);
        match answering.take_ready() {
            Some(response) => Http2Answer::Ready(Some(response)),
            None => Http2Answer::Later(answering),
        }
    }
}

/// A response on its way to hyper's HTTP/2 connection: one the resource
/// gave when called is handed over when first polled.
pub(super) enum Http2Answer {
    /// `None` once handed over.
    Ready(Option<http::Response<TrackedBody>>),
    Later(Answering),
}

impl Future for Http2Answer {
    type Output = Result<http::Response<TrackedBody>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Http2Answer::Ready(response) => Poll::Ready(Ok(response.take().unwrap_or_else(|| {
                let failure = Failure::msg("an answer was polled after it was handed over");
                finish(Err(failure), None, None)
            }))),
            Http2Answer::Later(answering) => Pin::new(answering).poll(cx),
        }
    }
}

impl RequestService {
    /// The clock that times a request body's arrival, when bodies are
    /// timed; `http2`: a slow body resets its stream rather than closing
    /// the connection.
    pub(super) fn body_clock(&self, http2: bool) -> Option<Rc<BodyClock>> {
        BodyClock::start(&self.server.options, &self.control, http2)
    }

    /// Answers a request whose head has arrived, its body (if any) timed by
    /// `clock`: refuses a body announced larger than the limit, and calls
    /// the resource.
    pub(super) fn answer(
        &self,
        request: Request,
        announced: Option<u64>,
        clock: Option<Rc<BodyClock>>,
    ) -> Answering {
        let guard = InFlight::start(&self.control);
        if let (Some(limit), Some(announced)) = (self.server.options.max_body_size, announced)
            && announced > limit
        {
            tracing::debug!(announced, limit, "request body larger than the limit");
            self.resource.rejected(&RejectedRequest {
                peer: self.info.peer.clone(),
                status: StatusCode::PAYLOAD_TOO_LARGE,
                reason: "announced body larger than the limit",
                request_line: Some(format!(
                    "{} {} {:?}",
                    request.method(),
                    request.uri(),
                    request.version()
                )),
                answered: true,
            });
            return Answering {
                reply: Reply::from(too_large(limit)),
                guard: Some(guard),
                clock: None,
            };
        }
        Answering {
            reply: answer(&*self.resource, request),
            guard: Some(guard),
            clock,
        }
    }
}

/// Calls the resource, turning a panic into a failed reply.
fn answer(resource: &dyn Resource, request: Request) -> Reply {
    std::panic::catch_unwind(AssertUnwindSafe(|| resource.handle(request)))
        .unwrap_or_else(|payload| Reply::failed(Failure::from_panic(payload)))
}

/// A resource's reply on its way, and what its request holds until the
/// response is sent: its count in flight, and its body's clock. Dropping
/// it (the client went away) drops the reply, which cancels a Deferred
/// behind it.
pub(super) struct Answering {
    reply: Reply,
    /// Taken with the response's body.
    guard: Option<InFlight>,
    /// Times the request body, when it has one.
    clock: Option<Rc<BodyClock>>,
}

impl Answering {
    /// The response, when the resource answered when called (most do),
    /// made ready to send where it lies: the connection writes its head
    /// from it, then takes its body out and [`track`](Self::track)s it.
    pub(super) fn ready(&mut self) -> Option<&mut Response> {
        let response = self.reply.ready_response(|failure| respond(Err(failure)))?;
        self.clock = settle_clock(response, self.clock.take());
        Some(response)
    }

    /// The whole response, when the resource answered when called, its
    /// body tracked.
    fn take_ready(&mut self) -> Option<http::Response<TrackedBody>> {
        let response = std::mem::take(self.ready()?);
        Some(response.map(|body| self.track(body)))
    }

    /// The body of the response [`ready`](Self::ready) gave, made to keep
    /// the request counted in flight (and its body's clock) until it is
    /// sent or dropped.
    pub(super) fn track(&mut self, body: Body) -> TrackedBody {
        TrackedBody {
            body,
            clock: self.clock.take(),
            _in_flight: self.guard.take(),
        }
    }
}

impl Future for Answering {
    type Output = Result<http::Response<TrackedBody>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Answering {
            reply,
            guard,
            clock,
        } = self.get_mut();
        let polled = std::panic::catch_unwind(AssertUnwindSafe(|| Pin::new(&mut *reply).poll(cx)));
        let result = match polled {
            Ok(Poll::Pending) => match clock.as_ref().and_then(|clock| clock.expired()) {
                // The resource has not answered the slow client, and may
                // never: the server answers for it and drops its reply.
                Some(error) => {
                    drop(std::mem::replace(reply, Reply::from(Response::default())));
                    Err(Failure::new(error))
                }
                None => {
                    if let Some(clock) = clock.as_ref() {
                        clock.wake_on_expiry(cx.waker());
                    }
                    return Poll::Pending;
                }
            },
            Ok(Poll::Ready(result)) => result,
            Err(payload) => Err(Failure::from_panic(payload)),
        };
        Poll::Ready(Ok(finish(result, guard.take(), clock.take())))
    }
}

/// The response the connection sends for a reply's outcome: its body keeps the
/// request counted in flight (`guard`) and, while the request body may
/// still be late, watched by its clock.
fn finish(
    result: Result<Response, Failure>,
    guard: Option<InFlight>,
    clock: Option<Rc<BodyClock>>,
) -> http::Response<TrackedBody> {
    let mut response = respond(result);
    let clock = settle_clock(&mut response, clock);
    response.map(|body| TrackedBody {
        body,
        clock,
        _in_flight: guard,
    })
}

/// Tells the request body's clock (if any) that `response` answers its
/// request: the clock the response's body keeps, if the request body may
/// still be late. One already expired makes the response the connection's
/// last.
fn settle_clock(response: &mut Response, clock: Option<Rc<BodyClock>>) -> Option<Rc<BodyClock>> {
    let clock = clock?;
    if clock.expired().is_some() {
        // The rest of the body will not be read: no next request.
        close_after(response);
        return None;
    }
    clock.answered();
    Some(clock)
}

/// The response for a reply: a body over the limit is a 413, an
/// [`HttpError`](crate::HttpError) its own answer, and any other failure is
/// logged and becomes a 500.
fn respond(result: Result<Response, Failure>) -> Response {
    result.unwrap_or_else(|failure| match failure.downcast_ref::<BodyError>() {
        Some(&BodyError::TooLarge { limit }) => too_large(limit),
        Some(error) if error.is_timeout() => request_timeout(error),
        _ => crate::http_error::failure_response(failure),
    })
}

fn request_timeout(error: &BodyError) -> Response {
    let mut response = status_response(
        StatusCode::REQUEST_TIMEOUT,
        format!("408 Request Timeout: {error}\n"),
    );
    close_after(&mut response);
    response
}

/// Marks an HTTP/1 response as the connection's last (hyper leaves the
/// header out of HTTP/2, where it has no meaning).
fn close_after(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
}

fn too_large(limit: u64) -> Response {
    let mut response = status_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("413 Payload Too Large: the limit is {limit} bytes\n"),
    );
    // The body is not read, so the connection cannot carry another request.
    close_after(&mut response);
    response
}

fn status_response(status: StatusCode, text: impl Into<Body>) -> Response {
    let mut response = Response::new(text.into());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Counts a request in flight on its connection until dropped.
pub(super) struct InFlight {
    control: Rc<Control>,
}

impl InFlight {
    fn start(control: &Rc<Control>) -> InFlight {
        control.request_started();
        InFlight {
            control: control.clone(),
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.control.request_finished();
    }
}

/// A response body that keeps its request counted in flight until the
/// connection has sent it, or dropped it.
pub(super) struct TrackedBody {
    body: Body,
    /// The request body's clock while the request body may still be late:
    /// its expiry cuts this response.
    clock: Option<Rc<BodyClock>>,
    _in_flight: Option<InFlight>,
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        if let Some(error) = this.clock.as_ref().and_then(|clock| clock.expired()) {
            // Failing the body resets an HTTP/2 stream (an HTTP/1
            // connection is aborted by the clock itself).
            return Poll::Ready(Some(Err(error)));
        }
        let polled = Pin::new(&mut this.body).poll_frame(cx);
        if polled.is_pending()
            && let Some(clock) = &this.clock
        {
            clock.wake_on_expiry(cx.waker());
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
