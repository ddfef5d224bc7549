//! What the client keeps across requests and redirects: cookies (set by a
//! torsion-web server and by Python's http.server, sent back by RFC 6265's
//! rules) and the redirect history on the final response.

mod support;

use std::time::Duration;

use serde_json::Value;
use torsion::time::defer_later;
use torsion::{Failure, Reactor};
use torsion_web::client::{Client, ClientError, CookieJar};
use torsion_web::http::{HeaderValue, StatusCode};
use torsion_web::{Body, Reply, Request, Response};

use support::{PythonPeer, echo, redirect, run, serve_local};

const LIMIT: Duration = Duration::from_secs(20);

/// `/set?c=...&c=...` answers with a `Set-Cookie` per `c`; `/login` sets
/// a session cookie on a 302 to `/app/home`; anything else is echoed.
fn cookie_server(request: Request) -> Reply {
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or("").to_owned();
    match path.as_str() {
        "/set" => {
            let mut response = Response::new(Body::from("set\n"));
            for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
                if name == "c" {
                    response
                        .headers_mut()
                        .append("set-cookie", HeaderValue::from_str(&value).unwrap());
                }
            }
            Reply::from(response)
        }
        "/login" => {
            let mut response = redirect(302, "/app/home");
            response.headers_mut().append(
                "set-cookie",
                HeaderValue::from_static("session=s3cret; Path=/; HttpOnly"),
            );
            Reply::from(response)
        }
        _ => echo(request),
    }
}

/// The Cookie header a request to `url` carried, as the echo server saw it.
async fn cookie_seen(client: &Client, url: &str) -> Result<String, Failure> {
    let seen: Value = client.get(url).fetch().await?.json()?;
    Ok(seen["headers"]["cookie"].as_str().unwrap_or("").to_owned())
}

async fn set(client: &Client, base: &str, cookies: &[&str]) -> Result<(), Failure> {
    let pairs: Vec<(&str, &str)> = cookies.iter().map(|cookie| ("c", *cookie)).collect();
    let response = client
        .get(&format!("{base}/set"))
        .query(&pairs)
        .fetch()
        .await?;
    assert_eq!(response.status(), StatusCode::OK);
    Ok(())
}

async fn sleep(reactor: &Reactor, duration: Duration) -> Result<(), Failure> {
    defer_later(reactor, duration, || Ok::<(), Failure>(())).await
}

#[test]
fn cookies_from_a_torsion_server_come_back_by_path_host_and_expiry() {
    run(LIMIT, |reactor| async move {
        let (base, _server) = serve_local(&reactor, cookie_server).await?;
        let client = Client::new(&reactor);
        set(
            &client,
            &base,
            &[
                "session=abc; Path=/",
                "app=1; Path=/app",
                "brief=x; Max-Age=1; Path=/",
                "ip=2; Domain=127.0.0.1; Path=/",
            ],
        )
        .await?;
        assert_eq!(
            cookie_seen(&client, &format!("{base}/app/page")).await?,
            "app=1; brief=x; ip=2; session=abc",
            "the longer path first, then by name"
        );
        assert_eq!(
            cookie_seen(&client, &format!("{base}/other")).await?,
            "brief=x; ip=2; session=abc",
            "Path=/app stays under /app"
        );

        // The same server under another host name: a host-only cookie is
        // not sent there.
        let by_name = base.replace("127.0.0.1", "localhost");
        assert_eq!(cookie_seen(&client, &format!("{by_name}/x")).await?, "");

        // Max-Age passes; Max-Age=0 and a past Expires delete.
        sleep(&reactor, Duration::from_millis(1500)).await?;
        set(
            &client,
            &base,
            &[
                "session=; Max-Age=0; Path=/",
                "ip=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Domain=127.0.0.1; Path=/",
            ],
        )
        .await?;
        assert_eq!(
            cookie_seen(&client, &format!("{base}/app/x")).await?,
            "app=1"
        );

        // A cookie for another domain is refused; the jar says what it has.
        set(&client, &base, &["evil=1; Domain=example.com; Path=/"]).await?;
        let jar = client.cookies().expect("a jar by default");
        assert_eq!(
            jar.cookies_for(&format!("{base}/app/"))?,
            vec![("app".to_owned(), "1".to_owned())]
        );
        assert_eq!(jar.len(), 1);
        Ok(())
    });
}

#[test]
fn a_cookie_set_on_a_redirect_goes_with_the_next_hop_and_the_callers_own_cookie_too() {
    run(LIMIT, |reactor| async move {
        let (base, _server) = serve_local(&reactor, cookie_server).await?;
        let client = Client::new(&reactor);
        let response = client
            .get(&format!("{base}/login"))
            .header("cookie", "theme=dark")
            .fetch()
            .await?;
        assert_eq!(response.url().path(), "/app/home");
        let seen: Value = response.json()?;
        assert_eq!(seen["headers"]["cookie"], "theme=dark; session=s3cret");
        assert_eq!(response.history().len(), 1);
        assert_eq!(response.history()[0].status(), StatusCode::FOUND);

        // Without a jar nothing is kept; a shared jar serves two clients.
        let forgetful = Client::builder().cookies(false).build(&reactor);
        assert!(forgetful.cookies().is_none());
        forgetful.get(&format!("{base}/login")).fetch().await?;
        assert_eq!(cookie_seen(&forgetful, &format!("{base}/")).await?, "");
        let jar = CookieJar::new();
        let first = Client::builder().cookie_jar(jar.clone()).build(&reactor);
        let second = Client::builder().cookie_jar(jar.clone()).build(&reactor);
        first.get(&format!("{base}/login")).fetch().await?;
        assert_eq!(
            cookie_seen(&second, &format!("{base}/")).await?,
            "session=s3cret"
        );
        let error = jar.add(&base, "x=1; Domain=example.com").unwrap_err();
        assert!(matches!(error, ClientError::InvalidCookie(_)), "{error}");
        Ok(())
    });
}

#[test]
fn cookies_from_python_http_server_come_back_to_it() {
    let peer = PythonPeer::start();
    let set_url = peer.url("/cookies/set");
    let seen_root = peer.url("/cookies/seen");
    let seen_deep = peer.url("/cookies/seen/deep/page");
    run(LIMIT, move |reactor| async move {
        let client = Client::new(&reactor);
        let seen = |url: String| {
            let client = client.clone();
            async move { Ok::<_, Failure>(client.get(&url).fetch().await?.text()) }
        };
        assert_eq!(seen(seen_root.clone()).await?, "");
        client
            .get(&set_url)
            .query(&[
                ("Set-Cookie", "user=ada; Path=/"),
                ("Set-Cookie", "deep=1; Path=/cookies/seen/deep"),
                ("Set-Cookie", "gone=1; Path=/; Max-Age=0"),
                ("Set-Cookie", "tls=1; Path=/; Secure"),
            ])
            .fetch()
            .await?;
        // Loopback counts as a secure context (as in browsers): the Secure
        // cookie goes there over plain http.
        assert_eq!(seen(seen_root.clone()).await?, "tls=1; user=ada");
        assert_eq!(seen(seen_deep.clone()).await?, "deep=1; tls=1; user=ada");
        client
            .get(&set_url)
            .query(&[("Set-Cookie", "user=grace; Path=/")])
            .fetch()
            .await?;
        assert_eq!(seen(seen_root).await?, "tls=1; user=grace", "replaced");
        Ok(())
    });
}

#[test]
fn the_final_response_lists_the_redirects_that_led_to_it() {
    let peer = PythonPeer::start();
    let start = peer.url("/hop/3");
    let direct = peer.url("/hop/0");
    run(LIMIT, move |reactor| async move {
        let client = Client::new(&reactor);
        let response = client.get(&start).send().await?;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.url().path(), "/hop/0");
        let hops: Vec<(u16, String, Option<String>)> = response
            .history()
            .iter()
            .map(|hop| {
                (
                    hop.status().as_u16(),
                    hop.url().path().to_owned(),
                    hop.location().map(str::to_owned),
                )
            })
            .collect();
        assert_eq!(
            hops,
            vec![
                (302, "/hop/3".to_owned(), Some("/hop/2".to_owned())),
                (302, "/hop/2".to_owned(), Some("/hop/1".to_owned())),
                (302, "/hop/1".to_owned(), Some("/hop/0".to_owned())),
            ]
        );
        assert_eq!(response.text().await?, "landed\n");

        let full = client.get(&start).fetch().await?;
        assert_eq!(full.history().len(), 3, "fetch keeps the history too");
        assert!(client.get(&direct).fetch().await?.history().is_empty());
        let unfollowed = client.get(&start).follow_redirects(false).fetch().await?;
        assert_eq!(unfollowed.status(), StatusCode::FOUND);
        assert!(unfollowed.history().is_empty());
        Ok(())
    });
}
