//! The HTTP client (treq's analog): requests return a
//! [`Deferred`](torsion::Deferred) of the response, which async code
//! awaits, callbacks chain on, and blocking code gets through
//! [`torsion::blocking`].
//!
//! A [`Client`] keeps the connections it opened: HTTP/1.1 ones wait idle
//! for the next request to the same scheme, host and port; over TLS a
//! server that chooses HTTP/2 by ALPN gets one connection for all the
//! requests to it. Servers are verified against the Mozilla roots of
//! `webpki-roots` (plus any added with
//! [`ClientBuilder::add_root_certificate_pem`]); there is no way to turn
//! verification off.
//!
//! ```no_run
//! use torsion::{Failure, Reactor};
//! use torsion_web::client::Client;
//!
//! let reactor = Reactor::new()?;
//! let client = Client::new(&reactor);
//! let r = reactor.clone();
//! drop(reactor.spawn(async move {
//!     let response = client.get("http://127.0.0.1:8080/").send().await?;
//!     println!("{} from {}", response.status(), response.url());
//!     let mut total = 0;
//!     let mut response = response;
//!     while let Some(chunk) = response.chunk().await {
//!         total += chunk?.len();
//!     }
//!     println!("{total} bytes");
//!     r.stop()?;
//!     Ok::<(), Failure>(())
//! }));
//! reactor.run()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! From blocking code, in one line (the reactor runs on a background
//! thread started by [`torsion::blocking::setup`]):
//!
//! ```no_run
//! use std::time::Duration;
//! use torsion_web::client::Client;
//!
//! torsion::blocking::setup()?;
//! let page = torsion::blocking::wait_for(Duration::from_secs(10), |reactor| {
//!     Client::new(&reactor).get("http://127.0.0.1:8080/").fetch()
//! })?;
//! println!("{}", page.text());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod exchange;
mod pool;
mod request;
mod response;

use std::fmt;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use http::Method;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};
use torsion::Reactor;
use torsion::net::tls::client_config;

pub use error::ClientError;
pub use request::RequestBuilder;
pub use response::{ClientResponse, FullResponse};

use pool::{ConnectSettings, Pool};

/// Idle connections kept per origin by default.
pub const DEFAULT_MAX_IDLE_PER_HOST: usize = 8;
/// How long an idle connection is kept by default.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long connecting may take by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Redirects followed by default before giving up.
pub const DEFAULT_MAX_REDIRECTS: usize = 10;

/// An HTTP client on one reactor, with its pool of connections. Cheap to
/// clone (clones share the pool); lives on the reactor's thread.
#[derive(Clone)]
pub struct Client {
    inner: Rc<Inner>,
}

struct Inner {
    reactor: Reactor,
    settings: Settings,
    connect: ConnectSettings,
    pool: Rc<Pool>,
}

#[derive(Clone, Debug)]
struct Settings {
    timeout: Option<Duration>,
    max_redirects: usize,
}

impl Client {
    /// A client with the default settings.
    pub fn new(reactor: &Reactor) -> Client {
        Client::builder().build(reactor)
    }

    /// Settings for a client: timeouts, redirects, pool, TLS roots.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A request with any method.
    pub fn request(&self, method: Method, url: &str) -> RequestBuilder {
        RequestBuilder::new(self.clone(), method, url)
    }

    /// A GET request.
    pub fn get(&self, url: &str) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    /// A POST request.
    pub fn post(&self, url: &str) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    /// A PUT request.
    pub fn put(&self, url: &str) -> RequestBuilder {
        self.request(Method::PUT, url)
    }

    /// A DELETE request.
    pub fn delete(&self, url: &str) -> RequestBuilder {
        self.request(Method::DELETE, url)
    }

    /// A HEAD request.
    pub fn head(&self, url: &str) -> RequestBuilder {
        self.request(Method::HEAD, url)
    }

    /// The HTTP/1.1 connections waiting idle in the pool, over all origins.
    pub fn idle_connections(&self) -> usize {
        self.inner.pool.idle_count()
    }

    pub(crate) fn reactor(&self) -> &Reactor {
        &self.inner.reactor
    }

    fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    fn connect_settings(&self) -> &ConnectSettings {
        &self.inner.connect
    }

    fn pool(&self) -> &Rc<Pool> {
        &self.inner.pool
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("timeout", &self.inner.settings.timeout)
            .field("max_redirects", &self.inner.settings.max_redirects)
            .field("connect_timeout", &self.inner.connect.connect_timeout)
            .field("idle_connections", &self.idle_connections())
            .finish()
    }
}

/// Builds a [`Client`].
///
/// ```
/// use std::time::Duration;
/// use torsion::Reactor;
/// use torsion_web::client::Client;
///
/// let reactor = Reactor::new()?;
/// let client = Client::builder()
///     .timeout(Duration::from_secs(10))
///     .connect_timeout(Duration::from_secs(2))
///     .max_redirects(3)
///     .max_idle_per_host(4)
///     .build(&reactor);
/// # drop(client);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ClientBuilder {
    timeout: Option<Duration>,
    connect_timeout: Duration,
    max_redirects: usize,
    max_idle_per_host: usize,
    idle_timeout: Duration,
    roots: RootCertStore,
    http2: bool,
}

impl Default for ClientBuilder {
    fn default() -> ClientBuilder {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        ClientBuilder {
            timeout: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_redirects: DEFAULT_MAX_REDIRECTS,
            max_idle_per_host: DEFAULT_MAX_IDLE_PER_HOST,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            roots,
            http2: true,
        }
    }
}

impl ClientBuilder {
    /// A timeout for each request as a whole (see
    /// [`RequestBuilder::timeout`]); none by default.
    pub fn timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.timeout = Some(timeout);
        self
    }

    /// How long connecting (TCP, to each address of a name) may take.
    pub fn connect_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.connect_timeout = timeout;
        self
    }

    /// How many redirects a request follows before failing with
    /// [`ClientError::TooManyRedirects`]; 0 fails at the first.
    pub fn max_redirects(mut self, limit: usize) -> ClientBuilder {
        self.max_redirects = limit;
        self
    }

    /// How many idle HTTP/1.1 connections to keep per origin; 0 keeps none
    /// (each request opens its own connection).
    pub fn max_idle_per_host(mut self, count: usize) -> ClientBuilder {
        self.max_idle_per_host = count;
        self
    }

    /// How long an idle connection is kept before it is closed.
    pub fn idle_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.idle_timeout = timeout;
        self
    }

    /// Trusts the CA certificates of a PEM text (a private CA, a test
    /// server's self-signed certificate) besides the built-in roots.
    pub fn add_root_certificate_pem(
        mut self,
        pem: impl AsRef<[u8]>,
    ) -> Result<ClientBuilder, ClientError> {
        let bad = |reason: String| ClientError::Tls {
            origin: "(trust roots)".into(),
            reason,
        };
        let mut added = 0;
        for certificate in CertificateDer::pem_slice_iter(pem.as_ref()) {
            let certificate = certificate.map_err(|error| bad(error.to_string()))?;
            self.roots
                .add(certificate)
                .map_err(|error| bad(error.to_string()))?;
            added += 1;
        }
        if added == 0 {
            return Err(bad("no certificate in the PEM text".into()));
        }
        Ok(self)
    }

    /// Trusts one CA certificate (DER) besides the built-in roots.
    pub fn add_root_certificate(
        mut self,
        certificate: CertificateDer<'static>,
    ) -> Result<ClientBuilder, ClientError> {
        self.roots
            .add(certificate)
            .map_err(|error| ClientError::Tls {
                origin: "(trust roots)".into(),
                reason: error.to_string(),
            })?;
        Ok(self)
    }

    /// Trusts only the certificates added with
    /// [`add_root_certificate_pem`](Self::add_root_certificate_pem) (call
    /// this first), not the built-in Mozilla roots.
    pub fn without_builtin_roots(mut self) -> ClientBuilder {
        self.roots = RootCertStore::empty();
        self
    }

    /// Whether to offer HTTP/2 in the TLS handshake (yes by default).
    /// Plain `http://` always speaks HTTP/1.1.
    pub fn http2(mut self, enabled: bool) -> ClientBuilder {
        self.http2 = enabled;
        self
    }

    /// The client.
    pub fn build(self, reactor: &Reactor) -> Client {
        let mut tls: ClientConfig = client_config(self.roots);
        tls.alpn_protocols = if self.http2 {
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
        Client {
            inner: Rc::new(Inner {
                reactor: reactor.clone(),
                settings: Settings {
                    timeout: self.timeout,
                    max_redirects: self.max_redirects,
                },
                connect: ConnectSettings {
                    connect_timeout: self.connect_timeout,
                    tls: Arc::new(tls),
                },
                pool: Pool::new(reactor, self.max_idle_per_host, self.idle_timeout),
            }),
        }
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_redirects", &self.max_redirects)
            .field("max_idle_per_host", &self.max_idle_per_host)
            .field("idle_timeout", &self.idle_timeout)
            .field("roots", &self.roots.len())
            .field("http2", &self.http2)
            .finish()
    }
}
