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
use torsion::testing::stream_pair;
use torsion::time::DelayedCall;
use torsion::{Failure, Reactor};

use crate::client::ClientError;
use crate::rt::{ReactorExecutor, ReactorTimer};
use crate::{Body, Server};

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
    /// Every connection goes to this server, in memory.
    pub(crate) in_memory: Option<Server>,
}

/// A connection's request half.
pub(crate) enum Sender {
    Http1(http1::SendRequest<Body>),
    Http2(http2::SendRequest<Body>),
}

/// The open connections of one client.
pub(crate) struct Pool {
    id: u64,
    reactor: Reactor,
    max_idle_per_host: usize,
    idle_timeout: Duration,
    state: RefCell<PoolState>,
}

#[derive(Default)]
struct PoolState {
    http1: HashMap<Origin, Vec<Kept>>,
    http2: HashMap<Origin, http2::SendRequest<Body>>,
    next_id: u64,
}

/// An HTTP/1.1 connection between exchanges, or carrying a response body
/// that is still being read.
struct Kept {
    id: u64,
    sender: http1::SendRequest<Body>,
    /// Set while idle: closes the connection when its time is up.
    expiry: Option<DelayedCall>,
}

/// Names a connection whose response body is being read, so that reading
/// it to the end gives the connection back at once. Holds no reference
/// (a response may travel to another thread): the pool is found through
/// a table of this thread's pools.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ticket {
    pool: u64,
    connection: u64,
}

thread_local! {
    static POOLS: RefCell<HashMap<u64, Weak<Pool>>> = RefCell::new(HashMap::new());
}

static NEXT_POOL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Ticket {
    /// The response body was read to its end: the connection is free.
    pub(crate) fn finished(self) {
        let pool = POOLS.with(|pools| pools.borrow().get(&self.pool).and_then(Weak::upgrade));
        if let Some(pool) = pool {
            pool.finished(self.connection);
        }
    }
}

impl Pool {
    pub(crate) fn new(
        reactor: &Reactor,
        max_idle_per_host: usize,
        idle_timeout: Duration,
    ) -> Rc<Pool> {
        let pool = Rc::new(Pool {
            id: NEXT_POOL.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            reactor: reactor.clone(),
            max_idle_per_host,
            idle_timeout,
            state: RefCell::default(),
        });
        POOLS.with(|pools| pools.borrow_mut().insert(pool.id, Rc::downgrade(&pool)));
        pool
    }

    /// A connection to `origin`: the shared HTTP/2 one, a free HTTP/1.1
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
        let kept = state.http1.get_mut(origin)?;
        kept.retain(|connection| !connection.sender.is_closed());
        // An idle one, the most recently used first (the least likely to
        // have been closed by the server's own idle timeout); else one
        // whose body a reader finished elsewhere.
        let position = kept
            .iter()
            .rposition(|connection| connection.expiry.is_some())
            .or_else(|| {
                kept.iter()
                    .position(|connection| connection.sender.is_ready())
            })?;
        let connection = kept.remove(position);
        if let Some(expiry) = connection.expiry {
            let _ = expiry.cancel();
        }
        Some(Sender::Http1(connection.sender))
    }

    /// Keeps an HTTP/1.1 connection whose response body is being read; the
    /// ticket frees it when the body has been read to the end. If the body
    /// is dropped half read, hyper closes the connection, and it is
    /// forgotten at the next checkout.
    pub(crate) fn lend(&self, origin: Origin, sender: http1::SendRequest<Body>) -> Ticket {
        let mut state = self.state.borrow_mut();
        state.next_id += 1;
        let id = state.next_id;
        state.http1.entry(origin).or_default().push(Kept {
            id,
            sender,
            expiry: None,
        });
        Ticket {
            pool: self.id,
            connection: id,
        }
    }

    /// Makes a lent connection idle (or closes it if enough are idle).
    fn finished(self: &Rc<Self>, id: u64) {
        let mut state = self.state.borrow_mut();
        let Some((origin, kept)) = state
            .http1
            .iter_mut()
            .find(|(_, kept)| kept.iter().any(|connection| connection.id == id))
        else {
            return;
        };
        let origin = origin.clone();
        let idle = kept
            .iter()
            .filter(|connection| connection.expiry.is_some())
            .count();
        if idle >= self.max_idle_per_host {
            kept.retain(|connection| connection.id != id);
            return;
        }
        let pool: Weak<Pool> = Rc::downgrade(self);
        let expired = origin.clone();
        let expiry = self.reactor.call_later(self.idle_timeout, move || {
            if let Some(pool) = pool.upgrade() {
                pool.forget(&expired, id);
            }
        });
        if let Some(connection) = kept.iter_mut().find(|connection| connection.id == id) {
            connection.expiry = Some(expiry);
        }
    }

    /// Closes an idle connection whose time is up (dropping the sender ends
    /// hyper's connection task, which closes the socket).
    fn forget(&self, origin: &Origin, id: u64) {
        let mut state = self.state.borrow_mut();
        if let Some(kept) = state.http1.get_mut(origin) {
            kept.retain(|connection| connection.id != id);
            if kept.is_empty() {
                state.http1.remove(origin);
            }
        }
    }

    /// Idle HTTP/1.1 connections kept, over all origins.
    pub(crate) fn idle_count(&self) -> usize {
        self.state
            .borrow()
            .http1
            .values()
            .flatten()
            .filter(|connection| connection.expiry.is_some() && !connection.sender.is_closed())
            .count()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let _ = POOLS.try_with(|pools| pools.borrow_mut().remove(&self.id));
        for connection in self.state.get_mut().http1.values().flatten() {
            if let Some(expiry) = &connection.expiry {
                let _ = expiry.cancel();
            }
        }
    }
}

/// Opens a connection: TCP as a torsion client endpoint does it (names
/// resolved off the reactor thread, each address tried in turn), then TLS
/// for https, then the HTTP handshake ALPN chose. An in-memory client's
/// connection is a stream pair whose other end its server serves.
async fn connect(
    reactor: &Reactor,
    origin: &Origin,
    settings: &ConnectSettings,
) -> Result<Sender, Failure> {
    if let Some(server) = &settings.in_memory {
        let (client_end, server_end) = stream_pair(reactor);
        server.serve_connection(reactor, server_end);
        return handshake_http1(reactor, client_end, origin).await;
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(url: &str) -> Result<Origin, ClientError> {
        Origin::of(&url::Url::parse(url).unwrap())
    }

    #[test]
    fn an_origin_is_scheme_host_and_port_with_the_default_ports_filled_in() {
        let plain = origin("http://Example.test/a").unwrap();
        assert_eq!(plain, origin("http://example.test:80/b?c").unwrap());
        assert_eq!(plain.to_string(), "http://example.test:80");
        let secure = origin("https://example.test/").unwrap();
        assert_eq!(secure.port, 443);
        assert_ne!(secure, plain);
        let v6 = origin("http://[::1]:8080/").unwrap();
        assert_eq!(v6.host, "::1");
        assert_eq!(v6.to_string(), "http://[::1]:8080");
        assert!(matches!(
            origin("ftp://example.test/"),
            Err(ClientError::UnsupportedScheme(scheme)) if scheme == "ftp"
        ));
    }
}
