//! The hyper service of one connection: it turns hyper's request into a
//! [`Request`], checks the announced body size, calls the resource (a panic
//! becomes a 500), and keeps the connection's count of requests in flight
//! until each response's body has been sent or dropped.

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

use super::control::Control;
use crate::{Body, BodyError, ConnectionInfo, RejectedRequest, Reply, Request, Resource, Response};

/// Answers the requests of one connection with a resource.
pub(super) struct RequestService {
    pub(super) resource: Rc<dyn Resource>,
    pub(super) info: ConnectionInfo,
    pub(super) control: Rc<Control>,
    pub(super) max_body_size: Option<u64>,
}

impl hyper::service::Service<http::Request<Incoming>> for RequestService {
    type Response = http::Response<TrackedBody>;
    type Error = Infallible;
    type Future = Answering;

    fn call(&self, request: http::Request<Incoming>) -> Answering {
        let guard = InFlight::start(&self.control);
        if let (Some(limit), Some(announced)) = (
            self.max_body_size,
            http_body::Body::size_hint(request.body()).exact(),
        ) && announced > limit
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
            };
        }
        let mut request: Request = request.map(|body| Body::incoming(body, self.max_body_size));
        request.extensions_mut().insert(self.info.clone());
        Answering {
            reply: answer(&*self.resource, request),
            guard: Some(guard),
        }
    }
}

/// Calls the resource, turning a panic into a failed reply.
fn answer(resource: &dyn Resource, request: Request) -> Reply {
    std::panic::catch_unwind(AssertUnwindSafe(|| resource.handle(request)))
        .unwrap_or_else(|payload| Reply::failed(Failure::from_panic(payload)))
}

/// A resource's reply on its way; dropping it (the client went away)
/// drops the reply, which cancels a Deferred behind it.
pub(super) struct Answering {
    reply: Reply,
    guard: Option<InFlight>,
}

impl Future for Answering {
    type Output = Result<http::Response<TrackedBody>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let polled =
            std::panic::catch_unwind(AssertUnwindSafe(|| Pin::new(&mut this.reply).poll(cx)));
        let result = match polled {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(result)) => result,
            Err(payload) => Err(Failure::from_panic(payload)),
        };
        let guard = this.guard.take();
        Poll::Ready(Ok(respond(result).map(|body| TrackedBody {
            body,
            _in_flight: guard,
        })))
    }
}

/// The response for a reply: a body over the limit is a 413, an
/// [`HttpError`](crate::HttpError) its own answer, and any other failure is
/// logged and becomes a 500.
fn respond(result: Result<Response, Failure>) -> Response {
    result.unwrap_or_else(|failure| {
        if let Some(&BodyError::TooLarge { limit }) = failure.downcast_ref::<BodyError>() {
            return too_large(limit);
        }
        crate::http_error::failure_response(failure)
    })
}

fn too_large(limit: u64) -> Response {
    let mut response = status_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("413 Payload Too Large: the limit is {limit} bytes\n"),
    );
    // The body is not read, so the connection cannot carry another request.
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
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
    _in_flight: Option<InFlight>,
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
