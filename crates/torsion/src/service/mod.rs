//! Services: the long-lived parts of a program, started together and
//! stopped in order (Twisted's `twisted.application.service`).
//!
//! A program is usually several things at once: a port or two it listens
//! on, a connection it keeps up to another server, a job that runs every
//! minute. Each is a [`Service`] with a start and a stop, and the stop
//! returns a Deferred, so "stopped" can mean "the last client has been told
//! goodbye". A [`MultiService`] holds services, starts them in the order
//! they were added and stops them in reverse; an [`Application`] is the
//! top one, run with the reactor, so that [`Reactor::stop`](crate::Reactor::stop),
//! SIGINT and SIGTERM stop every service, and wait for it, before the
//! reactor closes what is left and returns.
//!
//! ```text
//!   Application (root MultiService)
//!     ├── ListeningService  "tcp:8080"      start: listen     stop: stop listening
//!     ├── ClientService     "tcp:10.0.0.2:7000"  keeps one connection up, with back-off
//!     └── TimerService      every 60 s      a LoopingCall
//!
//!   run:      privileged start (all) -> reactor runs -> start, in order
//!   shutdown: before-shutdown trigger -> stop, in reverse, each bounded
//!             -> connections closed -> reactor finishes -> run returns
//! ```
//!
//! Ready-made services: [`ListeningService`] (an endpoint string and a
//! factory), [`ClientService`] (a reconnecting client), [`TimerService`]
//! (a [`LoopingCall`](crate::time::LoopingCall)). torsion-web adds one for
//! an HTTP resource.
//!
//! ```
//! use std::rc::Rc;
//! use std::time::Duration;
//! use torsion::net::{Protocol, factory_fn};
//! use torsion::service::{Application, ListeningService, TimerService};
//! use torsion::Reactor;
//!
//! struct Quiet;
//! impl Protocol for Quiet {
//!     fn data_received(&mut self, _: &[u8]) {}
//! }
//!
//! let reactor = Reactor::new()?;
//! let application = Application::new();
//! let listener =
//!     ListeningService::from_string(&reactor, "tcp:0:interface=127.0.0.1", factory_fn(|_| Some(Quiet)))?;
//! application.add_service(Rc::new(listener.named("listener")))?;
//! let timer = TimerService::new(reactor.clone(), Duration::from_secs(60), || println!("a minute"));
//! application.add_service(Rc::new(timer.named("timer")))?;
//! // Stops by itself here; a server would run until SIGINT or SIGTERM.
//! let stopper = reactor.clone();
//! reactor.call_later(Duration::from_millis(20), move || stopper.stop().unwrap());
//! application.run(&reactor)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod application;
mod client;
mod contract;
mod error;
mod listening;
mod multi;
mod timer;

#[cfg(test)]
mod tests;

pub use application::{Application, DEFAULT_STOP_TIMEOUT};
pub use client::ClientService;
pub use contract::{Service, ServiceCore};
pub use error::ServiceError;
pub use listening::ListeningService;
pub use multi::MultiService;
pub use timer::TimerService;
