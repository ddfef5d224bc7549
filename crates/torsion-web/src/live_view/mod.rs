//! [`LiveView`]: a page showing what the process's reactor holds right now
//! (Twisted's manhole and tokio-console, as a page): open connections with
//! their peer, protocol, bytes in and out and age; listening ports; pending
//! timers and their next deadlines; the thread pool and the blocking
//! bridge; tasks and unfired Deferreds.
//!
//! ```text
//!   GET /           an HTML page that fetches live.json every 2 s
//!   GET /live.json  Reactor::snapshot() as JSON
//! ```
//!
//! The figures come from [`Reactor::snapshot`], taken when a request
//! arrives: a reactor nobody looks at pays nothing for the view. The page
//! exposes the process's internals (peer addresses among them), so
//! [`LiveView::service`] binds to 127.0.0.1 unless told otherwise.
//!
//! ```no_run
//! use std::rc::Rc;
//! use torsion::Reactor;
//! use torsion::service::Application;
//! use torsion_web::LiveView;
//!
//! let reactor = Reactor::new()?;
//! let application = Application::new();
//! // http://127.0.0.1:8789/
//! application.add_service(Rc::new(LiveView::service(&reactor, 8789)?))?;
//! application.run(&reactor)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod document;

use http::{HeaderValue, Method, StatusCode};
use torsion::Reactor;
use torsion::endpoints::{EndpointError, server_from_string};

use crate::respond::{ResponseExt, html, json, status};
use crate::{Reply, Request, Resource, Server, WebService};

pub use document::LiveDocument;

/// How often the page asks for new figures, in milliseconds.
pub const REFRESH_MS: u32 = 2000;

/// The page, with the refresh interval filled in at build time.
const PAGE: &str = include_str!("page.html");

/// The live view as a [`Resource`]: the page at `/`, the figures at
/// `/live.json`, of the reactor serving the request. Mount it anywhere
/// (under a [`Router`](crate::Router) at `/debug/`, say): the page asks
/// for `live.json` relative to itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct LiveView;

impl LiveView {
    /// The live view.
    pub fn new() -> LiveView {
        LiveView
    }

    /// A [`WebService`] named `live-view` serving the live view on
    /// `127.0.0.1:port` (0 picks a free port; see
    /// [`WebService::address`]). Only this machine can reach it.
    pub fn service(reactor: &Reactor, port: u16) -> Result<WebService, EndpointError> {
        LiveView::service_on(reactor, &format!("tcp:{port}:interface=127.0.0.1"))
    }

    /// A [`WebService`] named `live-view` serving the live view on any
    /// endpoint. The page exposes the process's internals: an endpoint
    /// reachable from other machines exposes them to those machines.
    pub fn service_on(reactor: &Reactor, description: &str) -> Result<WebService, EndpointError> {
        let endpoint = server_from_string(reactor, description)?;
        Ok(WebService::new(reactor, endpoint, Server::new(LiveView)).named("live-view"))
    }

    /// The figures of `reactor` now, as the JSON document serves them.
    pub fn document(reactor: &Reactor) -> LiveDocument {
        LiveDocument::from_snapshot(&reactor.snapshot())
    }
}

impl Resource for LiveView {
    fn handle(&self, request: Request) -> Reply {
        if !matches!(*request.method(), Method::GET | Method::HEAD) {
            return status(StatusCode::METHOD_NOT_ALLOWED)
                .with_header(http::header::ALLOW, HeaderValue::from_static("GET, HEAD"))
                .into();
        }
        let path = request.uri().path();
        let response = match path.rsplit('/').next() {
            Some("") => html(page()),
            Some("live.json") => match Reactor::current() {
                Some(reactor) => json(&LiveView::document(&reactor)),
                None => status(StatusCode::SERVICE_UNAVAILABLE),
            },
            _ => status(StatusCode::NOT_FOUND),
        };
        response
            .with_header(
                http::header::CACHE_CONTROL,
                HeaderValue::from_static("no-store"),
            )
            .into()
    }
}

fn page() -> String {
    PAGE.replace("{{REFRESH_MS}}", &REFRESH_MS.to_string())
}

#[cfg(test)]
mod tests;
