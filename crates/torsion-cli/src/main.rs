//! `torsion`: the command-line face of torsion (twistd's analog).
//!
//! `torsion web` serves a directory over HTTP with an access log, and is
//! what `torsion` alone runs:
//!
//! ```text
//! torsion                                   # ./ on http://127.0.0.1:8080/
//! torsion web --listen tcp:8080 --path DIR  # DIR on every interface, port 8080
//! ```
//!
//! SIGINT or SIGTERM stops it gracefully, giving requests in flight
//! `--shutdown-timeout` seconds (10 by default); a second signal stops it
//! at once.
#![deny(missing_docs, missing_debug_implementations, unsafe_code)]

mod web;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// torsion: an event-driven networking engine in Twisted's model.
///
/// With no command, runs `torsion web` with its defaults: the current
/// directory served on http://127.0.0.1:8080/ (loopback only).
#[derive(Debug, Parser)]
#[command(name = "torsion", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve a directory over HTTP, like `twistd web --path`.
    Web(web::WebArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let outcome = match cli.command {
        Some(Command::Web(args)) => web::run(args),
        None => web::run(web::WebArgs::default()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("torsion: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr, INFO and up unless `RUST_LOG` says otherwise.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
