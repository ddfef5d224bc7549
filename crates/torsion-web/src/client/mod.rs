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
//! Like a treq `HTTPClient`, a client keeps cookies ([`CookieJar`]),
//! decodes gzip and deflate bodies as they arrive (with an optional limit
//! on the decoded size), reads [`text`](ClientResponse::text) in the
//! charset the `Content-Type` names, uploads [`Multipart`] forms and
//! lists the redirects it followed ([`ClientResponse::history`]).
//! [`Client::in_memory`] is treq's `StubTreq`: an application tested
//! through the client without sockets.
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

mod builder;
mod cookies;
mod decode;
mod error;
mod exchange;
mod multipart;
mod pool;
mod request;
mod response;

use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use http::Method;
use torsion::Reactor;

pub use builder::ClientBuilder;
pub use cookies::CookieJar;
pub use error::ClientError;
pub use multipart::Multipart;
pub use request::RequestBuilder;
pub use response::{ClientResponse, FullResponse, Redirected};

use crate::Resource;
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
    cookies: Option<CookieJar>,
    connect: ConnectSettings,
    pool: Rc<Pool>,
}

#[derive(Clone, Debug)]
struct Settings {
    timeout: Option<Duration>,
    max_redirects: usize,
    decode: bool,
    max_body_size: Option<u64>,
}

impl Client {
    /// A client with the default settings.
    pub fn new(reactor: &Reactor) -> Client {
        Client::builder().build(reactor)
    }

    /// A client whose requests all go to `resource`, in memory, whatever
    /// the URL's host: treq's `StubTreq`, to test an application (a
    /// [`Router`](crate::Router), say) without sockets. The requests go
    /// through the same client and server code as over TCP (HTTP/1.1 over
    /// [`torsion::testing::stream_pair`]), so cookies, redirects, decoding
    /// and body limits behave as they would on the network.
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    /// use torsion::Reactor;
    /// use torsion_web::client::Client;
    /// use torsion_web::respond::text;
    /// use torsion_web::{HttpError, Request, RequestExt, Response, Router};
    ///
    /// let app = Router::new().get(
    ///     "/hello/{name}",
    ///     |request: Request| -> Result<Response, HttpError> {
    ///         let name: String = request.param("name")?;
    ///         Ok(text(format!("hello, {name}")))
    ///     },
    /// );
    /// let reactor = Reactor::new()?;
    /// let client = Client::in_memory(&reactor, app);
    /// let page = Rc::new(RefCell::new(None));
    /// let (p, r) = (page.clone(), reactor.clone());
    /// drop(reactor.spawn(async move {
    ///     let fetched = client.get("http://app.invalid/hello/ada").fetch().await;
    ///     *p.borrow_mut() = Some(fetched);
    ///     r.stop()
    /// }));
    /// reactor.run()?;
    /// let page = page.take().expect("the request finished").expect("the app answered");
    /// assert_eq!(page.text(), "hello, ada");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn in_memory(reactor: &Reactor, resource: impl Resource) -> Client {
        Client::builder().in_memory(resource).build(reactor)
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

    /// The client's cookie jar (none if built with `cookies(false)`).
    pub fn cookies(&self) -> Option<&CookieJar> {
        self.inner.cookies.as_ref()
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
            .field("cookies", &self.inner.cookies)
            .field("decode", &self.inner.settings.decode)
            .field("max_body_size", &self.inner.settings.max_body_size)
            .field("idle_connections", &self.idle_connections())
            .finish()
    }
}
