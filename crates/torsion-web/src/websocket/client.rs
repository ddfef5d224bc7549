//! The client side: [`connect_websocket`] for the common case,
//! [`WebSocketClient`] for subprotocols, headers, TLS roots and limits.

use std::fmt;
use std::path::PathBuf;

use http::header::{HeaderMap, HeaderName, HeaderValue};
use torsion::endpoints::{ClientEndpoint, client_from_string, quote_string_argument};
use torsion::{Deferred, Failure, Reactor};
use tungstenite::protocol::Role;

use super::handle::Details;
use super::handshake::{client_request, verify_answer};
use super::messages::{Messages, QueueProtocol};
use super::{WebSocket, WebSocketError, WebSocketOptions, WebSocketProtocol};
use crate::body::Body;
use crate::upgrade::{self, UpgradableStream};

/// The start of a refusal's body kept for the error.
const REFUSAL_BODY_LIMIT: usize = 1024;

/// Connects to a `ws://` URL and gives the connection's handle and its
/// stream of messages. For `wss://`, TLS roots or subprotocols, use a
/// [`WebSocketClient`].
///
/// ```no_run
/// use torsion::{Failure, Reactor};
/// use torsion_web::websocket::connect_websocket;
///
/// let reactor = Reactor::new()?;
/// let r = reactor.clone();
/// let done = reactor.spawn(async move {
///     let (ws, mut messages) = connect_websocket(&r, "ws://127.0.0.1:8080/echo").await?;
///     ws.send_text("hello")?;
///     println!("{:?}", messages.next().await);
///     r.stop()?;
///     Ok::<(), Failure>(())
/// });
/// reactor.run()?;
/// # drop(done);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn connect_websocket(reactor: &Reactor, url: &str) -> Deferred<(WebSocket, Messages)> {
    match WebSocketClient::new(url) {
        Ok(client) => client.connect(reactor),
        Err(error) => Deferred::fail(error),
    }
}

/// A WebSocket client for one URL, connecting any number of times.
///
/// `ws://host:port/path` connects over TCP; `wss://` over TLS, verifying the
/// server against the roots given with [`ca_certs`](Self::ca_certs). Any
/// other torsion client endpoint (a UNIX socket, TLS set up by hand) can
/// be given with [`endpoint`](Self::endpoint); the URL then only names the
/// host and path asked for.
#[derive(Clone)]
pub struct WebSocketClient {
    url: http::Uri,
    ca_certs: Option<PathBuf>,
    endpoint: Option<ClientEndpoint>,
    subprotocols: Vec<String>,
    headers: HeaderMap,
    options: WebSocketOptions,
}

impl WebSocketClient {
    /// A client for `url` (`ws://` or `wss://`).
    pub fn new(url: &str) -> Result<WebSocketClient, WebSocketError> {
        let invalid = |problem: &str| WebSocketError::InvalidUrl {
            url: url.to_owned(),
            problem: problem.to_owned(),
        };
        let uri: http::Uri = url.parse().map_err(|error| invalid(&format!("{error}")))?;
        match uri.scheme_str() {
            Some("ws" | "wss") => {}
            _ => return Err(invalid("the scheme must be ws or wss")),
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(invalid("it has no host"));
        }
        Ok(WebSocketClient {
            url: uri,
            ca_certs: None,
            endpoint: None,
            subprotocols: Vec::new(),
            headers: HeaderMap::new(),
            options: WebSocketOptions::default(),
        })
    }

    /// The PEM file of the certificates that a `wss://` server's must chain
    /// to.
    pub fn ca_certs(mut self, path: impl Into<PathBuf>) -> WebSocketClient {
        self.ca_certs = Some(path.into());
        self
    }

    /// Connects through `endpoint` instead of the URL's host and port.
    pub fn endpoint(mut self, endpoint: ClientEndpoint) -> WebSocketClient {
        self.endpoint = Some(endpoint);
        self
    }

    /// The subprotocols to offer, most preferred first.
    pub fn subprotocols<I, S>(mut self, subprotocols: I) -> WebSocketClient
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.subprotocols = subprotocols.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a header to the upgrade request (an `Origin`, a cookie, a
    /// token).
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> WebSocketClient {
        self.headers.append(name, value);
        self
    }

    /// Sets the connection's limits and timeouts.
    pub fn options(mut self, options: WebSocketOptions) -> WebSocketClient {
        self.options = options;
        self
    }

    /// Connects; fires with the handle and the stream of messages once the
    /// handshake is done. Fails with a [`WebSocketError`] (such as
    /// [`Rejected`](WebSocketError::Rejected) when the server answers with
    /// another status than 101) or the connection's error.
    pub fn connect(&self, reactor: &Reactor) -> Deferred<(WebSocket, Messages)> {
        let (protocol, messages) = QueueProtocol::new(self.options.max_queued_messages);
        self.connect_protocol(reactor, protocol)
            .map(move |ws| (ws, messages))
    }

    /// Connects and serves the connection with `protocol`; fires with the
    /// handle once the handshake is done (`opened` has been called by
    /// then).
    pub fn connect_protocol(
        &self,
        reactor: &Reactor,
        protocol: impl WebSocketProtocol,
    ) -> Deferred<WebSocket> {
        let endpoint = match self.endpoint.clone() {
            Some(endpoint) => endpoint,
            None => match self.default_endpoint(reactor) {
                Ok(endpoint) => endpoint,
                Err(failure) => return Deferred::fail(failure),
            },
        };
        let client = self.clone();
        let r = reactor.clone();
        let protocol: Box<dyn WebSocketProtocol> = Box::new(protocol);
        reactor.spawn(async move {
            let stream = endpoint.connect_stream().await?;
            client.handshake(&r, stream, protocol).await
        })
    }

    /// The endpoint the URL names.
    fn default_endpoint(&self, reactor: &Reactor) -> Result<ClientEndpoint, Failure> {
        let secure = self.url.scheme_str() == Some("wss");
        let host = self.url.host().unwrap_or_default();
        let host = quote_string_argument(host.trim_start_matches('[').trim_end_matches(']'));
        let port = self.url.port_u16().unwrap_or(if secure { 443 } else { 80 });
        let description = if secure {
            let roots = self.ca_certs.as_ref().ok_or_else(|| {
                Failure::msg("a wss:// URL needs trust roots: give them with ca_certs")
            })?;
            let roots = quote_string_argument(&roots.to_string_lossy());
            format!("tls:host={host}:port={port}:caCerts={roots}")
        } else {
            format!("tcp:host={host}:port={port}")
        };
        Ok(client_from_string(reactor, &description)?)
    }

    /// Sends the upgrade request over `stream` and, once the server
    /// switched, starts the WebSocket on the same stream.
    async fn handshake(
        &self,
        reactor: &Reactor,
        stream: torsion::net::AsyncStream,
        protocol: Box<dyn WebSocketProtocol>,
    ) -> Result<WebSocket, Failure> {
        let (request, key) = client_request(&self.url, &self.subprotocols, &self.headers)?;
        let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
            .handshake(UpgradableStream::new(stream))
            .await
            .map_err(WebSocketError::Http)?;
        drop(reactor.spawn(async move {
            if let Err(error) = connection.with_upgrades().await {
                tracing::debug!(%error, "WebSocket handshake connection failed");
            }
            Ok::<(), Failure>(())
        }));
        let response = sender
            .send_request(request)
            .await
            .map_err(WebSocketError::Http)?;
        if response.status() != http::StatusCode::SWITCHING_PROTOCOLS {
            let status = response.status();
            let body = Body::incoming(response.into_body(), None);
            let body = read_start(body).await;
            return Err(WebSocketError::Rejected { status, body }.into());
        }
        let subprotocol = verify_answer(response.headers(), &key, &self.subprotocols)?;
        let headers = response.headers().clone();
        let upgraded = hyper::upgrade::on(response)
            .await
            .map_err(WebSocketError::Http)?;
        let stream = upgrade::hand_over(upgraded)
            .ok_or_else(|| Failure::msg("the upgraded connection lost its stream"))?;
        let details = Details {
            uri: self.url.clone(),
            headers,
            subprotocol,
        };
        Ok(WebSocket::start(
            reactor,
            stream,
            Role::Client,
            self.options.clone(),
            details,
            protocol,
        ))
    }
}

/// The start of a refusal's body, as text.
async fn read_start(mut body: Body) -> String {
    let mut start = Vec::new();
    while start.len() < REFUSAL_BODY_LIMIT {
        match body.chunk().await {
            Some(Ok(chunk)) => start.extend_from_slice(&chunk),
            _ => break,
        }
    }
    start.truncate(REFUSAL_BODY_LIMIT);
    String::from_utf8_lossy(&start).trim_end().to_owned()
}

impl fmt::Debug for WebSocketClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketClient")
            .field("url", &self.url)
            .field("subprotocols", &self.subprotocols)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}
