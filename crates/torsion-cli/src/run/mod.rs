//! `torsion run FILE`: several services in one process, from one TOML
//! file (twistd with a `.tac`, written as data). Each `[[service]]` names
//! a kind, the parts `torsion web` and `torsion demo` are made of:
//!
//! ```toml
//! [[service]]
//! name = "site"
//! kind = "static"
//! listen = "tcp:8080:interface=127.0.0.1"
//! path = "public"
//!
//! [[service]]
//! name = "echo"
//! kind = "echo"
//! listen = "tcp:7000:interface=127.0.0.1"
//! ```
//!
//! The services start in the file's order and stop in reverse on SIGINT
//! or SIGTERM. A mistake in the file is reported with its line, before
//! anything starts. docs/services.md describes every kind.

mod config;
mod kinds;

use std::error::Error;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use clap::Args;
use torsion::Reactor;
use torsion::service::Application;

use crate::announce::Announce;
use config::ConfigError;
pub(crate) use config::{Kind, Spec};
use kinds::Builder;
pub(crate) use kinds::static_site;

/// How much longer than the slowest service's own stop bound the
/// application, and then the reactor, wait.
pub(crate) const STOP_MARGIN: Duration = Duration::from_secs(5);

/// Options of `torsion run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The services file (TOML, one [[service]] table each).
    #[arg(value_name = "FILE")]
    file: PathBuf,

    /// Write the process id to this file while running (refused if it
    /// names a process still running).
    #[arg(long, value_name = "FILE")]
    pidfile: Option<PathBuf>,
}

/// Runs the services of the file until SIGINT or SIGTERM.
pub(crate) fn run(args: RunArgs) -> Result<(), Box<dyn Error>> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|error| format!("cannot read {}: {error}", args.file.display()))?;
    let shown = args.file.display().to_string();
    let specs = config::parse(&text).map_err(|error| error.render(&shown, &text))?;
    let reactor = Reactor::new()?;
    let application = build(&reactor, &specs).map_err(|error| error.render(&shown, &text))?;
    let _pidfile = match &args.pidfile {
        Some(path) => Some(PidFile::create(path)?),
        None => None,
    };
    application.run(&reactor)?;
    tracing::info!("stopped");
    Ok(())
}

/// The application of `specs`, on `reactor`, its stop bounds set to
/// outlast the slowest service's own.
pub(crate) fn build(reactor: &Reactor, specs: &[Spec]) -> Result<Application, ConfigError> {
    let application = Application::new();
    let mut builder = Builder::new(reactor);
    let mut announcements = Vec::new();
    for spec in specs {
        let built = builder.build(spec)?;
        application
            .add_service(built.service)
            .map_err(|error| ConfigError {
                message: error.to_string(),
                span: None,
            })?;
        announcements.push(built.announce);
    }
    let slowest = specs
        .iter()
        .filter_map(|spec| match spec.kind {
            Kind::Static {
                shutdown_timeout, ..
            } => shutdown_timeout,
            _ => None,
        })
        .max()
        .unwrap_or_default()
        .max(torsion_web::ServerOptions::default().shutdown_timeout);
    application.set_stop_timeout(slowest + STOP_MARGIN);
    reactor.set_shutdown_timeout(slowest + STOP_MARGIN * 2);
    let announce = Announce::new("announce", move || {
        for announcement in &announcements {
            announcement();
        }
        Ok(())
    });
    application
        .add_service(Rc::new(announce))
        .map_err(|error| ConfigError {
            message: error.to_string(),
            span: None,
        })?;
    Ok(application)
}

/// The pid file, removed when dropped.
struct PidFile(PathBuf);

impl PidFile {
    fn create(path: &Path) -> Result<PidFile, String> {
        if let Ok(old) = std::fs::read_to_string(path)
            && let Ok(pid) = old.trim().parse::<u32>()
            && Path::new(&format!("/proc/{pid}")).exists()
        {
            return Err(format!(
                "{} says process {pid} is running; is torsion running already?",
                path.display()
            ));
        }
        std::fs::write(path, format!("{}\n", std::process::id()))
            .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
        Ok(PidFile(path.to_owned()))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
