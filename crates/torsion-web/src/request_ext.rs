//! [`RequestExt`]: what a handler reads from a request beyond the
//! request line and headers, whether the server or a router put it there.

use std::any::Any;
use std::rc::Rc;
use std::str::FromStr;

use crate::router::request_data::StateKeys;
use crate::{Body, ConnectionInfo, HttpError, PathParams, Request};

/// What handlers read from a request: the connection it came on, typed
/// path parameters and state.
///
/// ```
/// use torsion_web::{HttpError, Request, RequestExt, Response, Router, respond::text};
///
/// struct Greeting(&'static str);
///
/// let router = Router::with_state(Greeting("hello"))
///     .get("/users/{id}", |request: Request| -> Result<Response, HttpError> {
///         let id: u64 = request.param("id")?; // "abc" answers 400
///         let greeting = request.state::<Greeting>()?;
///         let client = request.connection().map(|info| info.peer.to_string());
///         Ok(text(format!("{} user {id}, from {client:?}\n", greeting.0)))
///     });
/// # let _ = router;
/// ```
pub trait RequestExt {
    /// What the server knows of the connection the request came on: the
    /// value in the request's extensions if there is one, else the one the
    /// server gave the request's [`Body`]. `None` for a request the server
    /// did not receive (one built by hand), or whose body a resource
    /// replaced without moving the info into the extensions.
    fn connection(&self) -> Option<&ConnectionInfo>;

    /// The path parameter `name`, parsed as a `T`. A value that does not
    /// parse is a 400 naming the parameter and the reason; a name the
    /// route does not define is a 500 (a mistake in the program).
    fn param<T>(&self, name: &str) -> Result<T, HttpError>
    where
        T: FromStr,
        T::Err: std::fmt::Display;

    /// All path parameters (empty outside a router).
    fn params(&self) -> PathParams;

    /// The state of type `S` set by [`Router::with_state`](crate::Router::with_state)
    /// on this router or one it is mounted in (the innermost wins). A 500
    /// if there is none, or on a thread other than the router's.
    fn state<S: 'static>(&self) -> Result<Rc<S>, HttpError>;
}

impl<B: 'static> RequestExt for http::Request<B> {
    fn connection(&self) -> Option<&ConnectionInfo> {
        self.extensions().get::<ConnectionInfo>().or_else(|| {
            let body: &dyn Any = self.body();
            let body = body.downcast_ref::<Body>()?;
            body.connection()
        })
    }

    fn param<T>(&self, name: &str) -> Result<T, HttpError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        let value = self
            .extensions()
            .get::<PathParams>()
            .and_then(|params| params.get(name))
            .ok_or_else(|| {
                HttpError::internal(format!("the route has no path parameter `{name}`"))
            })?;
        value.parse().map_err(|error| {
            HttpError::bad_request(format!("path parameter `{name}` = {value:?}: {error}"))
        })
    }

    fn params(&self) -> PathParams {
        self.extensions()
            .get::<PathParams>()
            .cloned()
            .unwrap_or_default()
    }

    fn state<S: 'static>(&self) -> Result<Rc<S>, HttpError> {
        self.extensions()
            .get::<StateKeys>()
            .and_then(StateKeys::find::<S>)
            .ok_or_else(|| {
                HttpError::internal(format!(
                    "no state of type {} for this request on this thread",
                    std::any::type_name::<S>()
                ))
            })
    }
}

/// Takes `request` apart for a resource that gives it a new body (a tower
/// service's, a blocking app's), moving its [`ConnectionInfo`] into the
/// extensions, where [`RequestExt::connection`] still finds it.
pub(crate) fn into_parts_keeping_connection(request: Request) -> (http::request::Parts, Body) {
    let (mut parts, body) = request.into_parts();
    if parts.extensions.get::<ConnectionInfo>().is_none()
        && let Some(info) = body.connection()
    {
        parts.extensions.insert(info.clone());
    }
    (parts, body)
}
