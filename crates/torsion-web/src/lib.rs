//! torsion-web: HTTP for torsion, on hyper running over torsion's sockets
//! (no tokio runtime).
//!
//! A [`Resource`] answers a [`Request`] with a [`Reply`]: a [`Response`]
//! now, a [`Deferred`](torsion::Deferred) of one, or a future of one. A
//! [`Server`] serves a resource over HTTP/1.1 and HTTP/2 on any torsion
//! server endpoint.
//!
//! Resources to build applications from: a [`Router`] (klein-style routes
//! with typed path parameters, mounts, state; helpers in [`respond`]),
//! [`StaticFiles`] (a directory, like `twistd web --path`), a
//! [`BlockingApp`] (a blocking function run on a thread pool, the WSGI
//! analog), [`AccessLog`] (a log line per request) and, with the `tower`
//! feature, a `TowerResource` (any `tower::Service`, an axum `Router` say).
//! [`websocket`] adds WebSockets: a resource that upgrades requests and a
//! client, both serving a connection with a per-connection protocol or an
//! async stream of messages. The [`client`] module is the HTTP client:
//! requests that return a Deferred of their response, pooled connections,
//! TLS verified by default.
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
//! drop(server.listen(&reactor, &server_from_string(&reactor, "tcp:8080:interface=127.0.0.1")?));
//! reactor.run()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs, missing_debug_implementations, unsafe_code)]

mod access_log;
pub mod blocking_app;
mod body;
pub mod chat;
pub mod client;
mod connection_info;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod http_error;
pub mod live_view;
mod rejected;
mod request_ext;
mod resource;
pub mod respond;
pub mod router;
pub mod rt;
mod server;
mod static_files;
#[cfg(feature = "tower")]
pub mod tower;
pub mod upgrade;
mod web_service;
pub mod websocket;

pub use access_log::{ACCESS_LOG_TARGET, AccessLog};
pub use blocking_app::{BlockingApp, BlockingBody, BlockingRequest, BlockingResponse, BodyWriter};
pub use body::{Body, BodyClosed, BodyError, BodySender};
pub use connection_info::ConnectionInfo;
pub use http_error::HttpError;
pub use live_view::LiveView;
pub use rejected::RejectedRequest;
pub use request_ext::RequestExt;
pub use resource::{Reply, Request, Resource, Response};
pub use router::{OriginalUri, PathParams, Router};
pub use server::{Listening, Server, ServerOptions};
pub use static_files::{DEFAULT_CHUNK_SIZE, StaticFiles};
#[cfg(feature = "tower")]
pub use tower::{TowerBody, TowerResource};
pub use web_service::WebService;

/// Re-exported so users name the same `http` types torsion-web uses.
pub use http;

/// docs/web.md, the book's page about this crate, compiled and run as
/// doctests so its examples stay true (torsion's lib.rs takes the pages
/// that use torsion alone).
#[doc = include_str!("../../../docs/web.md")]
#[cfg(doctest)]
pub struct WebDoctests;

/// docs/live-view.md, compiled and run as doctests.
#[doc = include_str!("../../../docs/live-view.md")]
#[cfg(doctest)]
pub struct LiveViewDoctests;
