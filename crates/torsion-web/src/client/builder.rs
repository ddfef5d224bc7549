//! [`ClientBuilder`]: a client's settings.

use std::fmt;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};
use torsion::Reactor;
use torsion::net::tls::client_config;

use crate::client::pool::{ConnectSettings, Pool};
use crate::client::{
    Client, ClientError, CookieJar, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_IDLE_PER_HOST, DEFAULT_MAX_REDIRECTS, Inner, Settings,
};
use crate::{Resource, Server};

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
    cookies: Option<CookieJar>,
    decode: bool,
    max_body_size: Option<u64>,
    in_memory: Option<Server>,
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
            cookies: Some(CookieJar::new()),
            decode: true,
            max_body_size: None,
            in_memory: None,
        }
    }
}

impl ClientBuilder {
    /// A timeout for each request as a whole (see
    /// [`RequestBuilder::timeout`](crate::client::RequestBuilder::timeout));
    /// none by default.
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

    /// Keeps cookies in `jar` (treq's `HTTPClient(agent, cookiejar=...)`),
    /// which other clients may share. Each client has a jar of its own by
    /// default.
    pub fn cookie_jar(mut self, jar: CookieJar) -> ClientBuilder {
        self.cookies = Some(jar);
        self
    }

    /// Whether to keep cookies at all (yes by default). Without a jar, a
    /// `Set-Cookie` is ignored and only a `Cookie` header set on the
    /// request is sent.
    pub fn cookies(mut self, enabled: bool) -> ClientBuilder {
        self.cookies = match (enabled, self.cookies) {
            (true, Some(jar)) => Some(jar),
            (true, None) => Some(CookieJar::new()),
            (false, _) => None,
        };
        self
    }

    /// Whether to decode gzip and deflate bodies (yes by default, as
    /// Twisted's `ContentDecoderAgent`): requests then say
    /// `Accept-Encoding: gzip, deflate`, and a response sent with one of
    /// these codings reads as what it decodes to. Per request:
    /// [`RequestBuilder::decode`](crate::client::RequestBuilder::decode).
    pub fn decode(mut self, enabled: bool) -> ClientBuilder {
        self.decode = enabled;
        self
    }

    /// The most body bytes a response may give its reader (counted after
    /// decoding, so a small gzip body that inflates past it fails too);
    /// reading more fails with [`BodyError::TooLarge`](crate::BodyError).
    /// No limit by default.
    pub fn max_body_size(mut self, limit: u64) -> ClientBuilder {
        self.max_body_size = Some(limit);
        self
    }

    /// Sends every request to `resource` in memory instead of over the
    /// network, whatever the URL's host (treq's `StubTreq`): see
    /// [`Client::in_memory`].
    pub fn in_memory(mut self, resource: impl Resource) -> ClientBuilder {
        self.in_memory = Some(Server::new(resource));
        self
    }

    /// Like [`in_memory`](Self::in_memory), to a [`Server`] with its
    /// options (body limits, timeouts) as set.
    pub fn in_memory_server(mut self, server: Server) -> ClientBuilder {
        self.in_memory = Some(server);
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
                    decode: self.decode,
                    max_body_size: self.max_body_size,
                },
                cookies: self.cookies,
                connect: ConnectSettings {
                    connect_timeout: self.connect_timeout,
                    tls: Arc::new(tls),
                    in_memory: self.in_memory,
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
            .field("cookies", &self.cookies.is_some())
            .field("decode", &self.decode)
            .field("max_body_size", &self.max_body_size)
            .field("in_memory", &self.in_memory.is_some())
            .finish()
    }
}
