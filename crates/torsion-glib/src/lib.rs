//! torsion driven by a glib [`MainContext`]: a reactor
//! inside GTK's main loop, or any other glib one (Twisted's gtk reactor).
//!
//! GUI toolkits run glib's loop and will not give it up; torsion instead
//! hands glib its reactor through the [embedding API](torsion::reactor#embedding-in-another-loop):
//! an fd source watches the reactor's descriptor and a timeout source
//! follows its next deadline, each turning the reactor once with
//! `run_once`. Timers, sockets, tasks and calls from other threads all
//! work as under [`Reactor::run`](torsion::Reactor::run), between the
//! toolkit's own events.
//!
//! [`run`] is the whole program's loop, as `reactor.run()` would be:
//!
//! ```
//! use std::time::Duration;
//! use torsion::Reactor;
//!
//! let reactor = Reactor::new()?;
//! // glib's own timers and sources, GTK windows... and torsion's:
//! let r = reactor.clone();
//! reactor.call_later(Duration::from_millis(5), move || r.stop().unwrap());
//! torsion_glib::run(&reactor)?; // a glib MainLoop until the reactor finishes
//! assert!(reactor.is_finished());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A program whose toolkit runs the loop itself (`gtk::main`,
//! `Application::run`) calls [`attach`] instead and keeps the returned
//! [`Attachment`] for as long as torsion should run.
//!
//! Signals: like `run_with(Signals::LeaveAlone)`, nothing here touches
//! SIGINT or SIGTERM; call
//! [`Reactor::install_signal_handlers`](torsion::Reactor::install_signal_handlers)
//! before running to have them stop the reactor gracefully (the reactor's
//! descriptor wakes glib for them), or handle them with glib's
//! `unix_signal_add_local`.
#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]

mod attach;

/// docs/embedding.md, compiled and run as doctests so it stays true.
#[doc = include_str!("../../../docs/embedding.md")]
#[cfg(doctest)]
pub struct EmbeddingDoctests;

pub use attach::{AttachError, Attachment, attach};

use glib::{MainContext, MainLoop};
use torsion::Reactor;
use torsion::error::ReactorError;

/// Runs a glib main loop on this thread's default main context (the
/// thread-default one pushed with `MainContext::with_thread_default`, else
/// the global default GTK uses) until `reactor` has stopped and finished
/// its whole shutdown, as
/// [`reactor.run_with(Signals::LeaveAlone)`](torsion::Reactor::run_with)
/// would: it fails with [`ReactorError::AlreadyRunning`] while the reactor
/// runs and [`ReactorError::NotRestartable`] once it has finished, and with
/// [`ReactorError::Stopped`] if polling for events failed.
///
/// Everything else attached to that context (glib timeouts, GTK's windows)
/// runs meanwhile.
///
/// # Panics
///
/// If another thread owns the context (is iterating it), as glib-rs's own
/// `*_local` functions do.
pub fn run(reactor: &Reactor) -> Result<(), ReactorError> {
    run_on(reactor, &MainContext::ref_thread_default())
}

/// [`run`] on the given main context.
///
/// # Panics
///
/// If another thread owns `context`.
pub fn run_on(reactor: &Reactor, context: &MainContext) -> Result<(), ReactorError> {
    reactor.start()?;
    let attachment = match attach(reactor, context) {
        Ok(attachment) => attachment,
        Err(AttachError::Reactor(error)) => return Err(error),
        Err(AttachError::ContextOwnedElsewhere) => {
            panic!("torsion_glib::run: the glib main context is owned by another thread")
        }
    };
    let main_loop = MainLoop::new(Some(context), false);
    let quit = main_loop.clone();
    attachment.on_finished(move || quit.quit());
    if attachment.is_attached() {
        main_loop.run();
    }
    if attachment.failed() {
        return Err(ReactorError::Stopped);
    }
    Ok(())
}
