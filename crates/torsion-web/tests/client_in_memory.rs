//! The in-memory client (treq's `StubTreq`): a Router application tested
//! through the real client and server code with no socket. The host names
//! end in `.invalid`, which never resolves, so a request that tried the
//! network would fail.

mod support;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use serde_json::Value;
use torsion::Failure;
use torsion_web::client::{Client, ClientError, Multipart};
use torsion_web::http::{HeaderValue, StatusCode};
use torsion_web::respond::text;
use torsion_web::{
    BodyError, HttpError, Reply, Request, RequestExt, Response, Router, Server, ServerOptions,
};

use support::{redirect, run};

const LIMIT: Duration = Duration::from_secs(10);

/// A small application: log in (a cookie and a 303), see who you are,
/// upload a form, greet by name.
fn app(log: Rc<RefCell<Vec<String>>>) -> Router {
    let seen = log.clone();
    Router::new()
        .post("/login", |request: Request| -> Reply {
            Reply::later(async move {
                let form = request.into_body().text().await?;
                let user = form.strip_prefix("user=").unwrap_or("nobody").to_owned();
                let mut response = redirect(303, "/me");
                response.headers_mut().append(
                    "set-cookie",
                    HeaderValue::from_str(&format!("user={user}; Path=/; HttpOnly")).unwrap(),
                );
                Ok::<_, Failure>(response)
            })
        })
        .get("/me", move |request: Request| -> Response {
            let cookie = request
                .headers()
                .get("cookie")
                .and_then(|value| value.to_str().ok())
                .unwrap_or("")
                .to_owned();
            seen.borrow_mut().push(cookie.clone());
            match cookie.strip_prefix("user=") {
                Some(user) => text(format!("you are {user}")),
                None => text("who are you?"),
            }
        })
        .post("/upload", |request: Request| -> Reply {
            Reply::later(async move {
                let content_type = request.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .to_owned();
                let body = request.into_body().bytes().await?;
                Ok::<_, Failure>(text(format!("{content_type}\n{}", body.len())))
            })
        })
        .get(
            "/hello/{name}",
            |request: Request| -> Result<Response, HttpError> {
                let name: String = request.param("name")?;
                Ok(text(format!("hello, {name}")))
            },
        )
}

#[test]
fn a_router_app_is_tested_in_memory_with_cookies_redirects_and_uploads() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let routes = app(log.clone());
    run(LIMIT, move |reactor| async move {
        let client = Client::in_memory(&reactor, routes);
        assert_eq!(
            client
                .get("http://app.invalid/hello/ada")
                .fetch()
                .await?
                .text(),
            "hello, ada"
        );
        let anonymous = client.get("http://app.invalid/me").fetch().await?;
        assert_eq!(anonymous.text(), "who are you?");

        let me = client
            .post("http://app.invalid/login")
            .form(&[("user", "grace")])
            .fetch()
            .await?;
        assert_eq!(me.status(), StatusCode::OK);
        assert_eq!(me.text(), "you are grace");
        assert_eq!(me.url().as_str(), "http://app.invalid/me");
        assert_eq!(me.history().len(), 1);
        assert_eq!(me.history()[0].status(), StatusCode::SEE_OTHER);
        assert_eq!(
            client
                .cookies()
                .unwrap()
                .cookies_for("http://app.invalid/")?,
            vec![("user".to_owned(), "grace".to_owned())]
        );

        let uploaded = client
            .post("http://app.invalid/upload")
            .multipart(Multipart::new().file("f", "a.txt", "text/plain", "twelve bytes"))
            .fetch()
            .await?
            .text();
        let (content_type, length) = uploaded.split_once('\n').unwrap();
        assert!(content_type.starts_with("multipart/form-data; boundary="));
        let length: usize = length.parse().unwrap();
        assert!(length > 12 + 100, "{length}");

        let missing = client.get("http://app.invalid/nothing").fetch().await?;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        Ok(())
    });
    assert_eq!(*log.borrow(), ["", "user=grace"]);
}

#[test]
fn the_in_memory_server_keeps_its_options_and_the_client_its_limits() {
    let server = Server::new(|request: Request| -> Reply {
        Reply::later(async move {
            let body = request.into_body().bytes().await?;
            Ok::<_, Failure>(text("x".repeat(body.len())))
        })
    })
    .with_options(ServerOptions {
        max_body_size: Some(100),
        ..ServerOptions::default()
    });
    run(LIMIT, move |reactor| async move {
        let client = Client::builder()
            .in_memory_server(server)
            .max_body_size(50)
            .build(&reactor);
        let echoed = client
            .post("http://echo.invalid/")
            .bytes(vec![0; 40])
            .fetch()
            .await?;
        assert_eq!(echoed.bytes().len(), 40);
        let refused = client
            .post("http://echo.invalid/")
            .bytes(vec![0; 101])
            .fetch()
            .await?;
        assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let failure = client
            .post("http://echo.invalid/")
            .bytes(vec![0; 60])
            .fetch()
            .await
            .unwrap_err();
        assert!(
            matches!(
                failure.find::<ClientError>(),
                Some(ClientError::Body(BodyError::TooLarge { limit: 50 }))
            ),
            "{failure}"
        );
        Ok(())
    });
}

#[test]
fn a_json_app_answers_in_memory_over_https_urls_too() {
    let routes = Router::new().get("/data", |_request: Request| -> Response {
        support::json_response(StatusCode::OK, &serde_json::json!({"ok": true}))
    });
    run(LIMIT, move |reactor| async move {
        let client = Client::in_memory(&reactor, routes);
        let value: Value = client
            .get("https://api.invalid/data")
            .fetch()
            .await?
            .json()?;
        assert_eq!(value["ok"], true);
        Ok(())
    });
}
