//! The routing rules, checked by calling a router directly; the tests
//! under `tests/` serve routers to real clients.

use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use http::header::{ALLOW, LOCATION};

use super::*;
use crate::respond::text;
use crate::{Body, RequestExt};

struct Noop;
impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

/// Calls `router` and reads the answer (every handler here answers at
/// once).
fn call(router: &Router, method: Method, uri: &str) -> (StatusCode, http::HeaderMap, String) {
    let request = http::Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    let waker = Waker::from(Arc::new(Noop));
    let mut cx = Context::from_waker(&waker);
    let Poll::Ready(response) = std::pin::pin!(router.handle(request)).poll(&mut cx) else {
        panic!("the handlers here answer at once");
    };
    let response = response.unwrap();
    let (parts, body) = response.into_parts();
    let Poll::Ready(bytes) = std::pin::pin!(body.bytes()).poll(&mut cx) else {
        panic!("whole bodies");
    };
    (
        parts.status,
        parts.headers,
        String::from_utf8(bytes.unwrap().to_vec()).unwrap(),
    )
}

fn says(word: &'static str) -> impl Fn(Request) -> Response {
    move |_request| text(word)
}

fn echo_params(request: Request) -> Response {
    let params: Vec<String> = request
        .params()
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    text(params.join(","))
}

#[test]
fn routes_answer_by_path_and_method() {
    let router = Router::new()
        .get("/", says("home"))
        .get("/users", says("list"))
        .post("/users", says("create"));
    assert_eq!(call(&router, Method::GET, "/").2, "home");
    assert_eq!(call(&router, Method::GET, "/users").2, "list");
    assert_eq!(call(&router, Method::POST, "/users").2, "create");
    assert_eq!(
        call(&router, Method::GET, "/nothing").0,
        StatusCode::NOT_FOUND
    );
}

#[test]
fn a_wrong_method_is_405_listing_the_allowed_ones() {
    let router = Router::new()
        .get("/users/{id}", says("show"))
        .delete("/users/{id}", says("gone"))
        .put("/users/{id:int}", says("replace"));
    let (status, headers, _) = call(&router, Method::PATCH, "/users/7");
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers[ALLOW], "DELETE, GET, HEAD, PUT");
    let (_, headers, _) = call(&router, Method::PATCH, "/users/bob");
    assert_eq!(
        headers[ALLOW], "DELETE, GET, HEAD",
        "the int route does not match bob"
    );
}

#[test]
fn head_is_answered_by_get_unless_a_head_route_exists() {
    let router = Router::new()
        .get("/a", says("get a"))
        .get("/b", says("get b"))
        .route(Method::HEAD, "/b", says("head b"));
    assert_eq!(call(&router, Method::HEAD, "/a").2, "get a");
    assert_eq!(call(&router, Method::HEAD, "/b").2, "head b");
    let router = Router::new().post("/p", says("post"));
    assert_eq!(
        call(&router, Method::HEAD, "/p").0,
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[test]
fn the_most_specific_route_wins_whatever_the_order_added() {
    let router = Router::new()
        .get("/{*rest}", says("catch-all"))
        .get("/users/{name}", says("by name"))
        .get("/users/{id:int}", says("by id"))
        .get("/users/me", says("me"));
    assert_eq!(call(&router, Method::GET, "/users/me").2, "me");
    assert_eq!(call(&router, Method::GET, "/users/12").2, "by id");
    assert_eq!(call(&router, Method::GET, "/users/bob").2, "by name");
    assert_eq!(call(&router, Method::GET, "/elsewhere/x").2, "catch-all");
}

#[test]
fn a_less_specific_route_answers_a_method_the_more_specific_lacks() {
    let router = Router::new()
        .get("/users/me", says("me"))
        .delete("/users/{id}", says("deleted"));
    assert_eq!(call(&router, Method::DELETE, "/users/me").2, "deleted");
}

#[test]
fn typed_parameters_that_do_not_fit_are_404() {
    let router = Router::new().get("/users/{id:int}", says("user"));
    assert_eq!(
        call(&router, Method::GET, "/users/abc").0,
        StatusCode::NOT_FOUND
    );
}

#[test]
fn a_parameter_that_does_not_parse_is_400_naming_it() {
    let router = Router::new().get("/users/{id}", |request: Request| {
        let id: u64 = request.param("id")?;
        Ok::<_, HttpError>(text(format!("user {id}")))
    });
    assert_eq!(call(&router, Method::GET, "/users/42").2, "user 42");
    let (status, _, body) = call(&router, Method::GET, "/users/x1");
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("path parameter `id` = \"x1\""), "{body}");
    let (status, _, _) = call(&router, Method::GET, "/users/-1");
    assert_eq!(status, StatusCode::BAD_REQUEST, "u64 refuses a sign");
}

#[test]
fn asking_for_a_parameter_the_route_lacks_is_500() {
    let router = Router::new().get("/users/{id}", |request: Request| {
        request.param::<u64>("user_id").map(|_| text("never"))
    });
    assert_eq!(
        call(&router, Method::GET, "/users/1").0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
}

#[test]
fn parameters_are_percent_decoded() {
    let router = Router::new()
        .get("/files/{name}", echo_params)
        .get("/tree/{*path}", echo_params);
    assert_eq!(
        call(&router, Method::GET, "/files/a%20b%2Fc").2,
        "name=a b/c"
    );
    assert_eq!(
        call(&router, Method::GET, "/tree/x/y%20z/").2,
        "path=x/y z/"
    );
    let (status, _, _) = call(&router, Method::GET, "/files/%FF%FE");
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[test]
fn a_missing_or_extra_trailing_slash_redirects_to_the_route() {
    let router = Router::new()
        .get("/users/", says("list"))
        .get("/about", says("about"))
        .mount("/api", Router::new().get("/items/", says("items")));
    let (status, headers, _) = call(&router, Method::GET, "/users?page=2");
    assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(headers[LOCATION], "/users/?page=2");
    let (status, headers, _) = call(&router, Method::GET, "/about/");
    assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(headers[LOCATION], "/about");
    let (status, headers, _) = call(&router, Method::POST, "/api/items");
    assert_eq!(
        status,
        StatusCode::PERMANENT_REDIRECT,
        "308 keeps the method"
    );
    assert_eq!(headers[LOCATION], "/api/items/", "the mount prefix is kept");
    assert_eq!(
        call(&router, Method::GET, "/nowhere/").0,
        StatusCode::NOT_FOUND
    );
}

#[test]
fn a_mounted_router_sees_the_rest_of_the_path_and_the_prefix_parameters() {
    let api = Router::new()
        .get("/", says("api root"))
        .get("/posts/{post:int}", |request: Request| {
            let original = request.extensions().get::<OriginalUri>().unwrap().0.clone();
            text(format!("{} | {original}", request.uri()))
        })
        .get("/params/{post}", echo_params);
    let router = Router::new()
        .get("/users/{user:int}/about", says("about"))
        .mount("/users/{user:int}", api);
    assert_eq!(call(&router, Method::GET, "/users/5").2, "api root");
    assert_eq!(call(&router, Method::GET, "/users/5/").2, "api root");
    assert_eq!(
        call(&router, Method::GET, "/users/5/params/9").2,
        "user=5,post=9"
    );
    assert_eq!(
        call(&router, Method::GET, "/users/5/posts/9?x=1").2,
        "/posts/9?x=1 | /users/5/posts/9?x=1"
    );
    assert_eq!(call(&router, Method::GET, "/users/5/about").2, "about");
    assert_eq!(
        call(&router, Method::GET, "/users/5/none").0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&router, Method::GET, "/users/x/posts/1").0,
        StatusCode::NOT_FOUND
    );
}

#[test]
fn state_reaches_handlers_of_the_router_and_of_routers_mounted_in_it() {
    struct Counter(Cell<u32>);
    struct Name(&'static str);
    let bump = |request: Request| -> Result<Response, HttpError> {
        let counter = request.state::<Counter>()?;
        counter.0.set(counter.0.get() + 1);
        let name = request.state::<Name>()?;
        Ok(text(format!("{} {}", name.0, counter.0.get())))
    };
    let inner = Router::with_state(Name("inner")).get("/bump", bump);
    let router = Router::with_state(Counter(Cell::new(0)))
        .mount("/in", inner)
        .get("/outer", |request: Request| {
            request.state::<Name>().map(|name| text(name.0))
        });
    assert_eq!(call(&router, Method::GET, "/in/bump").2, "inner 1");
    assert_eq!(call(&router, Method::GET, "/in/bump").2, "inner 2");
    assert_eq!(
        call(&router, Method::GET, "/outer").0,
        StatusCode::INTERNAL_SERVER_ERROR,
        "the outer router has no Name"
    );
}

#[test]
fn state_is_released_with_its_router() {
    let state = Rc::new(());
    let router = Router::with_state(state.clone());
    assert_eq!(Rc::strong_count(&state), 2);
    drop(router);
    assert_eq!(Rc::strong_count(&state), 1);
}

#[test]
fn hooks_add_request_data_or_answer_first() {
    #[derive(Clone)]
    struct User(&'static str);
    let inner = Router::new().get("/me", |request: Request| {
        text(
            request
                .extensions()
                .get::<User>()
                .map_or("nobody", |user| user.0),
        )
    });
    let router = Router::new()
        .before(|request: &mut Request| {
            if request.headers().contains_key("x-deny") {
                return Some(HttpError::new(StatusCode::UNAUTHORIZED, "no").into_response());
            }
            request.extensions_mut().insert(User("alice"));
            None
        })
        .mount("/api", inner);
    assert_eq!(call(&router, Method::GET, "/api/me").2, "alice");
    let request = http::Request::builder()
        .uri("/api/me")
        .header("x-deny", "1")
        .body(Body::empty())
        .unwrap();
    let waker = Waker::from(Arc::new(Noop));
    let Poll::Ready(Ok(response)) =
        std::pin::pin!(router.handle(request)).poll(&mut Context::from_waker(&waker))
    else {
        panic!("ready");
    };
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[test]
fn a_failure_that_is_not_an_http_error_is_500() {
    let router = Router::new().get("/broken", |_request: Request| {
        Reply::failed(torsion::Failure::msg("database down"))
    });
    let (status, _, body) = call(&router, Method::GET, "/broken");
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!body.contains("database"), "no details leak: {body}");
}

#[test]
#[should_panic(expected = "route GET /a added twice")]
fn a_route_added_twice_is_a_mistake() {
    let _ = Router::new().get("/a", says("1")).get("/a", says("2"));
}

#[test]
#[should_panic(expected = "bad route pattern \"/a/{b\"")]
fn a_malformed_pattern_is_a_mistake() {
    let _ = Router::new().get("/a/{b", says("1"));
}
