//! A router served to real clients: curl and Python's requests.

mod support;

use std::cell::Cell;
use std::time::Duration;

use http::StatusCode;
use serde::{Deserialize, Serialize};
use torsion::time::defer_later;
use torsion::{Failure, Reactor};
use torsion_web::respond::{ResponseExt, json, request_json, text};
use torsion_web::{HttpError, Reply, Request, RequestExt, Response, Router};

use support::{curl, python_requests, serve_while};

#[derive(Debug, Deserialize, Serialize)]
struct Item {
    name: String,
    count: u32,
}

struct Visits(Cell<u32>);

fn app(reactor: &Reactor) -> Router {
    let api = Router::new()
        .post("/items", |request: Request| {
            Reply::later(async move {
                let item: Item = request_json(request).await?;
                Ok::<_, HttpError>(json(&item).with_status(StatusCode::CREATED))
            })
        })
        .get(
            "/items/{id:int}",
            |request: Request| -> Result<Response, HttpError> {
                let id: i64 = request.param("id")?;
                Ok(json(&serde_json::json!({ "id": id })))
            },
        );
    let r = reactor.clone();
    Router::with_state(Visits(Cell::new(0)))
        .get("/", |_request: Request| text("home\n"))
        .get(
            "/users/{id}",
            |request: Request| -> Result<Response, HttpError> {
                let id: u64 = request.param("id")?;
                Ok(text(format!("user {id}\n")))
            },
        )
        .get(
            "/files/{*path}",
            |request: Request| -> Result<Response, HttpError> {
                Ok(text(format!("file {}\n", request.param::<String>("path")?)))
            },
        )
        .get(
            "/visits",
            |request: Request| -> Result<Response, HttpError> {
                let visits = request.state::<Visits>()?;
                visits.0.set(visits.0.get() + 1);
                Ok(text(format!("{}\n", visits.0.get())))
            },
        )
        .get("/later", move |_request: Request| {
            defer_later(&r, Duration::from_millis(20), || {
                Ok::<_, Failure>(text("a Deferred answered\n"))
            })
        })
        .get("/docs/", |_request: Request| text("docs\n"))
        .mount("/api", api)
}

#[test]
fn curl_sees_parameters_methods_and_the_not_found_and_not_allowed_answers() {
    let reactor = Reactor::new().unwrap();
    let router = app(&reactor);
    serve_while(&reactor, router, |address| {
        let url = |path: &str| format!("http://{address}{path}");

        let home = curl(&[&url("/")]);
        assert_eq!((home.status, home.text().as_str()), (200, "home\n"));

        let user = curl(&[&url("/users/42")]);
        assert_eq!(user.text(), "user 42\n");
        let bad = curl(&[&url("/users/forty-two")]);
        assert_eq!(bad.status, 400);
        assert!(bad.text().contains("path parameter `id`"), "{}", bad.text());

        let file = curl(&[&url("/files/a%20dir/b.txt")]);
        assert_eq!(file.text(), "file a dir/b.txt\n");

        let missing = curl(&[&url("/nothing/here")]);
        assert_eq!(missing.status, 404);

        let wrong = curl(&["-X", "DELETE", &url("/users/1")]);
        assert_eq!(wrong.status, 405);
        assert_eq!(wrong.header("allow"), Some("GET, HEAD"));

        let head = curl(&["-I", &url("/users/7")]);
        assert_eq!(head.status, 200);
        assert_eq!(
            head.header("content-length"),
            Some("7"),
            "as GET would send"
        );
        assert_eq!(head.text(), "", "HEAD has no body");

        let redirected = curl(&[&url("/docs?x=1")]);
        assert_eq!(redirected.status, 308);
        assert_eq!(redirected.header("location"), Some("/docs/?x=1"));
        let followed = curl(&["-L", &url("/docs")]);
        assert_eq!((followed.status, followed.text().as_str()), (200, "docs\n"));

        let later = curl(&[&url("/later")]);
        assert_eq!(later.text(), "a Deferred answered\n");

        let counts: Vec<String> = (0..3).map(|_| curl(&[&url("/visits")]).text()).collect();
        assert_eq!(counts, ["1\n", "2\n", "3\n"], "state is shared by requests");
    });
}

#[test]
fn python_requests_posts_json_to_a_mounted_router() {
    let reactor = Reactor::new().unwrap();
    let router = app(&reactor);
    let report = serve_while(&reactor, router, |address| {
        python_requests(
            r#"
base = sys.argv[1]
out = {}
r = requests.post(base + "/api/items", json={"name": "bolt", "count": 3})
out["created"] = [r.status_code, r.headers["content-type"], r.json()]
r = requests.get(base + "/api/items/12")
out["item"] = [r.status_code, r.json()]
r = requests.get(base + "/api/items/twelve")
out["not_an_int"] = r.status_code
r = requests.post(base + "/api/items", data="{not json", headers={"content-type": "application/json"})
out["bad_json"] = [r.status_code, r.text]
r = requests.post(base + "/api/items", json={"name": "bolt"})
out["missing_field"] = [r.status_code, r.text]
r = requests.post(base + "/api/items", data="name=bolt")
out["form"] = r.status_code
r = requests.post(base + "/api/items", data=b"[" + b"1," * 600000 + b"1]", headers={"content-type": "application/json"})
out["too_large"] = r.status_code
r = requests.get(base + "/api/items")
out["get_on_post_only"] = [r.status_code, r.headers.get("allow")]
print(json.dumps(out))
"#,
            &[&format!("http://{address}")],
        )
    });
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(
        report["created"],
        serde_json::json!([201, "application/json", {"name": "bolt", "count": 3}])
    );
    assert_eq!(report["item"], serde_json::json!([200, {"id": 12}]));
    assert_eq!(report["not_an_int"], 404);
    assert_eq!(report["bad_json"][0], 400);
    assert!(
        report["bad_json"][1]
            .as_str()
            .unwrap()
            .contains("invalid JSON body")
    );
    assert_eq!(report["missing_field"][0], 400);
    assert!(
        report["missing_field"][1]
            .as_str()
            .unwrap()
            .contains("missing field `count`")
    );
    assert_eq!(report["form"], 415);
    assert_eq!(report["too_large"], 413);
    assert_eq!(report["get_on_post_only"], serde_json::json!([405, "POST"]));
}
