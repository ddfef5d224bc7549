//! [`Resource`]: what answers a request. A resource returns a [`Reply`]: a
//! response now, a [`Deferred`] of one, or a future of one, so callback-style
//! and async code answer requests side by side.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use torsion::{Deferred, Failure};

use crate::{Body, RejectedRequest};

/// A request as a resource sees it. [`RequestExt`](crate::RequestExt)
/// reads what the server knows of its connection
/// ([`ConnectionInfo`](crate::ConnectionInfo)) and what routers add.
pub type Request = http::Request<Body>;

/// A response as a resource builds it.
pub type Response = http::Response<Body>;

/// Answers requests: Twisted's `IResource` and klein's route handlers in one
/// shape. Closures `Fn(Request) -> R` are resources when `R` converts into a
/// [`Reply`].
///
/// ```
/// use torsion_web::{Body, Request, Resource, Response};
///
/// let hello = |_request: Request| Response::new(Body::from("hello"));
/// let _ = hello.handle(Request::new(Body::empty()));
/// ```
pub trait Resource: 'static {
    /// Starts answering `request`. A failure becomes a 500 response and is
    /// logged by the server.
    fn handle(&self, request: Request) -> Reply;

    /// Told of a request the server refused itself, before it could reach
    /// this resource (a malformed head, a request smuggling attempt, a
    /// head over the limits, a timeout). The server tells only the
    /// resource it serves; [`AccessLog`](crate::AccessLog) logs these, so
    /// put it outermost. Does nothing by default.
    fn rejected(&self, request: &RejectedRequest) {
        let _ = request;
    }
}

impl<F, R> Resource for F
where
    F: Fn(Request) -> R + 'static,
    R: Into<Reply>,
{
    fn handle(&self, request: Request) -> Reply {
        self(request).into()
    }
}

/// A response, now or later.
#[must_use = "a reply does nothing unless the server awaits it"]
pub struct Reply {
    inner: ReplyInner,
}

enum ReplyInner {
    Ready(Option<Result<Response, Failure>>),
    Deferred(Deferred<Response>),
    Later(Pin<Box<dyn Future<Output = Result<Response, Failure>>>>),
}

impl Reply {
    /// A reply that a future will produce.
    pub fn later<F, E>(future: F) -> Reply
    where
        F: Future<Output = Result<Response, E>> + 'static,
        E: Into<Failure>,
    {
        Reply {
            inner: ReplyInner::Later(Box::pin(async move { future.await.map_err(Into::into) })),
        }
    }

    /// A failed reply (the server answers 500).
    pub fn failed(failure: impl Into<Failure>) -> Reply {
        Reply {
            inner: ReplyInner::Ready(Some(Err(failure.into()))),
        }
    }

    /// The response of a reply that has its outcome already (given at
    /// once), looked at where it lies, a failure first turned into its
    /// response by `failed`; `None` for a reply still to come. The server
    /// answers such a reply without polling it, or moving the response.
    pub(crate) fn ready_response(
        &mut self,
        failed: impl FnOnce(Failure) -> Response,
    ) -> Option<&mut Response> {
        let ReplyInner::Ready(outcome) = &mut self.inner else {
            return None;
        };
        if let Some(Err(_)) = outcome
            && let Some(Err(failure)) = outcome.take()
        {
            *outcome = Some(Ok(failed(failure)));
        }
        match outcome {
            Some(Ok(response)) => Some(response),
            Some(Err(_)) | None => None,
        }
    }
}

impl From<Response> for Reply {
    fn from(response: Response) -> Reply {
        Reply {
            inner: ReplyInner::Ready(Some(Ok(response))),
        }
    }
}

impl From<Deferred<Response>> for Reply {
    fn from(deferred: Deferred<Response>) -> Reply {
        Reply {
            inner: ReplyInner::Deferred(deferred),
        }
    }
}

impl<E: Into<Failure>> From<Result<Response, E>> for Reply {
    fn from(result: Result<Response, E>) -> Reply {
        Reply {
            inner: ReplyInner::Ready(Some(result.map_err(Into::into))),
        }
    }
}

impl Future for Reply {
    type Output = Result<Response, Failure>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().inner {
            ReplyInner::Ready(response) => Poll::Ready(
                response
                    .take()
                    .unwrap_or_else(|| Err(Failure::msg("a reply was polled after it finished"))),
            ),
            ReplyInner::Deferred(deferred) => Pin::new(deferred).poll(cx),
            ReplyInner::Later(future) => future.as_mut().poll(cx),
        }
    }
}

impl Drop for Reply {
    /// A reply dropped before it is done means nobody wants the response
    /// any more (the client went away): a Deferred is cancelled, so the
    /// work behind it can stop; a future is dropped, which stops it.
    fn drop(&mut self) {
        if let ReplyInner::Deferred(deferred) = &self.inner {
            deferred.cancel();
        }
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.inner {
            ReplyInner::Ready(_) => "ready",
            ReplyInner::Deferred(_) => "deferred",
            ReplyInner::Later(_) => "later",
        };
        f.debug_struct("Reply").field("state", &state).finish()
    }
}
