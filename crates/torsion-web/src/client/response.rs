//! What a request gets back: [`ClientResponse`] with its body still on the
//! connection, or [`FullResponse`] with the body read.

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, StatusCode, Version};
use hyper::body::Incoming;
use hyper::rt::Timer;
use serde::de::DeserializeOwned;
use torsion::Failure;
use torsion::error::TimedOut;

use crate::client::ClientError;
use crate::client::pool::Ticket;
use crate::rt::ReactorTimer;
use crate::{Body, BodyError};

/// When a request's time is up, and how long it was given.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    pub(crate) at: Instant,
    pub(crate) timeout: Duration,
}

impl Deadline {
    pub(crate) fn after(timeout: Option<Duration>) -> Option<Deadline> {
        timeout.map(|timeout| Deadline {
            at: Instant::now() + timeout,
            timeout,
        })
    }
}

/// Runs `future` unless the deadline passes first, which fails with
/// [`TimedOut`]. Needs the reactor's thread (the timer is a reactor timer).
pub(crate) async fn before<F: Future>(
    deadline: Option<Deadline>,
    future: F,
) -> Result<F::Output, Failure> {
    let Some(deadline) = deadline else {
        return Ok(future.await);
    };
    let mut future = pin!(future);
    let mut sleep = ReactorTimer.sleep_until(deadline.at);
    poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Ok(output));
        }
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(Failure::new(TimedOut(deadline.timeout))));
        }
        Poll::Pending
    })
    .await
}

/// A response whose status and headers have arrived; its body comes from
/// the connection as it is read. Read it whole ([`bytes`](Self::bytes),
/// [`text`](Self::text), [`json`](Self::json)) or chunk by chunk
/// ([`chunk`](Self::chunk)): the connection reads from the socket only as
/// the chunks are taken, so a large body never piles up in memory.
///
/// The request's timeout, if it had one, also bounds reading the body.
/// Read the body on the reactor thread (in the task that sent the
/// request). Reading it to the end gives an HTTP/1.1 connection back to
/// the pool; dropping it half read closes that connection.
pub struct ClientResponse {
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    url: url::Url,
    body: Incoming,
    deadline: Option<Deadline>,
    /// Frees the connection once the body has been read to its end.
    ticket: Option<Ticket>,
}

impl ClientResponse {
    pub(crate) fn new(
        response: http::Response<Incoming>,
        url: url::Url,
        deadline: Option<Deadline>,
        ticket: Option<Ticket>,
    ) -> ClientResponse {
        let (parts, body) = response.into_parts();
        ClientResponse {
            status: parts.status,
            version: parts.version,
            headers: parts.headers,
            url,
            body,
            deadline,
            ticket,
        }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The HTTP version the server answered with.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The URL that answered, after redirects.
    pub fn url(&self) -> &url::Url {
        &self.url
    }

    /// The `Content-Length` the server announced, if any.
    pub fn content_length(&self) -> Option<u64> {
        self.headers
            .get(http::header::CONTENT_LENGTH)?
            .to_str()
            .ok()?
            .parse()
            .ok()
    }

    /// The next chunk of the body, as it arrives; `None` at the end.
    pub async fn chunk(&mut self) -> Option<Result<Bytes, Failure>> {
        let deadline = self.deadline;
        let body = &mut self.body;
        let next = before(deadline, poll_fn(|cx| poll_data(Pin::new(&mut *body), cx))).await;
        match next {
            Ok(Some(Ok(data))) => Some(Ok(data)),
            Ok(Some(Err(error))) => Some(Err(ClientError::Body(error).into())),
            Ok(None) => {
                if let Some(ticket) = self.ticket.take() {
                    ticket.finished();
                }
                None
            }
            Err(timed_out) => Some(Err(timed_out)),
        }
    }

    /// Reads the whole body.
    pub async fn bytes(mut self) -> Result<Bytes, Failure> {
        let mut whole = crate::body::Joined::default();
        while let Some(data) = self.chunk().await {
            whole.push(data?);
        }
        Ok(whole.finish())
    }

    /// Reads the whole body as UTF-8 text (invalid sequences replaced).
    pub async fn text(self) -> Result<String, Failure> {
        let bytes = self.bytes().await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Reads the whole body and parses it as JSON.
    pub async fn json<T: DeserializeOwned>(self) -> Result<T, Failure> {
        let bytes = self.bytes().await?;
        serde_json::from_slice(&bytes).map_err(|error| ClientError::Json(error).into())
    }

    /// Reads the whole body and keeps it with the status and headers.
    pub async fn into_full(self) -> Result<FullResponse, Failure> {
        let status = self.status;
        let version = self.version;
        let headers = self.headers.clone();
        let url = self.url.clone();
        let body = self.bytes().await?;
        Ok(FullResponse {
            status,
            version,
            headers,
            url,
            body,
        })
    }

    /// The body as a torsion-web [`Body`] (to hand to a server response,
    /// say). The request's timeout no longer applies to it.
    pub fn into_body(self) -> Body {
        Body::incoming(self.body, None)
    }
}

fn poll_data(
    mut body: Pin<&mut Incoming>,
    cx: &mut std::task::Context<'_>,
) -> Poll<Option<Result<Bytes, BodyError>>> {
    loop {
        match std::task::ready!(http_body::Body::poll_frame(body.as_mut(), cx)) {
            None => return Poll::Ready(None),
            Some(Err(error)) => return Poll::Ready(Some(Err(error.into()))),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    return Poll::Ready(Some(Ok(data)));
                }
            }
        }
    }
}

impl fmt::Debug for ClientResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientResponse")
            .field("status", &self.status)
            .field("version", &self.version)
            .field("url", &self.url.as_str())
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

/// A response with its whole body read: what
/// [`RequestBuilder::fetch`](crate::client::RequestBuilder::fetch) gives.
/// It is `Send`, so blocking code can receive it through
/// [`torsion::blocking`].
#[derive(Clone, Debug)]
pub struct FullResponse {
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    url: url::Url,
    body: Bytes,
}

impl FullResponse {
    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The HTTP version the server answered with.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The URL that answered, after redirects.
    pub fn url(&self) -> &url::Url {
        &self.url
    }

    /// The body.
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// The body as UTF-8 text (invalid sequences replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ClientError> {
        Ok(serde_json::from_slice(&self.body)?)
    }

    /// The body, taken out.
    pub fn into_bytes(self) -> Bytes {
        self.body
    }
}
