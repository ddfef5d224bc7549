//! What a request gets back: [`ClientResponse`] with its body still on the
//! connection, or [`FullResponse`] with the body read.

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH};
use http::{HeaderMap, StatusCode, Version};
use hyper::body::Incoming;
use hyper::rt::Timer;
use serde::de::DeserializeOwned;
use torsion::Failure;
use torsion::error::TimedOut;

use crate::client::ClientError;
use crate::client::decode::{Coding, DEFAULT_CHARSET, ResponseBody, decode_text};
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
    body: ResponseBody,
    deadline: Option<Deadline>,
    /// Frees the connection once the body has been read to its end.
    ticket: Option<Ticket>,
    history: Vec<Redirected>,
}

/// How a response body is read: decoded or not, and up to which size.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BodySettings {
    pub(crate) decode: bool,
    pub(crate) limit: Option<u64>,
}

impl ClientResponse {
    pub(crate) fn new(
        response: http::Response<Incoming>,
        url: url::Url,
        deadline: Option<Deadline>,
        ticket: Option<Ticket>,
        settings: BodySettings,
        history: Vec<Redirected>,
    ) -> ClientResponse {
        let (mut parts, body) = response.into_parts();
        let coding = Coding::of(&parts.headers).filter(|_| settings.decode);
        if coding.is_some() {
            // They describe the bytes on the wire, not what the reader gets.
            parts.headers.remove(CONTENT_ENCODING);
            parts.headers.remove(CONTENT_LENGTH);
        }
        ClientResponse {
            status: parts.status,
            version: parts.version,
            headers: parts.headers,
            url,
            body: ResponseBody::new(body, coding, settings.limit),
            deadline,
            ticket,
            history,
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

    /// The redirects followed to get here, the first first (treq's
    /// `response.history()`); empty when the first answer was the final
    /// one.
    pub fn history(&self) -> &[Redirected] {
        &self.history
    }

    /// The `Content-Length` the server announced, if any (none for a body
    /// the client decodes: its decoded length is not known in advance).
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

    /// Reads the whole body as text in the charset its `Content-Type`
    /// names (`charset=iso-8859-1`, `windows-1252`, `utf-8`, any label of
    /// the WHATWG Encoding Standard), UTF-8 when it names none; invalid
    /// sequences are replaced. treq's `text_content`.
    pub async fn text(self) -> Result<String, Failure> {
        self.text_with_default("utf-8").await
    }

    /// [`text`](Self::text) with `default_charset` (an encoding label such
    /// as `"iso-8859-1"`) for a body whose `Content-Type` names no
    /// charset, or one unknown, as treq's `text_content(response,
    /// encoding)`. An unknown `default_charset` means UTF-8.
    pub async fn text_with_default(self, default_charset: &str) -> Result<String, Failure> {
        let headers = self.headers.clone();
        let bytes = self.bytes().await?;
        Ok(decode_text(&headers, &bytes, encoding(default_charset)))
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
        let history = self.history.clone();
        let body = self.bytes().await?;
        Ok(FullResponse {
            status,
            version,
            headers,
            url,
            body,
            history,
        })
    }

    /// The body as a torsion-web [`Body`] (to hand to a server response,
    /// say), decoded as the response's readers decode it. The request's
    /// timeout no longer applies to it.
    pub fn into_body(self) -> Body {
        Body::boxed(self.body)
    }
}

fn poll_data(
    mut body: Pin<&mut ResponseBody>,
    cx: &mut std::task::Context<'_>,
) -> Poll<Option<Result<Bytes, BodyError>>> {
    loop {
        match std::task::ready!(http_body::Body::poll_frame(body.as_mut(), cx)) {
            None => return Poll::Ready(None),
            Some(Err(error)) => return Poll::Ready(Some(Err(error))),
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
    history: Vec<Redirected>,
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

    /// The redirects followed to get here, the first first.
    pub fn history(&self) -> &[Redirected] {
        &self.history
    }

    /// The body.
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// The body as text in the charset its `Content-Type` names, UTF-8
    /// when it names none (see [`ClientResponse::text`]).
    pub fn text(&self) -> String {
        self.text_with_default("utf-8")
    }

    /// [`text`](Self::text) with `default_charset` for a body whose
    /// `Content-Type` names no charset (see
    /// [`ClientResponse::text_with_default`]).
    pub fn text_with_default(&self, default_charset: &str) -> String {
        decode_text(&self.headers, &self.body, encoding(default_charset))
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

/// A redirect that a request followed: its status, headers and the URL
/// that answered with it (its body was read and dropped). Listed by
/// [`ClientResponse::history`].
#[derive(Clone, Debug)]
pub struct Redirected {
    pub(crate) status: StatusCode,
    pub(crate) version: Version,
    pub(crate) headers: HeaderMap,
    pub(crate) url: url::Url,
}

impl Redirected {
    /// The status code (301, 302, 303, 307 or 308).
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The HTTP version the server answered with.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The response headers (`Location` among them).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The URL that answered with this redirect.
    pub fn url(&self) -> &url::Url {
        &self.url
    }

    /// Where it pointed, as the server wrote it.
    pub fn location(&self) -> Option<&str> {
        self.headers.get(http::header::LOCATION)?.to_str().ok()
    }
}

fn encoding(label: &str) -> &'static encoding_rs::Encoding {
    encoding_rs::Encoding::for_label(label.as_bytes()).unwrap_or(DEFAULT_CHARSET)
}
