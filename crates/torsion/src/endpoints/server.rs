//! Server endpoints: [`server_from_string`] and [`ServerEndpoint`].

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use crate::endpoints::EndpointError;
use crate::endpoints::parse::{Arguments, parse};
use crate::net::tls::{DEFAULT_HANDSHAKE_TIMEOUT, server_config};
use crate::net::{AcceptGroup, AsyncListener, Factory, ListenOptions, Network, UnixListenOptions};
use crate::{Deferred, Failure, Reactor};

/// Twisted's default listen backlog.
const DEFAULT_BACKLOG: i32 = 50;
/// The keywords of `tcp:` and `tcp6:`.
const TCP_KEYWORDS: &[&str] = &["interface", "backlog", "reusePort"];
/// Twisted's default mode for a UNIX socket file.
const DEFAULT_MODE: u32 = 0o666;

/// Where and how to listen, as parsed from a description.
#[derive(Clone)]
enum Kind {
    Tcp {
        address: SocketAddr,
        backlog: i32,
        tls: Option<Arc<rustls::ServerConfig>>,
        handshake_timeout: Option<Duration>,
        /// SO_REUSEPORT, so each reactor of a pool opens its own socket on
        /// the port.
        reuse_port: bool,
        /// Even out connections with the group's other ports.
        accept_group: Option<AcceptGroup>,
    },
    Unix {
        path: PathBuf,
        mode: u32,
        backlog: i32,
    },
}

/// A place to listen, parsed from a string by [`server_from_string`]
/// (Twisted's `IStreamServerEndpoint`). Listen on it any number of times.
#[derive(Clone)]
pub struct ServerEndpoint<N: Network = Reactor> {
    network: N,
    kind: Kind,
}

/// Parses a server description (see [the module](crate::endpoints) for
/// the grammar) into an endpoint of `network`. Certificates and keys of a
/// `tls:` endpoint are loaded now, so a bad file is an error here.
///
/// ```
/// use torsion::endpoints::{EndpointError, server_from_string};
/// use torsion::Reactor;
///
/// let reactor = Reactor::new()?;
/// assert!(server_from_string(&reactor, "tcp:8080:interface=127.0.0.1").is_ok());
/// assert!(matches!(
///     server_from_string(&reactor, "tcp:http"),
///     Err(EndpointError::BadPort { .. })
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn server_from_string<N: Network + Clone>(
    network: &N,
    description: &str,
) -> Result<ServerEndpoint<N>, EndpointError> {
    let parsed = parse(description)?;
    let kind = match parsed.kind.as_str() {
        "tcp" => {
            let args = Arguments::new("tcp", parsed.fields, &["port"], TCP_KEYWORDS)?;
            tcp(&args, IpAddr::V4(Ipv4Addr::UNSPECIFIED), None)?
        }
        "tcp6" => {
            let args = Arguments::new("tcp6", parsed.fields, &["port"], TCP_KEYWORDS)?;
            tcp(&args, IpAddr::V6(Ipv6Addr::UNSPECIFIED), None)?
        }
        "unix" => {
            let args = Arguments::new("unix", parsed.fields, &["address"], &["mode", "backlog"])?;
            let path = PathBuf::from(args.required("address")?);
            let mode = match args.get("mode") {
                None => DEFAULT_MODE,
                Some(value) => match u32::from_str_radix(value, 8) {
                    Ok(mode) if mode <= 0o7777 => mode,
                    _ => return Err(args.bad("mode", value, "octal permission bits such as 660")),
                },
            };
            Kind::Unix {
                path,
                mode,
                backlog: args.backlog(DEFAULT_BACKLOG)?,
            }
        }
        kind @ ("tls" | "ssl") => {
            let name = if kind == "tls" { "tls" } else { "ssl" };
            let args = Arguments::new(
                name,
                parsed.fields,
                &["port"],
                &[
                    "privateKey",
                    "certKey",
                    "interface",
                    "backlog",
                    "handshakeTimeout",
                    "reusePort",
                ],
            )?;
            let key = Path::new(args.required("privateKey")?);
            let certificates = args.get("certKey").map(Path::new).unwrap_or(key);
            let config = server_config(certificates, key).map_err(|source| EndpointError::Tls {
                endpoint: name,
                source,
            })?;
            let mut kind = tcp(
                &args,
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                Some(Arc::new(config)),
            )?;
            if let (
                Some(bound),
                Kind::Tcp {
                    handshake_timeout, ..
                },
            ) = (args.handshake_timeout()?, &mut kind)
            {
                *handshake_timeout = bound;
            }
            kind
        }
        other => return Err(EndpointError::UnknownType(other.to_owned())),
    };
    Ok(ServerEndpoint {
        network: network.clone(),
        kind,
    })
}

fn tcp(
    args: &Arguments,
    any: IpAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Result<Kind, EndpointError> {
    let port = args.port("port")?;
    let interface = args.ip("interface")?.unwrap_or(any);
    if args.kind() == "tcp6" && interface.is_ipv4() {
        let value = interface.to_string();
        return Err(args.bad("interface", &value, "an IPv6 address"));
    }
    Ok(Kind::Tcp {
        address: SocketAddr::new(interface, port),
        backlog: args.backlog(DEFAULT_BACKLOG)?,
        tls,
        handshake_timeout: Some(DEFAULT_HANDSHAKE_TIMEOUT),
        reuse_port: args.boolean("reusePort")?.unwrap_or(false),
        accept_group: None,
    })
}

impl<N: Network> ServerEndpoint<N> {
    /// Starts listening, building a protocol with `factory` for each
    /// connection. Fires with the port ([`ListeningPort`](crate::net::ListeningPort)
    /// on a reactor), or fails with why it could not listen (an
    /// [`io::Error`](std::io::Error) naming the address, such as one
    /// already in use).
    pub fn listen(&self, factory: impl Factory) -> Deferred<N::Port> {
        let factory: Rc<dyn Factory> = Rc::new(factory);
        let result = match &self.kind {
            Kind::Tcp {
                address,
                backlog,
                tls,
                handshake_timeout,
                reuse_port,
                accept_group,
            } => self.network.listen_tcp_port(
                *address,
                factory,
                ListenOptions {
                    backlog: *backlog,
                    tls: tls.clone(),
                    tls_handshake_timeout: *handshake_timeout,
                    reuse_port: *reuse_port,
                    accept_group: accept_group.clone(),
                },
            ),
            Kind::Unix {
                path,
                mode,
                backlog,
            } => self.network.listen_unix_port(
                path,
                factory,
                UnixListenOptions {
                    backlog: *backlog,
                    mode: Some(*mode),
                },
            ),
        };
        match result {
            Ok(port) => Deferred::succeed(port),
            Err(error) => Deferred::fail(Failure::new(error)),
        }
    }

    /// The TCP address this endpoint listens on (port 0 until bound), or
    /// `None` for a UNIX endpoint.
    pub fn tcp_address(&self) -> Option<SocketAddr> {
        match &self.kind {
            Kind::Tcp { address, .. } => Some(*address),
            Kind::Unix { .. } => None,
        }
    }

    /// The socket path of a UNIX endpoint.
    pub fn unix_path(&self) -> Option<&Path> {
        match &self.kind {
            Kind::Unix { path, .. } => Some(path),
            Kind::Tcp { .. } => None,
        }
    }

    /// True for a TLS endpoint.
    pub fn is_tls(&self) -> bool {
        matches!(&self.kind, Kind::Tcp { tls: Some(_), .. })
    }

    /// True for a TCP or TLS endpoint given `reusePort=true`: its socket
    /// sets SO_REUSEPORT, so other sockets (other reactors of a
    /// [`ReactorPool`](crate::reactor_pool::ReactorPool), other
    /// processes of the same user) can listen on the same port and the
    /// kernel spreads new connections among them.
    pub fn reuses_port(&self) -> bool {
        matches!(
            &self.kind,
            Kind::Tcp {
                reuse_port: true,
                ..
            }
        )
    }

    /// This endpoint listening on `port` instead (a TCP or TLS endpoint;
    /// a UNIX one is returned as it is). A pool binds its first socket on
    /// the port the description gives, which may be 0, and the others on
    /// the port the first one got.
    ///
    /// ```
    /// use torsion::endpoints::server_from_string;
    /// use torsion::Reactor;
    ///
    /// let reactor = Reactor::new()?;
    /// let any = server_from_string(&reactor, "tcp:0:interface=127.0.0.1:reusePort=true")?;
    /// let fixed = any.on_port(8080);
    /// assert_eq!(fixed.tcp_address().unwrap().port(), 8080);
    /// assert!(fixed.reuses_port());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn on_port(&self, port: u16) -> ServerEndpoint<N>
    where
        N: Clone,
    {
        let mut kind = self.kind.clone();
        if let Kind::Tcp { address, .. } = &mut kind {
            address.set_port(port);
        }
        ServerEndpoint {
            network: self.network.clone(),
            kind,
        }
    }

    /// This endpoint with its port in `group`, evening out the connections
    /// it serves with the group's other ports (see [`AcceptGroup`]): what
    /// a server built once per reactor of a
    /// [`ReactorPool`](crate::reactor_pool::ReactorPool) listens on. A
    /// UNIX endpoint is returned as it is.
    pub fn in_accept_group(&self, group: &AcceptGroup) -> ServerEndpoint<N>
    where
        N: Clone,
    {
        let mut kind = self.kind.clone();
        if let Kind::Tcp { accept_group, .. } = &mut kind {
            *accept_group = Some(group.clone());
        }
        ServerEndpoint {
            network: self.network.clone(),
            kind,
        }
    }

    /// This endpoint with its TLS offering `protocols` by ALPN, most
    /// preferred first (an HTTP server offers `h2` and `http/1.1`). A TLS
    /// configuration that already offers protocols, and a plain endpoint,
    /// are kept as they are.
    ///
    /// ```
    /// use torsion::endpoints::server_from_string;
    /// use torsion::Reactor;
    ///
    /// let reactor = Reactor::new()?;
    /// let plain = server_from_string(&reactor, "tcp:0:interface=127.0.0.1")?;
    /// let still_plain = plain.offering_alpn(&[b"h2", b"http/1.1"]);
    /// assert!(!still_plain.is_tls());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn offering_alpn(&self, protocols: &[&[u8]]) -> ServerEndpoint<N>
    where
        N: Clone,
    {
        let kind = match &self.kind {
            Kind::Tcp {
                address,
                backlog,
                tls: Some(config),
                handshake_timeout,
                reuse_port,
                accept_group,
            } if config.alpn_protocols.is_empty() => {
                let mut config = (**config).clone();
                config.alpn_protocols = protocols.iter().map(|p| p.to_vec()).collect();
                Kind::Tcp {
                    address: *address,
                    backlog: *backlog,
                    tls: Some(Arc::new(config)),
                    handshake_timeout: *handshake_timeout,
                    reuse_port: *reuse_port,
                    accept_group: accept_group.clone(),
                }
            }
            kind => kind.clone(),
        };
        ServerEndpoint {
            network: self.network.clone(),
            kind,
        }
    }
}

impl ServerEndpoint<Reactor> {
    /// Listens and gives the port as an [`AsyncListener`] whose
    /// connections are accepted with `.await`: any kind of endpoint (TCP,
    /// UNIX, TLS), for servers configured by a string such as `tcp:8080` or
    /// `tls:8443:privateKey=key.pem:certKey=cert.pem`.
    pub fn listen_stream(&self) -> Deferred<AsyncListener> {
        let (factory, into_listener) = AsyncListener::accepting();
        self.listen(factory).map(into_listener)
    }
}

impl<N: Network> fmt::Debug for ServerEndpoint<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Tcp {
                address,
                backlog,
                tls,
                handshake_timeout,
                reuse_port,
                accept_group,
            } => f
                .debug_struct("ServerEndpoint")
                .field("address", address)
                .field("backlog", backlog)
                .field("tls", &tls.is_some())
                .field("handshake_timeout", handshake_timeout)
                .field("reuse_port", reuse_port)
                .field("accept_group", &accept_group.is_some())
                .finish(),
            Kind::Unix {
                path,
                mode,
                backlog,
            } => f
                .debug_struct("ServerEndpoint")
                .field("path", path)
                .field("mode", &format_args!("{mode:o}"))
                .field("backlog", backlog)
                .finish(),
        }
    }
}
