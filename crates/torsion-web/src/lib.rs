//! torsion-web: HTTP for torsion, on hyper running over torsion's sockets
//! (no tokio runtime).
//!
//! A [`Resource`] answers a [`Request`] with a [`Reply`]: a [`Response`]
//! now, a [`Deferred`](torsion::Deferred) of one, or a future of one. A
//! [`Server`] serves a resource on any torsion server endpoint. The
//! [`client`] module is the HTTP client: requests that return a Deferred of
//! their response, pooled connections, TLS verified by default.
//!
//! ```no_run
//! use torsion::Reactor;
//! use torsion::endpoints::server_from_string;
//! use torsion_web::{Body, Request, Response, Server};
//!
//! let reactor = Reactor::new()?;
//! let server = Server::new(|request: Request| {
//!     Response::new(Body::from(format!("you asked for {}\n", request.uri().path())))
//! });
//! drop(server.listen(&reactor, &server_from_string(&reactor, "tcp:8080")?));
//! reactor.run()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs, missing_debug_implementations, unsafe_code)]

mod body;
pub mod client;
mod resource;
pub mod rt;
mod server;

pub use body::{Body, BodyClosed, BodyError, BodySender};
pub use resource::{ConnectionInfo, Reply, Request, Resource, Response};
pub use server::{Listening, Server};

/// Re-exported so users name the same `http` types torsion-web uses.
pub use http;
