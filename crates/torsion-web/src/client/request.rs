//! [`RequestBuilder`]: one request being put together, then sent.

use std::fmt;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, Method};
use serde::Serialize;
use torsion::Deferred;

use crate::Body;
use crate::client::exchange::{Outgoing, RequestBody, exchange};
use crate::client::response::{BodySettings, Deadline};
use crate::client::{Client, ClientError, ClientResponse, FullResponse, Multipart};

/// A request being built by [`Client::request`] (or `get`, `post`, ...).
/// Every setter takes and returns the builder; a bad value (a header that
/// HTTP does not allow, a form that does not encode) is kept and reported
/// by [`send`](Self::send), so a chain needs no `?` in the middle.
///
/// ```no_run
/// use std::time::Duration;
/// use torsion::{Failure, Reactor};
/// use torsion_web::client::Client;
///
/// #[derive(serde::Serialize)]
/// struct Note<'a> { text: &'a str }
///
/// let reactor = Reactor::new()?;
/// let client = Client::new(&reactor);
/// let sent = client
///     .post("http://127.0.0.1:8080/notes")
///     .query(&[("draft", "true")])
///     .header("x-trace", "42")
///     .basic_auth("alice", Some("secret"))
///     .json(&Note { text: "hello" })
///     .timeout(Duration::from_secs(5))
///     .send();
/// let r = reactor.clone();
/// drop(reactor.spawn(async move {
///     let response = sent.await?;
///     println!("{} {}", response.status(), response.text().await?);
///     r.stop()?;
///     Ok::<(), Failure>(())
/// }));
/// reactor.run()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder {
    client: Client,
    method: Method,
    url: Result<url::Url, ClientError>,
    headers: HeaderMap,
    body: RequestBody,
    timeout: Option<Duration>,
    follow_redirects: bool,
    decode: bool,
    max_body_size: Option<u64>,
    error: Option<ClientError>,
}

impl RequestBuilder {
    pub(crate) fn new(client: Client, method: Method, url: &str) -> RequestBuilder {
        let parsed = url::Url::parse(url).map_err(|error| ClientError::InvalidUrl {
            url: url.to_owned(),
            reason: error.to_string(),
        });
        let settings = client.settings();
        let (timeout, decode, max_body_size) =
            (settings.timeout, settings.decode, settings.max_body_size);
        RequestBuilder {
            client,
            method,
            url: parsed,
            headers: HeaderMap::new(),
            body: RequestBody::Empty,
            timeout,
            follow_redirects: true,
            decode,
            max_body_size,
            error: None,
        }
    }

    fn fail(&mut self, error: ClientError) {
        if self.error.is_none() {
            self.error = Some(error);
        }
    }

    /// Adds a header (a second one of the same name is added, not
    /// replaced).
    pub fn header(mut self, name: &str, value: &str) -> RequestBuilder {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(value)) => {
                self.headers.append(name, value);
            }
            (Err(error), _) => self.fail(ClientError::InvalidHeader(format!("{name:?}: {error}"))),
            (_, Err(error)) => self.fail(ClientError::InvalidHeader(format!(
                "value of {name}: {error}"
            ))),
        }
        self
    }

    /// Adds every header of `headers`.
    pub fn headers(mut self, headers: HeaderMap) -> RequestBuilder {
        for (name, value) in headers.iter() {
            self.headers.append(name.clone(), value.clone());
        }
        self
    }

    /// Adds query parameters (anything serde serializes as pairs: a slice
    /// of tuples, a map, a struct), after those already in the URL.
    pub fn query<Q: Serialize + ?Sized>(mut self, query: &Q) -> RequestBuilder {
        match serde_urlencoded::to_string(query) {
            Ok(encoded) => {
                if let Ok(url) = &mut self.url
                    && !encoded.is_empty()
                {
                    let joined = match url.query() {
                        Some(existing) if !existing.is_empty() => format!("{existing}&{encoded}"),
                        _ => encoded,
                    };
                    url.set_query(Some(&joined));
                }
            }
            Err(error) => self.fail(ClientError::Encode {
                what: "query",
                reason: error.to_string(),
            }),
        }
        self
    }

    /// Sends `value` as a JSON body (`Content-Type: application/json`).
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> RequestBuilder {
        match serde_json::to_vec(value) {
            Ok(encoded) => {
                self.body = RequestBody::Bytes(Bytes::from(encoded));
                self.set_content_type("application/json");
            }
            Err(error) => self.fail(ClientError::Encode {
                what: "JSON body",
                reason: error.to_string(),
            }),
        }
        self
    }

    /// Sends `form` URL-encoded (`Content-Type:
    /// application/x-www-form-urlencoded`).
    pub fn form<T: Serialize + ?Sized>(mut self, form: &T) -> RequestBuilder {
        match serde_urlencoded::to_string(form) {
            Ok(encoded) => {
                self.body = RequestBody::Bytes(Bytes::from(encoded));
                self.set_content_type("application/x-www-form-urlencoded");
            }
            Err(error) => self.fail(ClientError::Encode {
                what: "form",
                reason: error.to_string(),
            }),
        }
        self
    }

    /// Sends `form` as `multipart/form-data` (treq's `files=` and
    /// `data=`): fields and files, each with its name, file name and media
    /// type. Sent again after a 307/308 redirect.
    ///
    /// ```no_run
    /// # use torsion::Reactor;
    /// use torsion_web::client::{Client, Multipart};
    ///
    /// # let reactor = Reactor::new()?;
    /// let client = Client::new(&reactor);
    /// let sent = client
    ///     .post("http://127.0.0.1:8080/upload")
    ///     .multipart(
    ///         Multipart::new()
    ///             .text("title", "report")
    ///             .file("file", "report.csv", "text/csv", "a,b\n1,2\n"),
    ///     )
    ///     .send();
    /// # drop(sent);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn multipart(mut self, form: Multipart) -> RequestBuilder {
        let (content_type, body) = form.encode();
        match HeaderValue::from_str(&content_type) {
            Ok(value) => {
                self.headers.insert(CONTENT_TYPE, value);
                self.body = RequestBody::Bytes(body);
            }
            Err(error) => self.fail(ClientError::InvalidHeader(error.to_string())),
        }
        self
    }

    /// Sends `body`, such as a streamed [`Body::channel`]. It is sent
    /// once: a 307/308 answer to it is returned instead of followed. Use
    /// [`bytes`](Self::bytes) for a body that redirects can send again.
    pub fn body(mut self, body: impl Into<Body>) -> RequestBuilder {
        self.body = RequestBody::Stream(body.into());
        self
    }

    /// Sends `bytes` as the body (again after a 307/308 redirect).
    pub fn bytes(mut self, bytes: impl Into<Bytes>) -> RequestBuilder {
        self.body = RequestBody::Bytes(bytes.into());
        self
    }

    /// HTTP basic authentication (`Authorization: Basic ...`). Credentials
    /// in the URL (`http://user:pass@host/`) are used the same way.
    pub fn basic_auth(mut self, user: &str, password: Option<&str>) -> RequestBuilder {
        let credentials = format!("{user}:{}", password.unwrap_or(""));
        let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
        match HeaderValue::from_str(&format!("Basic {encoded}")) {
            Ok(mut value) => {
                value.set_sensitive(true);
                self.headers.insert(AUTHORIZATION, value);
            }
            Err(error) => self.fail(ClientError::InvalidHeader(error.to_string())),
        }
        self
    }

    /// Gives this request `timeout` in all, from now until its response
    /// head arrives (for [`send`](Self::send)) or its body is read (for
    /// [`fetch`](Self::fetch) and the response's body readers); when it
    /// passes the request fails with [`torsion::error::TimedOut`]. Replaces
    /// the client's timeout.
    pub fn timeout(mut self, timeout: Duration) -> RequestBuilder {
        self.timeout = Some(timeout);
        self
    }

    /// Whether to follow redirects (yes by default, up to the client's
    /// limit). When not, a 3xx response is returned as it is.
    pub fn follow_redirects(mut self, follow: bool) -> RequestBuilder {
        self.follow_redirects = follow;
        self
    }

    /// Whether to decode a gzip or deflate response body (the client's
    /// setting by default, yes unless changed). When not, no
    /// `Accept-Encoding` is added and the body reads as it came, with its
    /// `Content-Encoding` header.
    pub fn decode(mut self, decode: bool) -> RequestBuilder {
        self.decode = decode;
        self
    }

    /// The most body bytes the response may give its reader, decoded
    /// (replaces the client's [`max_body_size`](crate::client::ClientBuilder::max_body_size)).
    pub fn max_body_size(mut self, limit: u64) -> RequestBuilder {
        self.max_body_size = Some(limit);
        self
    }

    fn set_content_type(&mut self, value: &'static str) {
        self.headers
            .insert(CONTENT_TYPE, HeaderValue::from_static(value));
    }

    /// Sends the request. The Deferred fires with the response once its
    /// status and headers have arrived (the body is read from it later),
    /// or fails with a [`ClientError`] or, when the timeout passed,
    /// [`torsion::error::TimedOut`].
    ///
    /// Cancelling it (or dropping it while awaited) abandons the request:
    /// over HTTP/1.1 its connection is closed, over HTTP/2 only its stream
    /// is reset (RST_STREAM with `CANCEL`) and the shared connection goes
    /// on serving the other requests.
    pub fn send(self) -> Deferred<ClientResponse> {
        let reactor = self.client.reactor().clone();
        let timeout = self.timeout;
        let prepared = self.prepare();
        let deferred = reactor.spawn(async move {
            let (client, outgoing) = prepared?;
            exchange(client, outgoing).await
        });
        with_timeout(deferred, timeout, &reactor)
    }

    /// Sends the request and reads the whole response body: the Deferred
    /// fires with a [`FullResponse`] (which is `Send`: blocking code gets it
    /// through [`torsion::blocking::wait_for`]). The timeout covers reading
    /// the body too. Cancelling it abandons the request as for
    /// [`send`](Self::send), while the body is being read as well.
    pub fn fetch(self) -> Deferred<FullResponse> {
        let reactor = self.client.reactor().clone();
        let timeout = self.timeout;
        let prepared = self.prepare();
        let deferred = reactor.spawn(async move {
            let (client, outgoing) = prepared?;
            exchange(client, outgoing).await?.into_full().await
        });
        with_timeout(deferred, timeout, &reactor)
    }

    fn prepare(self) -> Result<(Client, Outgoing), ClientError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let mut url = self.url?;
        let mut headers = self.headers;
        if !url.username().is_empty() && !headers.contains_key(AUTHORIZATION) {
            let user = percent_decode(url.username());
            let password = url.password().map(percent_decode);
            let credentials = format!("{user}:{}", password.unwrap_or_default());
            let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
            if let Ok(mut value) = HeaderValue::from_str(&format!("Basic {encoded}")) {
                value.set_sensitive(true);
                headers.insert(AUTHORIZATION, value);
            }
        }
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url.set_fragment(None);
        let max_redirects = self
            .follow_redirects
            .then_some(self.client.settings().max_redirects);
        let deadline = Deadline::after(self.timeout);
        let cookies = self.client.cookies().cloned();
        Ok((
            self.client,
            Outgoing {
                method: self.method,
                url,
                headers,
                body: self.body,
                max_redirects,
                deadline,
                cookies,
                body_settings: BodySettings {
                    decode: self.decode,
                    limit: self.max_body_size,
                },
            },
        ))
    }
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

fn with_timeout<T: 'static>(
    deferred: Deferred<T>,
    timeout: Option<Duration>,
    reactor: &torsion::Reactor,
) -> Deferred<T> {
    match timeout {
        Some(timeout) => deferred.add_timeout(timeout, reactor),
        None => deferred,
    }
}

impl fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = match &self.url {
            Ok(url) => url.as_str().to_owned(),
            Err(error) => error.to_string(),
        };
        f.debug_struct("RequestBuilder")
            .field("method", &self.method)
            .field("url", &url)
            .field("headers", &self.headers)
            .field("timeout", &self.timeout)
            .field("decode", &self.decode)
            .field("max_body_size", &self.max_body_size)
            .finish_non_exhaustive()
    }
}
