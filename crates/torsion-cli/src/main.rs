//! `torsion`: the command-line face of torsion (twistd's analog).
//!
//! `torsion demo` (what `torsion` alone runs) serves the project's showcase
//! from one process: a chat on WebSockets and `nc`, an exchange rate polled
//! by a LoopingCall, a blocking web app asking for it through the bridge,
//! and a chart of its history. `torsion web` serves a directory over HTTP
//! with an access log:
//!
//! ```text
//! torsion                                   # the demo on 127.0.0.1:8600-8605
//! torsion demo --port-base 0                # the demo on free ports
//! torsion web --listen tcp:8080 --path DIR  # DIR on every interface, port 8080
//! torsion web --reactors 2                 # two reactors, one socket each
//! torsion run services.toml --pidfile PID   # the services a file lists
//! ```
//!
//! `--log-format json` writes the log as JSON lines. `TORSION_BACKEND=io_uring`
//! in the environment puts every reactor's writes on io_uring (see
//! `torsion::reactor::Backend`).
//!
//! SIGINT or SIGTERM stops either gracefully; a second signal stops at
//! once.
#![deny(missing_docs, missing_debug_implementations, unsafe_code)]

mod announce;
mod demo;
mod run;
mod seconds;
mod web;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// torsion: an event-driven networking engine in Twisted's model.
///
/// With no command, runs `torsion demo` with its defaults: the showcase
/// on 127.0.0.1, ports 8600 to 8605.
#[derive(Debug, Parser)]
#[command(name = "torsion", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// How the log (on stderr) is written: `human` (coloured on a
    /// terminal) or `json`, one JSON object a line.
    #[arg(long, value_enum, global = true, default_value = "human")]
    log_format: LogFormat,
}

/// The log's format.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    /// Lines for people.
    Human,
    /// JSON lines for machines.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The showcase: a WebSocket and nc chat, a polled exchange rate, a
    /// blocking web app asking the reactor for it, and its chart.
    Demo(demo::DemoArgs),
    /// Serve a directory over HTTP, like `twistd web --path`.
    Web(web::WebArgs),
    /// Run the services a TOML file lists, in one process.
    Run(run::RunArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let outcome = match cli.command {
        Some(Command::Demo(args)) => demo::run(args),
        Some(Command::Web(args)) => web::run(args),
        Some(Command::Run(args)) => run::run(args),
        None => demo::run(demo::DemoArgs::default()),
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
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let log = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => log.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => log.json().init(),
    }
}
