//! Each kind of the services file as a torsion service: the same parts
//! `torsion web` and `torsion demo` are made of.

use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use torsion::Reactor;
use torsion::chat::{Room, line_chatter};
use torsion::endpoints::{ServerEndpoint, server_from_string};
use torsion::net::{Address, factory_fn};
use torsion::protocols::wire::Echo;
use torsion::service::{ListeningService, MultiService, Service};
use torsion_web::http::{Method, StatusCode};
use torsion_web::respond::{ResponseExt, json, text};
use torsion_web::{AccessLog, Request, Router, Server, ServerOptions, StaticFiles, WebService};

use toml::Spanned;

use super::config::{ConfigError, Kind, Route, Spec};
use crate::demo::{chart, rate};

/// What a built service leaves for the runner: the service, and what to
/// say once it is up.
pub(crate) struct Built {
    /// The service, to add to the application.
    pub(crate) service: Rc<dyn Service>,
    /// Says where it serves, once started.
    pub(crate) announce: Box<dyn Fn()>,
}

/// A web service and where it is bound.
struct Web {
    service: Rc<WebService>,
    address: Box<dyn Fn() -> Option<Address>>,
}

/// An error of no one place in the file.
fn unplaced(error: impl std::fmt::Display) -> ConfigError {
    ConfigError {
        message: error.to_string(),
        span: None,
    }
}

/// Builds services from specs, sharing chat rooms by name.
pub(crate) struct Builder {
    reactor: Reactor,
    rooms: BTreeMap<String, Rc<Room>>,
}

impl Builder {
    /// Builds on `reactor`.
    pub(crate) fn new(reactor: &Reactor) -> Builder {
        Builder {
            reactor: reactor.clone(),
            rooms: BTreeMap::new(),
        }
    }

    /// The service `spec` describes; a bad endpoint string is an error at
    /// its place in the file.
    pub(crate) fn build(&mut self, spec: &Spec) -> Result<Built, ConfigError> {
        let reactor = self.reactor.clone();
        let endpoint = match &spec.listen {
            Some((description, span)) => {
                Some(server_from_string(&reactor, description).map_err(|error| {
                    ConfigError::at(
                        span.clone(),
                        format!("bad endpoint {description:?}: {error}"),
                    )
                })?)
            }
            None => None,
        };
        let name = spec.name.clone();
        let built = match (&spec.kind, endpoint) {
            (
                Kind::Static {
                    path,
                    listing,
                    hidden,
                    shutdown_timeout,
                },
                Some(endpoint),
            ) => {
                let root = path.canonicalize().map_err(|error| ConfigError {
                    message: format!("service {name:?}: cannot serve {}: {error}", path.display()),
                    span: None,
                })?;
                let web = static_site(
                    &reactor,
                    endpoint,
                    &root,
                    (*listing, *hidden),
                    *shutdown_timeout,
                    &name,
                );
                let shown = web.clone();
                Built {
                    service: web,
                    announce: Box::new(move || {
                        tracing::info!(
                            "{name}: serving {} on {}",
                            root.display(),
                            url_of(shown.address())
                        );
                    }),
                }
            }
            (Kind::Router { routes }, Some(endpoint)) => {
                let router = routes.iter().try_fold(Router::new(), add_route)?;
                announced_web(web(&reactor, endpoint, AccessLog::new(router), &name), name)
            }
            (Kind::WebSocketChat { room }, Some(endpoint)) => {
                let room = self.room(room);
                announced_web(
                    web(&reactor, endpoint, torsion_web::chat::site(&room), &name),
                    name,
                )
            }
            (Kind::RatePoller { source, interval }, endpoint) => {
                let source = rate::RateSource::Url(source.clone());
                let poller = Rc::new(rate::poller(&reactor, source, *interval).named("poller"));
                // The poller, and its chart and status if it listens: one
                // named collection, stopped as one.
                let group = MultiService::named(&name);
                group.add_service(poller).map_err(unplaced)?;
                let mut announce: Box<dyn Fn()> = Box::new({
                    let name = name.clone();
                    move || tracing::info!("{name}: polling the rate")
                });
                if let Some(endpoint) = endpoint {
                    let site = web(&reactor, endpoint, chart::site(&reactor), "chart");
                    group.add_service(site.service).map_err(unplaced)?;
                    let chart = site.address;
                    announce = Box::new(move || {
                        tracing::info!(
                            "{name}: polling the rate; its chart on {}",
                            url_of(chart())
                        );
                    });
                }
                Built {
                    service: group,
                    announce,
                }
            }
            (kind @ (Kind::Echo | Kind::LineChat { .. }), Some(endpoint)) => {
                let listening = Rc::new(
                    match kind {
                        Kind::LineChat { room } => {
                            let room = self.room(room);
                            ListeningService::new(
                                endpoint,
                                factory_fn(move |_| Some(line_chatter(&room))),
                            )
                        }
                        _ => ListeningService::new(endpoint, factory_fn(|_| Some(Echo::default()))),
                    }
                    .named(&name),
                );
                let shown = listening.clone();
                Built {
                    service: listening,
                    announce: Box::new(move || {
                        tracing::info!("{name}: listening on {}", address_of(shown.address()));
                    }),
                }
            }
            (_, None) => unreachable!("the config requires `listen` of this kind"),
        };
        Ok(built)
    }

    fn room(&mut self, name: &str) -> Rc<Room> {
        self.rooms
            .entry(name.to_owned())
            .or_insert_with(Room::new)
            .clone()
    }
}

/// The `static` kind's service, and `torsion web`'s: the files under
/// `root` with an access log, directories listed and hidden files served
/// as `(listing, hidden)` say.
pub(crate) fn static_site(
    reactor: &Reactor,
    endpoint: ServerEndpoint,
    root: &Path,
    (listing, hidden): (bool, bool),
    shutdown_timeout: Option<Duration>,
    name: &str,
) -> Rc<WebService> {
    let files = StaticFiles::new(root)
        .with_listing(listing)
        .with_hidden_files(hidden);
    let mut options = ServerOptions::default();
    if let Some(timeout) = shutdown_timeout {
        options.shutdown_timeout = timeout;
    }
    let server = Server::new(AccessLog::new(files)).with_options(options);
    Rc::new(WebService::new(reactor, endpoint, server).named(name))
}

/// A web service called `name` serving `resource`.
fn web(
    reactor: &Reactor,
    endpoint: ServerEndpoint,
    resource: impl torsion_web::Resource,
    name: &str,
) -> Web {
    let service = Rc::new(WebService::new(reactor, endpoint, Server::new(resource)).named(name));
    let shown = service.clone();
    Web {
        service,
        address: Box::new(move || shown.address()),
    }
}

/// A web service of its own, announcing its URL.
fn announced_web(web: Web, name: String) -> Built {
    let address = web.address;
    Built {
        service: web.service,
        announce: Box::new(move || tracing::info!("{name}: serving on {}", url_of(address()))),
    }
}

/// `http://ADDRESS/` for a TCP address, the address itself otherwise.
fn url_of(address: Option<Address>) -> String {
    match address {
        Some(Address::Tcp(address)) => format!("http://{address}/"),
        other => address_of(other),
    }
}

/// The address bound, if any.
fn address_of(address: Option<Address>) -> String {
    address.map_or_else(|| "nothing".to_owned(), |address| address.to_string())
}

/// `route` added to `router`: its fixed answer at its path.
fn add_route(router: Router, route: &Spanned<Route>) -> Result<Router, ConfigError> {
    let bad = |what: String| {
        ConfigError::at(
            route.span(),
            format!("route {}: {what}", route.get_ref().path),
        )
    };
    let route = route.get_ref();
    let method = Method::from_bytes(route.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| bad(format!("bad method {:?}", route.method)))?;
    let status = StatusCode::from_u16(route.status)
        .map_err(|_| bad(format!("bad status {}", route.status)))?;
    let body = match (&route.text, &route.json) {
        (Some(text), None) => Answer::Text(text.clone()),
        (None, Some(value)) => Answer::Json(
            serde_json::to_value(value).map_err(|error| bad(format!("bad json: {error}")))?,
        ),
        (None, None) => Answer::Text(String::new()),
        (Some(_), Some(_)) => return Err(bad("give `text` or `json`, not both".to_owned())),
    };
    Ok(router.route(method, &route.path, move |_request: Request| {
        let response = match &body {
            Answer::Text(body) => text(body.clone()),
            Answer::Json(value) => json(value),
        };
        response.with_status(status)
    }))
}

enum Answer {
    Text(String),
    Json(serde_json::Value),
}
