//! Connections to origins: opening them (TCP through a torsion client
//! endpoint, TLS with ALPN, then hyper's HTTP/1.1 or HTTP/2 handshake), and
//! keeping the idle HTTP/1.1 ones for the next request to the same origin.
//!
//! An HTTP/1.1 connection carries one exchange at a time: after a response
//! it goes back to the pool once hyper says it is ready again (its body was
//! read to the end), and waits there at most the idle timeout. An HTTP/2
//! connection carries any number at once, so each origin has one, shared
//! by every request until it closes.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::Duration;

use hyper::client::conn::{http1, http2};
use rustls::ClientConfig;
use torsion::endpoints::{client_from_string, quote_string_argument};
use torsion::net::AsyncStream;
use torsion::net::tls::TlsSetup;
use torsion::time::{DelayedCall, Scheduler};
use torsion::{Failure, Reactor};

use crate::Body;
use crate::client::ClientError;
use crate::rt::{ReactorExecutor, ReactorTimer};

/// Where connections go: requests to the same origin share connections.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Origin {
    pub(crate) https: bool,
    /// The host as in the URL, IPv6 brackets taken off.
    pub(crate) host: String,
    pub(crate) port: u16,
}

impl Origin {
    pub(crate) fn of(url: &url::Url) -> Result<Origin, ClientError> {
        let https = match url.scheme() {
            "http" => false,
            "https" => true,
            other => return Err(ClientError::UnsupportedScheme(other.to_owned())),
        };
        let host = match url.host() {
            Some(url::Host::Domain(name)) => name.to_owned(),
            Some(url::Host::Ipv4(address)) => address.to_string(),
            Some(url::Host::Ipv6(address)) => address.to_string(),
            None => {
                return Err(ClientError::InvalidUrl {
                    url: url.to_string(),
                    reason: "no host".into(),
                });
            }
        };
        let port = url
            .port_or_known_default()
            .unwrap_or(if https { 443 } else { 80 });
        Ok(Origin { https, host, port })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// What opening a connection needs.
#[derive(Clone, Debug)]
pub(crate) struct ConnectSettings {
    pub(crate) connect_timeout: Duration,
    /// ALPN already set: `h2` offered only when HTTP/2 is enabled.
    pub(crate) tls: Arc<ClientConfig>,
}

/// A connection's request half.
pub(crate) enum Sender {
    Http1(http1::SendRequest<Body>),
    Http2(http2::SendRequest<Body>),
}

/// The open connections of one client.
pub(crate) struct Pool {
    reactor: Reactor,
    max_idle_per_host: usize,
    idle_timeout: Duration,
    state: RefCell<PoolState>,
}

#[derive(Default)]
struct PoolState {
    idle: HashMap<Origin, Vec<Idle>>,
    http2: HashMap<Origin, http2::SendRequest<Body>>,
    next_id: u64,
}

struct Idle {
    id: u64,
    sender: http1::SendRequest<Body>,
    expiry: DelayedCall,
}

impl Pool {
    pub(crate) fn new(reactor: &Reactor, max_idle_per_host: usize, idle_timeout: Duration) -> Pool {
        Pool {
            reactor: reactor.clone(),
            max_idle_per_host,
            idle_timeout,
            state: RefCell::default(),
        }
    }

    /// A connection to `origin`: the shared HTTP/2 one, an idle HTTP/1.1
    /// one, or a new one. True when it was open before (a request that
    /// fails on it before being sent may be retried on a new one).
    pub(crate) async fn checkout(
        self: &Rc<Self>,
        origin: &Origin,
        settings: &ConnectSettings,
    ) -> Result<(Sender, bool), Failure> {
        if let Some(sender) = self.take_open(origin) {
            return Ok((sender, true));
        }
        let sender = connect(&self.reactor, origin, settings).await?;
        if let Sender::Http2(shared) = &sender {
            self.state
                .borrow_mut()
                .http2
                .insert(origin.clone(), shared.clone());
        }
        Ok((sender, false))
    }

    fn take_open(&self, origin: &Origin) -> Option<Sender> {
        let mut state = self.state.borrow_mut();
        if let Some(shared) = state.http2.get(origin) {
            if !shared.is_closed() {
                return Some(Sender::Http2(shared.clone()));
            }
            state.http2.remove(origin);
        }
        let idle = state.idle.get_mut(origin)?;
        // The most recently used first: the least likely to have been
        // closed by the server's own idle timeout.
        while let Some(connection) = idle.pop() {
            let _ = connection.expiry.cancel();
            if connection.sender.is_ready() {
                return Some(Sender::Http1(connection.sender));
            }
        }
        None
    }

    /// Takes an HTTP/1.1 connection back once its exchange is over (the
    /// response body read to the end). A connection whose exchange ends
    /// otherwise (the body dropped half read, the server closing) is not
    /// kept.
    pub(crate) fn release(self: &Rc<Self>, origin: Origin, mut sender: http1::SendRequest<Body>) {
        if self.max_idle_per_host == 0 {
            return;
        }
        let pool = Rc::downgrade(self);
        drop(self.reactor.spawn(async move {
            if sender.ready().await.is_ok()
                && let Some(pool) = pool.upgrade()
            {
                pool.keep_idle(origin, sender);
            }
            Ok::<(), Failure>(())
        }));
    }

    fn keep_idle(self: &Rc<Self>, origin: Origin, sender: http1::SendRequest<Body>) {
        let mut state = self.state.borrow_mut();
        state.next_id += 1;
        let id = state.next_id;
        let pool: Weak<Pool> = Rc::downgrade(self);
        let expired_origin = origin.clone();
        let expiry = self.reactor.call_later(self.idle_timeout, move || {
            if let Some(pool) = pool.upgrade() {
                pool.forget(&expired_origin, id);
            }
        });
        let idle = state.idle.entry(origin).or_default();
        idle.push(Idle { id, sender, expiry });
        if idle.len() > self.max_idle_per_host {
            let oldest = idle.remove(0);
            let _ = oldest.expiry.cancel();
        }
    }

    /// Closes an idle connection whose time is up (dropping the sender ends
    /// hyper's connection task, which closes the socket).
    fn forget(&self, origin: &Origin, id: u64) {
        let mut state = self.state.borrow_mut();
        if let Some(idle) = state.idle.get_mut(origin) {
            idle.retain(|connection| connection.id != id);
            if idle.is_empty() {
                state.idle.remove(origin);
            }
        }
    }

    /// Idle HTTP/1.1 connections kept, over all origins.
    pub(crate) fn idle_count(&self) -> usize {
        self.state.borrow().idle.values().map(Vec::len).sum()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        for idle in self.state.get_mut().idle.values() {
            for connection in idle {
                let _ = connection.expiry.cancel();
            }
        }
    }
}

/// Opens a connection: TCP as a torsion client endpoint does it (names
/// resolved off the reactor thread, each address tried in turn), then TLS
/// for https, then the HTTP handshake ALPN chose.
async fn connect(
    reactor: &Reactor,
    origin: &Origin,
    settings: &ConnectSettings,
) -> Result<Sender, Failure> {
    let connect_error = |source: Box<dyn std::error::Error + Send + Sync>| ClientError::Connect {
        origin: origin.to_string(),
        source,
    };
    let description = format!(
        "tcp:host={}:port={}:timeout={}",
        quote_string_argument(&origin.host),
        origin.port,
        settings.connect_timeout.as_secs_f64()
    );
    let endpoint =
        client_from_string(reactor, &description).map_err(|error| connect_error(error.into()))?;
    let stream = endpoint.connect_stream().await.map_err(|failure| {
        if failure.is_timeout() {
            failure
        } else {
            connect_error(failure.into_error()).into()
        }
    })?;
    // Requests are small writes that should leave at once.
    let _ = stream.transport().set_nodelay(true);
    let mut http2 = false;
    if origin.https {
        let tls_error = |reason: String| ClientError::Tls {
            origin: origin.to_string(),
            reason,
        };
        let setup = TlsSetup::client(settings.tls.clone(), &origin.host)
            .map_err(|error| tls_error(error.to_string()))?;
        stream
            .transport()
            .start_tls(setup)
            .map_err(|error| tls_error(error.to_string()))?;
        let info = stream
            .tls_handshake()
            .await
            .map_err(|error| tls_error(error.to_string()))?;
        http2 = info.alpn_protocol.as_deref() == Some(b"h2");
    }
    if http2 {
        handshake_http2(reactor, stream, origin).await
    } else {
        handshake_http1(reactor, stream, origin).await
    }
}

async fn handshake_http1(
    reactor: &Reactor,
    stream: AsyncStream,
    origin: &Origin,
) -> Result<Sender, Failure> {
    let (sender, connection) = http1::Builder::new()
        .handshake::<_, Body>(stream)
        .await
        .map_err(|source| http_error(origin, source))?;
    drive(reactor, connection);
    Ok(Sender::Http1(sender))
}

async fn handshake_http2(
    reactor: &Reactor,
    stream: AsyncStream,
    origin: &Origin,
) -> Result<Sender, Failure> {
    let (sender, connection) = http2::Builder::new(ReactorExecutor::new(reactor))
        .timer(ReactorTimer)
        .handshake::<_, Body>(stream)
        .await
        .map_err(|source| http_error(origin, source))?;
    drive(reactor, connection);
    Ok(Sender::Http2(sender))
}

/// Runs hyper's side of a connection (reading responses, writing
/// requests) as a reactor task until the connection closes.
fn drive<F>(reactor: &Reactor, connection: F)
where
    F: std::future::Future<Output = hyper::Result<()>> + 'static,
{
    drop(reactor.spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "HTTP client connection ended with an error");
        }
        Ok::<(), Failure>(())
    }));
}

fn http_error(origin: &Origin, source: hyper::Error) -> ClientError {
    ClientError::Http {
        url: origin.to_string(),
        source,
    }
}
