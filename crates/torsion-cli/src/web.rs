//! `torsion web`: serve a directory over HTTP, with an access log, until
//! SIGINT or SIGTERM. The first signal stops gracefully: no new
//! connections, requests in flight get `--shutdown-timeout` to finish; a
//! second signal stops at once.

use std::error::Error;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use torsion::Reactor;
use torsion::endpoints::server_from_string;
use torsion_web::ServerOptions;

use crate::run::{Kind, Spec};
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
    server_from_string(&reactor, &args.listen)
        .map_err(|error| format!("--listen {}: {error}", args.listen))?;
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
