//! `torsion web`: serve a directory over HTTP, with an access log, until
//! SIGINT or SIGTERM. The first signal stops gracefully: no new
//! connections, requests in flight get `--shutdown-timeout` to finish; a
//! second signal stops at once.

use std::error::Error;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use torsion::endpoints::server_from_string;
use torsion::net::{AcceptGroup, Address};
use torsion::reactor_pool::ReactorPool;
use torsion::service::Application;
use torsion::{Failure, Reactor};
use torsion_web::ServerOptions;

use crate::run::{Kind, STOP_MARGIN, Spec, static_site};
use crate::seconds::parse_seconds;

/// Where `torsion web` listens unless told: loopback only, so running it
/// by accident never publishes a directory to the network.
pub(crate) const DEFAULT_LISTEN: &str = "tcp:8080:interface=127.0.0.1";

/// Options of `torsion web`.
#[derive(Debug, Args)]
pub(crate) struct WebArgs {
    /// The endpoint to listen on: `tcp:PORT` (every interface),
    /// `tcp:PORT:interface=ADDR`, `unix:/PATH`,
    /// `tls:PORT:privateKey=KEY.pem:certKey=CERT.pem`.
    #[arg(long, value_name = "ENDPOINT", default_value = DEFAULT_LISTEN)]
    listen: String,

    /// The directory to serve.
    #[arg(long, value_name = "DIR", default_value = ".")]
    path: PathBuf,

    /// Answer 403 for a directory without index.html instead of listing it.
    #[arg(long)]
    no_listing: bool,

    /// Serve and list hidden files: names starting with a dot, and what
    /// dot directories hold (.git/, .env). By default they answer 404 and
    /// are left out of listings.
    #[arg(long)]
    show_hidden: bool,

    /// On SIGINT or SIGTERM, how long requests in flight may take to
    /// finish before their connections are cut. A second signal stops at
    /// once.
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_seconds)]
    shutdown_timeout: Duration,

    /// Serve with this many reactors, each on a thread of its own with
    /// its own socket on the port (SO_REUSEPORT; `reusePort=true` is added
    /// to a TCP or TLS endpoint); the kernel spreads connections among
    /// them. One per core is the usual choice.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
    reactors: u16,
}

impl Default for WebArgs {
    fn default() -> WebArgs {
        WebArgs {
            listen: DEFAULT_LISTEN.to_owned(),
            path: PathBuf::from("."),
            no_listing: false,
            show_hidden: false,
            shutdown_timeout: ServerOptions::default().shutdown_timeout,
            reactors: 1,
        }
    }
}

/// Serves until a signal stops the reactor; an error if the directory or
/// the endpoint is unusable. The server is the runner's `static` kind,
/// alone in its application.
pub(crate) fn run(args: WebArgs) -> Result<(), Box<dyn Error>> {
    let root = args
        .path
        .canonicalize()
        .map_err(|error| format!("cannot serve {}: {error}", args.path.display()))?;
    if !root.is_dir() {
        return Err(format!("cannot serve {}: not a directory", root.display()).into());
    }
    let reactor = Reactor::new()?;
    // Checked here so the error names the option rather than a file.
    let endpoint = server_from_string(&reactor, &args.listen)
        .map_err(|error| format!("--listen {}: {error}", args.listen))?;
    if args.reactors > 1 {
        drop(reactor);
        let listen = if endpoint.reuses_port() {
            args.listen.clone()
        } else if endpoint.tcp_address().is_some() {
            format!("{}:reusePort=true", args.listen)
        } else {
            return Err(format!(
                "--listen {}: several reactors share a TCP or TLS port, not a UNIX socket",
                args.listen
            )
            .into());
        };
        return run_pool(&args, &root, &listen);
    }
    let spec = Spec {
        name: "web".to_owned(),
        kind: Kind::Static {
            path: root,
            listing: !args.no_listing,
            hidden: args.show_hidden,
            shutdown_timeout: Some(args.shutdown_timeout),
        },
        listen: Some((args.listen.clone(), 0..0)),
    };
    let application = crate::run::build(&reactor, &[spec]).map_err(|error| error.to_string())?;
    application
        .run(&reactor)
        .map_err(|error| format!("cannot listen on {}: {error}", args.listen))?;
    tracing::info!("stopped");
    Ok(())
}

/// `--reactors N` with N above 1: the same site built on each reactor of
/// a pool, every one listening on the port with a socket of its own,
/// until SIGINT or SIGTERM stops them all.
fn run_pool(args: &WebArgs, root: &Path, listen: &str) -> Result<(), Box<dyn Error>> {
    let pool = ReactorPool::new(usize::from(args.reactors))?;
    let shutdown_timeout = args.shutdown_timeout;
    let (listing, hidden) = (!args.no_listing, args.show_hidden);
    let group = AcceptGroup::new();
    let mut bound: Option<SocketAddr> = None;
    for (index, bridge) in pool.bridges().iter().enumerate() {
        let (root, description) = (root.to_owned(), listen.to_owned());
        let group = group.clone();
        let port = bound.map(|address| address.port());
        let started = bridge.wait_for(Duration::from_secs(10), move |reactor| {
            start_site(
                &reactor,
                &root,
                &description,
                (port, &group),
                (listing, hidden),
                shutdown_timeout,
            )
        });
        match started {
            Ok(address) => {
                tracing::debug!(reactor = index, %address, "listening");
                bound = bound.or(Some(address));
            }
            Err(error) => {
                let _ = pool.stop(Duration::from_secs(5));
                return Err(format!("cannot listen on {listen}: {error}").into());
            }
        }
    }
    let address = bound.expect("a pool has at least one reactor");
    tracing::info!(
        "web: serving {} with {} reactors on http://{address}/",
        root.display(),
        pool.len()
    );
    pool.run(shutdown_timeout + STOP_MARGIN * 3)?;
    tracing::info!("stopped");
    Ok(())
}

/// On one reactor of the pool: the site in an application of its own,
/// listening in `group` (on `port` once the first reactor has one),
/// started now and stopped when the reactor stops; where it listens.
fn start_site(
    reactor: &Reactor,
    root: &Path,
    listen: &str,
    (port, group): (Option<u16>, &AcceptGroup),
    (listing, hidden): (bool, bool),
    shutdown_timeout: Duration,
) -> Result<SocketAddr, Failure> {
    let mut endpoint = server_from_string(reactor, listen)?.in_accept_group(group);
    if let Some(port) = port {
        endpoint = endpoint.on_port(port);
    }
    let site = static_site(
        reactor,
        endpoint,
        root,
        (listing, hidden),
        Some(shutdown_timeout),
        "web",
    );
    let application = Application::new();
    application.add_service(site.clone())?;
    application.set_stop_timeout(shutdown_timeout + STOP_MARGIN);
    reactor.set_shutdown_timeout(shutdown_timeout + STOP_MARGIN * 2);
    application.start(reactor)?;
    match site.address() {
        Some(Address::Tcp(address)) => Ok(address),
        other => Err(Failure::new(std::io::Error::other(format!(
            "not listening on TCP: {other:?}"
        )))),
    }
}
