//! [`Router`]: klein-style routing. Path patterns with typed parameters,
//! routes per method, sub-routers (or any resource) mounted under a prefix,
//! application state, and hooks that put request-scoped data on requests
//! before their handler runs.
//!
//! How a request is routed:
//!
//! 1. The path is split at `/` and each segment percent-decoded (a path
//!    that is not UTF-8 once decoded is a 400).
//! 2. Every route whose pattern matches the whole path, and every mount
//!    whose prefix matches its start, is a candidate. Candidates are
//!    ordered most specific first (literal segments before `{x:int}`
//!    before `{x}` before `{*rest}`; a mount counts as its prefix followed
//!    by a wildcard), ties in the order they were added.
//! 3. The first candidate with a handler for the method answers; `HEAD`
//!    is answered by the `GET` handler when no `HEAD` one exists (the
//!    server sends the headers only). A mount takes every method.
//! 4. Candidates but none for the method: `405 Method Not Allowed` with an
//!    `Allow` header listing the methods that would have been answered.
//! 5. No candidate: if the path with its trailing slash added or removed
//!    would have one, `308 Permanent Redirect` there (the query kept);
//!    otherwise `404 Not Found`.
//!
//! A mounted resource sees the path without its prefix (at least `/`); the
//! full URI stays in the [`OriginalUri`] extension. Handlers that fail with
//! an [`HttpError`] get its response; other failures are
//! a logged 500.
//!
//! ```
//! use torsion_web::respond::{json, text};
//! use torsion_web::{HttpError, Request, RequestExt, Response, Router};
//!
//! let api = Router::new()
//!     .get("/users/{id:int}", |request: Request| -> Result<Response, HttpError> {
//!         let id: i64 = request.param("id")?;
//!         Ok(json(&serde_json::json!({ "id": id })))
//!     });
//! let app = Router::new()
//!     .get("/", |_request: Request| text("home\n"))
//!     .mount("/api", api);
//! # let _ = app;
//! ```

pub(crate) mod pattern;
pub(crate) mod request_data;

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::fmt;
use std::rc::Rc;

use http::header::{ALLOW, HeaderValue};
use http::uri::PathAndQuery;
use http::{Method, StatusCode, Uri};

use crate::http_error::failure_response;
use crate::respond::redirect;
use crate::{HttpError, Reply, Request, Resource, Response};

use pattern::{Match, Pattern, SplitPath};
pub use request_data::{OriginalUri, PathParams};
use request_data::{StateKeys, StateSlot};

/// A hook run on each request a router dispatches, before its handler: it
/// may add extensions, or answer at once with a response.
type Hook = Rc<dyn Fn(&mut Request) -> Option<Response>>;

/// Routes requests by path and method to resources. A `Router` is itself a
/// [`Resource`]: serve it, or mount it in another router. See the
/// [module docs](crate::router) for the rules.
///
/// Builder methods panic on a malformed pattern or a method added twice to
/// one pattern: both are mistakes in the program, found at startup.
pub struct Router {
    entries: Vec<Entry>,
    state: Option<StateSlot>,
    hooks: Vec<Hook>,
}

struct Entry {
    pattern: Pattern,
    target: Target,
}

enum Target {
    Methods(Vec<(Method, Rc<dyn Resource>)>),
    Mount(Rc<dyn Resource>),
}

impl Default for Router {
    fn default() -> Router {
        Router::new()
    }
}

impl Router {
    /// A router with no routes (everything is a 404).
    pub fn new() -> Router {
        Router {
            entries: Vec::new(),
            state: None,
            hooks: Vec::new(),
        }
    }

    /// A router whose handlers (and those of routers mounted in it) read
    /// `state` with [`RequestExt::state`](crate::RequestExt::state). The
    /// state stays on this thread and need not be `Send`: `Rc`, `Cell` and
    /// `RefCell` are fine.
    pub fn with_state<S: 'static>(state: S) -> Router {
        Router {
            state: Some(StateSlot::register(state)),
            ..Router::new()
        }
    }

    /// Routes `method` requests whose path matches `pattern` to `handler`.
    ///
    /// # Panics
    ///
    /// If `pattern` is malformed or already has a handler for `method`.
    pub fn route(mut self, method: Method, pattern: &str, handler: impl Resource) -> Router {
        let handler: Rc<dyn Resource> = Rc::new(handler);
        let existing = self.entries.iter_mut().find(|entry| {
            entry.pattern.text() == pattern && matches!(entry.target, Target::Methods(_))
        });
        if let Some(Entry {
            target: Target::Methods(methods),
            ..
        }) = existing
        {
            assert!(
                !methods.iter().any(|(known, _)| *known == method),
                "route {method} {pattern} added twice"
            );
            methods.push((method, handler));
            return self;
        }
        self.entries.push(Entry {
            pattern: parse(pattern),
            target: Target::Methods(vec![(method, handler)]),
        });
        self
    }

    /// [`route`](Self::route) for `GET` (and `HEAD`, unless a `HEAD` route
    /// is added for the same pattern).
    pub fn get(self, pattern: &str, handler: impl Resource) -> Router {
        self.route(Method::GET, pattern, handler)
    }

    /// [`route`](Self::route) for `POST`.
    pub fn post(self, pattern: &str, handler: impl Resource) -> Router {
        self.route(Method::POST, pattern, handler)
    }

    /// [`route`](Self::route) for `PUT`.
    pub fn put(self, pattern: &str, handler: impl Resource) -> Router {
        self.route(Method::PUT, pattern, handler)
    }

    /// [`route`](Self::route) for `PATCH`.
    pub fn patch(self, pattern: &str, handler: impl Resource) -> Router {
        self.route(Method::PATCH, pattern, handler)
    }

    /// [`route`](Self::route) for `DELETE`.
    pub fn delete(self, pattern: &str, handler: impl Resource) -> Router {
        self.route(Method::DELETE, pattern, handler)
    }

    /// Hands every request whose path starts with `prefix` (whole segments;
    /// parameters allowed, no wildcard) to `resource`, with the prefix
    /// taken off the path. `resource` is usually another router.
    ///
    /// # Panics
    ///
    /// If `prefix` is malformed or ends with a wildcard.
    pub fn mount(mut self, prefix: &str, resource: impl Resource) -> Router {
        let pattern = parse(prefix);
        assert!(
            !pattern.has_wildcard(),
            "mount prefix {prefix:?} cannot end with a wildcard"
        );
        self.entries.push(Entry {
            pattern,
            target: Target::Mount(Rc::new(resource)),
        });
        self
    }

    /// Runs `hook` on each request this router hands to a handler or a
    /// mounted resource (not on its 404s and 405s), in the order the hooks
    /// were added, before the handler. A hook puts request-scoped data in
    /// the request's extensions and returns `None`, or returns
    /// `Some(response)` to answer itself (an authentication check
    /// answering 401, say).
    ///
    /// ```
    /// use torsion_web::respond::text;
    /// use torsion_web::{Request, Router};
    ///
    /// #[derive(Clone)]
    /// struct RequestId(u64);
    ///
    /// let router = Router::new()
    ///     .before(|request: &mut Request| {
    ///         request.extensions_mut().insert(RequestId(7));
    ///         None
    ///     })
    ///     .get("/", |request: Request| {
    ///         text(format!("request {}\n", request.extensions().get::<RequestId>().unwrap().0))
    ///     });
    /// # let _ = router;
    /// ```
    pub fn before(mut self, hook: impl Fn(&mut Request) -> Option<Response> + 'static) -> Router {
        self.hooks.push(Rc::new(hook));
        self
    }

    fn dispatch(&self, mut request: Request) -> Reply {
        let path = request.uri().path().to_owned();
        let Ok(split) = SplitPath::new(&path) else {
            return HttpError::bad_request("the path is not UTF-8 once percent-decoded")
                .into_response()
                .into();
        };
        let mut candidates: Vec<(&Entry, Match)> = self
            .entries
            .iter()
            .filter_map(|entry| entry.find(&split).map(|found| (entry, found)))
            .collect();
        // A stable sort keeps the order routes were added among equals.
        candidates.sort_by_key(|(entry, _)| std::cmp::Reverse(entry.specificity()));

        let method = request.method().clone();
        let chosen = candidates
            .iter()
            .find_map(|(entry, found)| entry.handler_for(&method).map(|handler| (handler, found)));
        let Some((handler, found)) = chosen else {
            let response = if candidates.is_empty() {
                self.not_found(&request, &split)
            } else {
                method_not_allowed(candidates.iter().map(|(entry, _)| *entry))
            };
            return response.into();
        };
        if let Err(response) = self.prepare(&mut request, found) {
            return (*response).into();
        }
        for hook in &self.hooks {
            if let Some(response) = hook(&mut request) {
                return response.into();
            }
        }
        return_from(handler.handle(request))
    }

    /// Leaves the parameters, state and original URI on the request, and
    /// takes a mount's prefix off its path.
    fn prepare(&self, request: &mut Request, found: &Match) -> Result<(), Box<Response>> {
        if request.extensions().get::<OriginalUri>().is_none() {
            let original = OriginalUri(request.uri().clone());
            request.extensions_mut().insert(original);
        }
        if let Some(state) = &self.state {
            let extensions = request.extensions_mut();
            if extensions.get::<StateKeys>().is_none() {
                extensions.insert(StateKeys::default());
            }
            if let Some(keys) = extensions.get_mut::<StateKeys>() {
                keys.push(state.key());
            }
        }
        if !found.params.is_empty() {
            let extensions = request.extensions_mut();
            if extensions.get::<PathParams>().is_none() {
                extensions.insert(PathParams::default());
            }
            if let Some(params) = extensions.get_mut::<PathParams>() {
                params.extend(found.params.clone());
            }
        }
        if let Some(rest) = &found.rest {
            let uri = with_path(request.uri(), rest).map_err(|error| Box::new(error.into()))?;
            *request.uri_mut() = uri;
        }
        Ok(())
    }

    fn not_found(&self, request: &Request, split: &SplitPath<'_>) -> Response {
        let other_form_exists = split.toggled_slash().is_some_and(|toggled| {
            self.entries
                .iter()
                .any(|entry| entry.find(&toggled).is_some())
        });
        if !other_form_exists {
            return HttpError::not_found("404 Not Found").into_response();
        }
        let original = request
            .extensions()
            .get::<OriginalUri>()
            .map_or_else(|| request.uri().clone(), |original| original.0.clone());
        let path = original.path();
        let toggled = match path.strip_suffix('/') {
            Some(without) => without.to_owned(),
            None => format!("{path}/"),
        };
        let location = match original.query() {
            Some(query) => format!("{toggled}?{query}"),
            None => toggled,
        };
        redirect(StatusCode::PERMANENT_REDIRECT, &location)
    }
}

impl Entry {
    fn find(&self, path: &SplitPath<'_>) -> Option<Match> {
        match self.target {
            Target::Methods(_) => self.pattern.matches(path),
            Target::Mount(_) => self.pattern.matches_prefix(path),
        }
    }

    fn specificity(&self) -> pattern::Specificity {
        self.pattern
            .specificity(matches!(self.target, Target::Mount(_)))
    }

    fn handler_for(&self, method: &Method) -> Option<&Rc<dyn Resource>> {
        match &self.target {
            Target::Mount(resource) => Some(resource),
            Target::Methods(methods) => {
                let find = |wanted: &Method| {
                    methods
                        .iter()
                        .find(|(known, _)| known == wanted)
                        .map(|(_, handler)| handler)
                };
                find(method).or_else(|| (*method == Method::HEAD).then(|| find(&Method::GET))?)
            }
        }
    }
}

fn parse(pattern: &str) -> Pattern {
    Pattern::parse(pattern).unwrap_or_else(|error| panic!("{error}"))
}

fn method_not_allowed<'a>(entries: impl Iterator<Item = &'a Entry>) -> Response {
    let mut allowed = BTreeSet::new();
    for entry in entries {
        if let Target::Methods(methods) = &entry.target {
            for (method, _) in methods {
                allowed.insert(method.as_str().to_owned());
                if *method == Method::GET {
                    allowed.insert(Method::HEAD.as_str().to_owned());
                }
            }
        }
    }
    let allow = allowed.into_iter().collect::<Vec<_>>().join(", ");
    let mut response =
        HttpError::new(StatusCode::METHOD_NOT_ALLOWED, "405 Method Not Allowed").into_response();
    if let Ok(value) = HeaderValue::from_str(&allow) {
        response.headers_mut().insert(ALLOW, value);
    }
    response
}

/// `uri` with its path replaced by `path`, the query kept.
fn with_path(uri: &Uri, path: &str) -> Result<Uri, HttpError> {
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(
        PathAndQuery::try_from(path_and_query)
            .map_err(|error| HttpError::bad_request(format!("bad path: {error}")))?,
    );
    Uri::from_parts(parts).map_err(|error| HttpError::bad_request(format!("bad URI: {error}")))
}

/// The handler's reply, with a failure turned into its response (an
/// [`HttpError`]'s status, else a logged 500).
fn return_from(reply: Reply) -> Reply {
    Reply::later(async move { Ok::<_, Infallible>(reply.await.unwrap_or_else(failure_response)) })
}

impl Resource for Router {
    fn handle(&self, request: Request) -> Reply {
        self.dispatch(request)
    }
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let routes: Vec<String> = self
            .entries
            .iter()
            .map(|entry| match &entry.target {
                Target::Methods(methods) => {
                    let methods: Vec<&str> = methods.iter().map(|(m, _)| m.as_str()).collect();
                    format!("{} {}", methods.join("|"), entry.pattern.text())
                }
                Target::Mount(_) => format!("mount {}", entry.pattern.text()),
            })
            .collect();
        f.debug_struct("Router")
            .field("routes", &routes)
            .field("has_state", &self.state.is_some())
            .field("hooks", &self.hooks.len())
            .finish()
    }
}

/// Shared resources are resources: one handler under several routes, or a
/// router kept by its owner and served too.
impl<R: Resource + ?Sized> Resource for Rc<R> {
    fn handle(&self, request: Request) -> Reply {
        (**self).handle(request)
    }

    fn rejected(&self, request: &crate::RejectedRequest) {
        (**self).rejected(request);
    }
}

#[cfg(test)]
mod tests;
