//! `torsion web`: serve a directory over HTTP, with an access log, until
//! SIGINT or SIGTERM. The first signal stops gracefully: no new
//! connections, requests in flight get `--shutdown-timeout` to finish; a
//! second signal stops at once.

use std::cell::RefCell;
use std::error::Error;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use clap::Args;
use torsion::endpoints::server_from_string;
use torsion::net::Address;
use torsion::reactor::{Phase, SystemEvent};
use torsion::{Failure, Reactor};
use torsion_web::{AccessLog, Server, ServerOptions, StaticFiles};

/// Where `torsion web` listens unless told: loopback only, so running it
/// by accident never publishes a directory to the network.
pub(crate) const DEFAULT_LISTEN: &str = "tcp:8080:interface=127.0.0.1";

/// How much longer than the server's shutdown timeout the reactor waits
/// for its before-shutdown triggers.
const REACTOR_SHUTDOWN_MARGIN: Duration = Duration::from_secs(5);

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
}

/// A non-negative number of seconds, fractions allowed.
pub(crate) fn parse_seconds(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .ok_or_else(|| format!("{text:?} is not a number of seconds"))
}

impl Default for WebArgs {
    fn default() -> WebArgs {
        WebArgs {
            listen: DEFAULT_LISTEN.to_owned(),
            path: PathBuf::from("."),
            no_listing: false,
            show_hidden: false,
            shutdown_timeout: ServerOptions::default().shutdown_timeout,
        }
    }
}

/// Serves until a signal stops the reactor; an error if the directory or
/// the endpoint is unusable.
pub(crate) fn run(args: WebArgs) -> Result<(), Box<dyn Error>> {
    let root = args
        .path
        .canonicalize()
        .map_err(|error| format!("cannot serve {}: {error}", args.path.display()))?;
    if !root.is_dir() {
        return Err(format!("cannot serve {}: not a directory", root.display()).into());
    }
    let reactor = Reactor::new()?;
    let endpoint = server_from_string(&reactor, &args.listen)
        .map_err(|error| format!("--listen {}: {error}", args.listen))?;

    let files = StaticFiles::new(&root)
        .with_listing(!args.no_listing)
        .with_hidden_files(args.show_hidden);
    let server = Server::new(AccessLog::new(files)).with_options(ServerOptions {
        shutdown_timeout: args.shutdown_timeout,
        ..ServerOptions::default()
    });
    // The server cuts its connections at its own timeout; the reactor's
    // bound only catches a shutdown that hangs past that.
    reactor.set_shutdown_timeout(args.shutdown_timeout + REACTOR_SHUTDOWN_MARGIN);
    let failed: Rc<RefCell<Option<Failure>>> = Rc::default();
    let listening = server.listen(&reactor, &endpoint);
    let r = reactor.clone();
    let f = failed.clone();
    let scheme = if args.listen.starts_with("tls:") {
        "https"
    } else {
        "http"
    };
    drop(reactor.spawn(async move {
        match listening.await {
            Ok(listening) => {
                let place = match listening.address() {
                    Address::Tcp(address) => format!("{scheme}://{address}/"),
                    other => other.to_string(),
                };
                tracing::info!("serving {} on {place}", root.display());
                r.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, move || {
                    tracing::info!("stopping: no new connections");
                    listening.stop_listening()
                });
            }
            Err(failure) => {
                *f.borrow_mut() = Some(failure);
                let _ = r.stop();
            }
        }
        Ok::<(), Failure>(())
    }));
    reactor.run()?;
    if let Some(failure) = failed.borrow_mut().take() {
        return Err(format!("cannot listen on {}: {failure}", args.listen).into());
    }
    tracing::info!("stopped");
    Ok(())
}
