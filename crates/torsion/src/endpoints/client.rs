//! Client endpoints: [`client_from_string`] and [`ClientEndpoint`].

use std::cell::{Cell, RefCell};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::rc::{Rc, Weak};
use std::sync::Arc;

use crate::defer::Resolver;
use crate::endpoints::EndpointError;
use crate::endpoints::parse::{Arguments, parse};
use crate::net::tls::{TlsSetup, client_config, root_store};
use crate::net::{
    Address, AsyncStream, ConnectOptions, DEFAULT_CONNECT_TIMEOUT, HalfClose, Network, Protocol,
    Transport, stream_connection,
};
use crate::{Deferred, Failure, Reactor};

/// Where to connect, as parsed from a description.
#[derive(Clone)]
enum Target {
    Tcp { host: String, port: u16 },
    Unix(PathBuf),
}

/// A place to connect to, parsed from a string by [`client_from_string`]
/// (Twisted's `IStreamClientEndpoint`). Connect through it any number of
/// times.
#[derive(Clone)]
pub struct ClientEndpoint<N: Network = Reactor> {
    network: N,
    target: Target,
    options: ConnectOptions,
}

/// Parses a client description (see [the module](crate::endpoints) for
/// the grammar) into an endpoint of `network`. The trust roots of a `tls:`
/// endpoint are loaded now, so a bad file is an error here.
///
/// ```
/// use torsion::endpoints::{EndpointError, client_from_string};
/// use torsion::Reactor;
///
/// let reactor = Reactor::new()?;
/// assert!(client_from_string(&reactor, "tcp:host=example.com:port=80:timeout=5").is_ok());
/// assert!(client_from_string(&reactor, "unix:/run/app.sock").is_ok());
/// assert!(matches!(
///     client_from_string(&reactor, "tcp:example.com"),
///     Err(EndpointError::Missing { argument: "port", .. })
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn client_from_string<N: Network + Clone>(
    network: &N,
    description: &str,
) -> Result<ClientEndpoint<N>, EndpointError> {
    let parsed = parse(description)?;
    let mut options = ConnectOptions {
        timeout: Some(DEFAULT_CONNECT_TIMEOUT),
        ..ConnectOptions::default()
    };
    let target = match parsed.kind.as_str() {
        "tcp" => {
            let args = Arguments::new(
                "tcp",
                parsed.fields,
                &["host", "port"],
                &["timeout", "bindAddress"],
            )?;
            tcp_options(&args, &mut options)?;
            Target::Tcp {
                host: host(&args)?,
                port: args.port("port")?,
            }
        }
        "unix" => {
            let args = Arguments::new("unix", parsed.fields, &["path"], &["timeout"])?;
            if let Some(timeout) = args.seconds("timeout")? {
                options.timeout = Some(timeout);
            }
            Target::Unix(PathBuf::from(args.required("path")?))
        }
        kind @ ("tls" | "ssl") => {
            let name = if kind == "tls" { "tls" } else { "ssl" };
            let args = Arguments::new(
                name,
                parsed.fields,
                &["host", "port"],
                &[
                    "timeout",
                    "bindAddress",
                    "caCerts",
                    "alpn",
                    "handshakeTimeout",
                ],
            )?;
            tcp_options(&args, &mut options)?;
            if let Some(bound) = args.handshake_timeout()? {
                options.tls_handshake_timeout = bound;
            }
            let host = host(&args)?;
            let port = args.port("port")?;
            let roots = args
                .get("caCerts")
                .ok_or(EndpointError::NoTrustRoots { endpoint: name })?;
            let tls_error = |source| EndpointError::Tls {
                endpoint: name,
                source,
            };
            let mut config = client_config(root_store(Path::new(roots)).map_err(tls_error)?);
            if let Some(alpn) = args.get("alpn") {
                config.alpn_protocols = alpn
                    .split(',')
                    .filter(|protocol| !protocol.is_empty())
                    .map(|protocol| protocol.as_bytes().to_vec())
                    .collect();
            }
            options.tls = Some(TlsSetup::client(Arc::new(config), &host).map_err(tls_error)?);
            Target::Tcp { host, port }
        }
        other => return Err(EndpointError::UnknownType(other.to_owned())),
    };
    Ok(ClientEndpoint {
        network: network.clone(),
        target,
        options,
    })
}

/// The host, with IPv6 brackets (`[::1]`) taken off.
fn host(args: &Arguments) -> Result<String, EndpointError> {
    let host = args.required("host")?;
    let host = host
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(host);
    Ok(host.to_owned())
}

fn tcp_options(args: &Arguments, options: &mut ConnectOptions) -> Result<(), EndpointError> {
    if let Some(timeout) = args.seconds("timeout")? {
        options.timeout = Some(timeout);
    }
    options.bind = args
        .ip("bindAddress")?
        .map(|address| SocketAddr::new(address, 0));
    Ok(())
}

impl<N: Network + Clone + 'static> ClientEndpoint<N> {
    /// Connects `protocol` (Twisted's `connectProtocol(endpoint, protocol)`).
    /// Fires with its transport once connected, or fails with why not: a
    /// [`ConnectionRefused`](crate::error::ConnectionRefused), a
    /// [`TimedOut`](crate::error::TimedOut) (each address gets the whole
    /// timeout), a [`DnsLookupError`](crate::error::DnsLookupError), a
    /// TLS error. When a name has several addresses they are tried in turn
    /// and the last failure is reported. Cancelling the Deferred abandons
    /// the attempt, and it fails with [`Cancelled`](crate::error::Cancelled).
    ///
    /// For `tls:` the Deferred fires once the TCP connection is up, before
    /// the handshake; a server whose certificate does not verify (not
    /// signed by `caCerts`, or not for the host's name) is dropped during
    /// the handshake, and the protocol's `connection_lost` gets the TLS
    /// error (such as "invalid peer certificate") without having seen any
    /// data.
    pub fn connect(&self, protocol: impl Protocol) -> Deferred<Transport> {
        let attempt = Rc::new(Attempt {
            network: self.network.clone(),
            options: self.options.clone(),
            protocol: Rc::new(RefCell::new(Some(Box::new(protocol)))),
            resolver: RefCell::new(None),
            cancelled: Cell::new(false),
            current: RefCell::new(None),
        });
        let weak: Weak<Attempt<N>> = Rc::downgrade(&attempt);
        let (deferred, resolver) = Deferred::with_canceller(move || {
            if let Some(attempt) = weak.upgrade() {
                attempt.cancel();
            }
        });
        *attempt.resolver.borrow_mut() = Some(resolver);
        match &self.target {
            Target::Unix(path) => {
                attempt.try_addresses(vec![Address::Unix(Some(path.clone()))]);
            }
            Target::Tcp { host, port } => match host.parse::<IpAddr>() {
                Ok(ip) => attempt.try_addresses(vec![Address::Tcp(SocketAddr::new(ip, *port))]),
                Err(_) => {
                    let lookup = self.network.resolve_host(host, *port);
                    let a = attempt.clone();
                    let b = attempt.clone();
                    let chain = lookup
                        .map(move |addresses| {
                            a.try_addresses(addresses.into_iter().map(Address::Tcp).collect());
                        })
                        .or_else(move |failure| {
                            b.finish(Err(failure));
                            Ok::<_, Failure>(())
                        });
                    attempt.keep(chain);
                }
            },
        }
        deferred
    }

    /// Where this endpoint connects: the host (or socket path) and port.
    pub fn destination(&self) -> (String, Option<u16>) {
        match &self.target {
            Target::Tcp { host, port } => (host.clone(), Some(*port)),
            Target::Unix(path) => (path.display().to_string(), None),
        }
    }

    /// The options each connection attempt gets (timeout, local address,
    /// TLS).
    pub fn options(&self) -> &ConnectOptions {
        &self.options
    }
}

impl ClientEndpoint<Reactor> {
    /// Connects and gives the connection as an [`AsyncStream`] (for TLS
    /// endpoints, once the handshake has been started; the ALPN protocol is
    /// in [`Transport::tls_info`] after the first read).
    pub fn connect_stream(&self) -> Deferred<AsyncStream> {
        let (protocol, into_stream) = stream_connection();
        self.connect(protocol).map(into_stream)
    }
}

/// One `connect` in progress: the addresses left to try, and the protocol
/// waiting for the one that connects.
struct Attempt<N> {
    network: N,
    options: ConnectOptions,
    /// Handed to the connection that succeeds.
    protocol: Rc<RefCell<Option<Box<dyn Protocol>>>>,
    resolver: RefCell<Option<Resolver<Transport>>>,
    cancelled: Cell<bool>,
    /// The end of the chain waiting on the current step, to cancel it.
    current: RefCell<Option<Deferred<()>>>,
}

impl<N: Network + Clone + 'static> Attempt<N> {
    /// Connects to the first address; on failure goes on to the next.
    fn try_addresses(self: &Rc<Self>, mut addresses: Vec<Address>) {
        if self.cancelled.get() {
            return;
        }
        if addresses.is_empty() {
            self.finish(Err(Failure::msg("no address to connect to")));
            return;
        }
        let address = addresses.remove(0);
        let protocol = Handoff {
            slot: self.protocol.clone(),
            inner: None,
        };
        let connecting =
            self.network
                .connect_protocol(address, Box::new(protocol), self.options.clone());
        let a = self.clone();
        let b = self.clone();
        let chain = connecting
            .map(move |transport| a.finish(Ok(transport)))
            .or_else(move |failure| {
                if addresses.is_empty() || b.cancelled.get() {
                    b.finish(Err(failure));
                } else {
                    tracing::debug!(%failure, "connect attempt failed; trying the next address");
                    b.try_addresses(addresses);
                }
                Ok::<_, Failure>(())
            });
        self.keep(chain);
    }

    /// Holds the chain of the current step unless it is already over (it
    /// may have finished, and started the next step, while being built).
    fn keep(&self, chain: Deferred<()>) {
        if !chain.is_fired() {
            *self.current.borrow_mut() = Some(chain);
        }
    }

    fn finish(&self, result: Result<Transport, Failure>) {
        drop(self.current.borrow_mut().take());
        let resolver = self.resolver.borrow_mut().take();
        if let Some(resolver) = resolver {
            resolver.complete(result);
        }
    }

    fn cancel(&self) {
        self.cancelled.set(true);
        let current = self.current.borrow_mut().take();
        if let Some(current) = current {
            current.cancel();
        }
    }
}

/// Stands in for the user's protocol in one connection attempt; takes it
/// only when that attempt connects, so a failed attempt leaves it for the
/// next.
struct Handoff {
    slot: Rc<RefCell<Option<Box<dyn Protocol>>>>,
    inner: Option<Box<dyn Protocol>>,
}

impl Protocol for Handoff {
    fn connection_made(&mut self, transport: &Transport) {
        if self.inner.is_none() {
            self.inner = self.slot.borrow_mut().take();
        }
        match &mut self.inner {
            Some(protocol) => protocol.connection_made(transport),
            None => transport.abort_connection(),
        }
    }
    fn data_received(&mut self, data: &[u8]) {
        if let Some(protocol) = &mut self.inner {
            protocol.data_received(data);
        }
    }
    fn connection_lost(&mut self, reason: Failure) {
        if let Some(protocol) = &mut self.inner {
            protocol.connection_lost(reason);
        }
    }
    fn read_connection_lost(&mut self) -> HalfClose {
        match &mut self.inner {
            Some(protocol) => protocol.read_connection_lost(),
            None => HalfClose::Close,
        }
    }
    fn write_connection_lost(&mut self) {
        if let Some(protocol) = &mut self.inner {
            protocol.write_connection_lost();
        }
    }
    fn handshake_completed(&mut self) {
        if let Some(protocol) = &mut self.inner {
            protocol.handshake_completed();
        }
    }
    fn reading_resumed(&mut self) {
        if let Some(protocol) = &mut self.inner {
            protocol.reading_resumed();
        }
    }
}

impl<N: Network> fmt::Debug for ClientEndpoint<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("ClientEndpoint");
        match &self.target {
            Target::Tcp { host, port } => debug.field("host", host).field("port", port),
            Target::Unix(path) => debug.field("path", path),
        };
        debug
            .field("timeout", &self.options.timeout)
            .field("bind", &self.options.bind)
            .field("tls", &self.options.tls.is_some())
            .finish()
    }
}
