use http::{Method, StatusCode};

use super::*;
use crate::Body;

fn request(method: Method, path: &str) -> Request {
    http::Request::builder()
        .method(method)
        .uri(path)
        .body(Body::empty())
        .unwrap()
}

fn respond(request: Request) -> crate::Response {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    let mut reply = LiveView.handle(request);
    match std::pin::Pin::new(&mut reply).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(response) => response.unwrap(),
        Poll::Pending => panic!("the live view answers at once"),
    }
}

#[test]
fn other_methods_are_refused_with_allow() {
    let response = respond(request(Method::POST, "/live.json"));
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "GET, HEAD");
}

#[test]
fn unknown_paths_are_not_found() {
    assert_eq!(
        respond(request(Method::GET, "/other")).status(),
        StatusCode::NOT_FOUND
    );
}

#[test]
fn the_page_is_html_with_the_interval_filled_in_and_never_cached() {
    let response = respond(request(Method::GET, "/"));
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert!(page().contains(&format!("const REFRESH_MS = {REFRESH_MS};")));
}

#[test]
fn the_document_of_a_reactor_with_a_timer_lists_it() {
    let reactor = Reactor::new().unwrap();
    let _call = reactor.call_later(std::time::Duration::from_secs(5), || {});
    let json = serde_json::to_value(LiveView::document(&reactor)).unwrap();
    assert_eq!(json["timers"]["pending"], 1);
    let next = json["timers"]["next_ms"][0].as_u64().unwrap();
    assert!((4_000..=5_000).contains(&next), "{next}");
    assert_eq!(json["bridge"], serde_json::Value::Null);
}
