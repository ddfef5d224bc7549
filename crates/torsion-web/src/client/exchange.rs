//! One request's way to its response: a connection from the pool, the
//! exchange on it, and the redirects that follow.

use std::time::Duration;

use bytes::Bytes;
use http::header::{
    ACCEPT_ENCODING, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HOST, HeaderValue,
    LOCATION, PROXY_AUTHORIZATION, TRANSFER_ENCODING, USER_AGENT,
};
use http::{HeaderMap, Method, StatusCode};
use hyper::body::Incoming;
use torsion::Failure;

use crate::Body;
use crate::client::pool::{Origin, Sender, Ticket};
use crate::client::response::{BodySettings, Deadline, Redirected, before};
use crate::client::{Client, ClientError, ClientResponse, CookieJar};

/// At most this much of a redirect's own body is read so that its
/// connection can be reused; a longer one closes the connection instead.
const REDIRECT_BODY_LIMIT: usize = 64 * 1024;

/// A request's body: bytes can be sent again (after a 307 or 308, or on a
/// fresh connection when a pooled one turned out closed), a stream once.
pub(crate) enum RequestBody {
    Empty,
    Bytes(Bytes),
    Stream(Body),
    /// A stream that went out with an earlier attempt.
    Spent,
}

impl RequestBody {
    fn is_replayable(&self) -> bool {
        matches!(self, RequestBody::Empty | RequestBody::Bytes(_))
    }

    /// The body for one attempt; a stream is handed over (and spent
    /// afterwards).
    fn take_for_attempt(&mut self) -> Body {
        match self {
            RequestBody::Empty | RequestBody::Spent => Body::empty(),
            RequestBody::Bytes(bytes) => Body::from(bytes.clone()),
            RequestBody::Stream(_) => match std::mem::replace(self, RequestBody::Spent) {
                RequestBody::Stream(body) => body,
                _ => unreachable!("matched as a stream above"),
            },
        }
    }
}

/// A request ready to go.
pub(crate) struct Outgoing {
    pub(crate) method: Method,
    pub(crate) url: url::Url,
    pub(crate) headers: HeaderMap,
    pub(crate) body: RequestBody,
    /// `None`: redirects are returned, not followed.
    pub(crate) max_redirects: Option<usize>,
    pub(crate) deadline: Option<Deadline>,
    /// Where the cookies come from and go to, if anywhere.
    pub(crate) cookies: Option<CookieJar>,
    pub(crate) body_settings: BodySettings,
}

/// Sends `outgoing` and follows its redirects.
pub(crate) async fn exchange(
    client: Client,
    mut outgoing: Outgoing,
) -> Result<ClientResponse, Failure> {
    let mut history = Vec::new();
    loop {
        let origin = Origin::of(&outgoing.url)?;
        let (response, ticket) = send_once(&client, &origin, &mut outgoing).await?;
        if let Some(jar) = &outgoing.cookies {
            jar.store_from(&outgoing.url, response.headers());
        }
        let next = match outgoing.max_redirects {
            Some(_) => redirect(response.status(), response.headers(), &outgoing)?,
            None => None,
        };
        let (Some(limit), Some(next)) = (outgoing.max_redirects, next) else {
            return Ok(ClientResponse::new(
                response,
                outgoing.url,
                outgoing.deadline,
                ticket,
                outgoing.body_settings,
                history,
            ));
        };
        if history.len() == limit {
            return Err(ClientError::TooManyRedirects {
                limit,
                url: next.url.to_string(),
            }
            .into());
        }
        tracing::debug!(from = %outgoing.url, to = %next.url, status = %response.status(), "following a redirect");
        let (parts, body) = response.into_parts();
        history.push(Redirected {
            status: parts.status,
            version: parts.version,
            headers: parts.headers,
            url: outgoing.url.clone(),
        });
        let body = Body::incoming(body, None);
        if drain(body, outgoing.deadline).await
            && let Some(ticket) = ticket
        {
            ticket.finished();
        }
        if Origin::of(&next.url).ok().as_ref() != Some(&origin) {
            // Credentials were meant for the first server only.
            for name in [AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE] {
                outgoing.headers.remove(name);
            }
        }
        if next.drop_body {
            outgoing.body = RequestBody::Empty;
            for name in [CONTENT_TYPE, CONTENT_LENGTH, TRANSFER_ENCODING] {
                outgoing.headers.remove(name);
            }
        }
        outgoing.method = next.method;
        outgoing.url = next.url;
    }
}

/// One exchange on one connection: a pooled one, or (if the pooled one
/// turns out closed before the request went out) a new one. An HTTP/1.1
/// connection comes with the ticket that frees it once the body is read.
async fn send_once(
    client: &Client,
    origin: &Origin,
    outgoing: &mut Outgoing,
) -> Result<(http::Response<Incoming>, Option<Ticket>), Failure> {
    let pool = client.pool();
    let settings = client.connect_settings();
    loop {
        let (sender, reused) = before(outgoing.deadline, pool.checkout(origin, settings)).await??;
        match sender {
            Sender::Http1(mut sender) => {
                if let Err(source) = before(outgoing.deadline, sender.ready()).await? {
                    if reused {
                        continue;
                    }
                    return Err(http_error(outgoing, source));
                }
                let request = build(outgoing, origin, false)?;
                match before(outgoing.deadline, sender.try_send_request(request)).await? {
                    Ok(response) => {
                        let ticket = pool.lend(origin.clone(), sender);
                        return Ok((response, Some(ticket)));
                    }
                    Err(mut error) => {
                        let Some(unsent) = error.take_message().filter(|_| reused) else {
                            return Err(http_error(outgoing, error.into_error()));
                        };
                        // Closed by the server while idle, before reading
                        // this request: send it again on a new connection.
                        tracing::debug!(%origin, "a pooled connection had closed; reconnecting");
                        if !outgoing.body.is_replayable() {
                            outgoing.body = RequestBody::Stream(unsent.into_body());
                        }
                    }
                }
            }
            Sender::Http2(mut sender) => {
                let response = before(outgoing.deadline, async {
                    sender.ready().await?;
                    let request = build(outgoing, origin, true).map_err(Failure::new)?;
                    sender
                        .send_request(request)
                        .await
                        .map_err(|source| http_error(outgoing, source))
                })
                .await?;
                return response.map(|response| (response, None));
            }
        }
    }
}

fn http_error(outgoing: &Outgoing, source: hyper::Error) -> Failure {
    ClientError::Http {
        url: outgoing.url.to_string(),
        source,
    }
    .into()
}

/// The hyper request for one attempt. HTTP/1.1 gets the path and a Host
/// header; HTTP/2 the whole URL, from which hyper takes `:authority`.
fn build(
    outgoing: &mut Outgoing,
    origin: &Origin,
    http2: bool,
) -> Result<http::Request<Body>, ClientError> {
    let url = &outgoing.url;
    let target = if http2 {
        url.as_str().to_owned()
    } else {
        let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
        if path.is_empty() {
            "/".to_owned()
        } else {
            path.to_owned()
        }
    };
    let mut request = http::Request::builder()
        .method(outgoing.method.clone())
        .uri(target.as_str())
        .body(outgoing.body.take_for_attempt())
        .map_err(|error| ClientError::InvalidUrl {
            url: url.to_string(),
            reason: error.to_string(),
        })?;
    let headers = request.headers_mut();
    for (name, value) in outgoing.headers.iter() {
        headers.append(name.clone(), value.clone());
    }
    if !http2 && !headers.contains_key(HOST) {
        let default_port = if origin.https { 443 } else { 80 };
        let host = match (url.host_str(), origin.port) {
            (Some(host), port) if port == default_port => host.to_owned(),
            (Some(host), port) => format!("{host}:{port}"),
            (None, _) => String::new(),
        };
        let value = HeaderValue::from_str(&host)
            .map_err(|error| ClientError::InvalidHeader(format!("Host {host:?}: {error}")))?;
        headers.insert(HOST, value);
    }
    if let Some(jar_cookies) = outgoing
        .cookies
        .as_ref()
        .and_then(|jar| jar.header_for(url))
    {
        // One Cookie header: the caller's own cookies, then the jar's.
        let value = match headers.get(COOKIE) {
            Some(own) => {
                let mut joined = own.as_bytes().to_vec();
                joined.extend_from_slice(b"; ");
                joined.extend_from_slice(jar_cookies.as_bytes());
                HeaderValue::from_bytes(&joined).unwrap_or(jar_cookies)
            }
            None => jar_cookies,
        };
        headers.insert(COOKIE, value);
    }
    if outgoing.body_settings.decode && !headers.contains_key(ACCEPT_ENCODING) {
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("gzip, deflate"));
    }
    if !headers.contains_key(USER_AGENT) {
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("torsion-web/", env!("CARGO_PKG_VERSION"))),
        );
    }
    Ok(request)
}

/// Where a redirect leads, and how to go there.
#[derive(Debug)]
struct Next {
    method: Method,
    url: url::Url,
    drop_body: bool,
}

/// The next request if `response` is a redirect to follow. 301, 302 and
/// 303 become a GET without body (a HEAD stays a HEAD); 307 and 308 keep
/// the method and the body, unless the body was a stream, which cannot be
/// sent twice: then the redirect itself is the answer.
fn redirect(
    status: StatusCode,
    headers: &HeaderMap,
    outgoing: &Outgoing,
) -> Result<Option<Next>, ClientError> {
    let keeps_method = match status {
        StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND | StatusCode::SEE_OTHER => false,
        StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT => true,
        _ => return Ok(None),
    };
    let Some(location) = headers.get(LOCATION) else {
        return Ok(None);
    };
    let bad = |reason: String| ClientError::BadRedirect {
        url: outgoing.url.to_string(),
        reason,
    };
    let location = location
        .to_str()
        .map_err(|_| bad("the Location header is not text".into()))?;
    let mut url = outgoing
        .url
        .join(location)
        .map_err(|error| bad(format!("Location {location:?}: {error}")))?;
    url.set_fragment(None);
    if keeps_method {
        if !outgoing.body.is_replayable() {
            return Ok(None);
        }
        return Ok(Some(Next {
            method: outgoing.method.clone(),
            url,
            drop_body: false,
        }));
    }
    let method = if outgoing.method == Method::HEAD {
        Method::HEAD
    } else {
        Method::GET
    };
    Ok(Some(Next {
        method,
        url,
        drop_body: true,
    }))
}

/// Reads a redirect's small body to its end so its connection can serve
/// the next request; gives up on a large or slow one. True if it read it
/// all.
async fn drain(mut body: Body, deadline: Option<Deadline>) -> bool {
    let short = Deadline::after(Some(Duration::from_secs(1)));
    let deadline = match (deadline, short) {
        (Some(a), Some(b)) if a.at < b.at => Some(a),
        (_, short) => short,
    };
    before(deadline, async {
        let mut read = 0;
        loop {
            match body.chunk().await {
                None => return true,
                Some(Ok(chunk)) => {
                    read += chunk.len();
                    if read > REDIRECT_BODY_LIMIT {
                        return false;
                    }
                }
                Some(Err(_)) => return false,
            }
        }
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outgoing(method: Method, body: RequestBody) -> Outgoing {
        Outgoing {
            method,
            url: url::Url::parse("http://example.test/a/b?x=1").unwrap(),
            headers: HeaderMap::new(),
            body,
            max_redirects: Some(10),
            deadline: None,
            cookies: None,
            body_settings: BodySettings {
                decode: true,
                limit: None,
            },
        }
    }

    fn location(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(LOCATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn see_other_family_turns_into_get_without_body_but_head_stays_head() {
        for status in [301, 302, 303] {
            let status = StatusCode::from_u16(status).unwrap();
            let post = outgoing(Method::POST, RequestBody::Bytes("b".into()));
            let next = redirect(status, &location("c"), &post).unwrap().unwrap();
            assert_eq!(next.method, Method::GET);
            assert!(next.drop_body);
            assert_eq!(next.url.as_str(), "http://example.test/a/c");
            let head = outgoing(Method::HEAD, RequestBody::Empty);
            let next = redirect(status, &location("/z"), &head).unwrap().unwrap();
            assert_eq!(next.method, Method::HEAD);
        }
    }

    #[test]
    fn temporary_and_permanent_redirects_keep_method_and_body_unless_streamed() {
        for status in [
            StatusCode::TEMPORARY_REDIRECT,
            StatusCode::PERMANENT_REDIRECT,
        ] {
            let put = outgoing(Method::PUT, RequestBody::Bytes("b".into()));
            let next = redirect(status, &location("https://other.test/#frag"), &put)
                .unwrap()
                .unwrap();
            assert_eq!(next.method, Method::PUT);
            assert!(!next.drop_body);
            assert_eq!(next.url.as_str(), "https://other.test/", "no fragment");
            let streamed = outgoing(Method::PUT, RequestBody::Stream(Body::empty()));
            assert!(
                redirect(status, &location("/x"), &streamed)
                    .unwrap()
                    .is_none()
            );
        }
    }

    #[test]
    fn other_statuses_and_a_missing_location_are_not_redirects() {
        let get = outgoing(Method::GET, RequestBody::Empty);
        assert!(
            redirect(StatusCode::OK, &location("/x"), &get)
                .unwrap()
                .is_none()
        );
        assert!(
            redirect(StatusCode::NOT_MODIFIED, &location("/x"), &get)
                .unwrap()
                .is_none()
        );
        assert!(
            redirect(StatusCode::FOUND, &HeaderMap::new(), &get)
                .unwrap()
                .is_none()
        );
        let error = redirect(StatusCode::FOUND, &location("http://[bad"), &get).unwrap_err();
        assert!(error.to_string().contains("bad redirect"), "{error}");
    }

    #[test]
    fn http1_requests_carry_the_path_and_a_host_with_a_non_default_port() {
        let mut get = outgoing(Method::GET, RequestBody::Empty);
        get.url = url::Url::parse("http://example.test:8080/p?q=1").unwrap();
        let origin = Origin::of(&get.url).unwrap();
        let request = build(&mut get, &origin, false).unwrap();
        assert_eq!(request.uri(), "/p?q=1");
        assert_eq!(request.headers()[HOST], "example.test:8080");
        let request = build(&mut get, &origin, true).unwrap();
        assert_eq!(request.uri(), "http://example.test:8080/p?q=1");
        assert!(request.headers().get(HOST).is_none());
    }

    #[test]
    fn decoding_offers_gzip_and_the_jar_adds_to_the_callers_cookie() {
        let mut get = outgoing(Method::GET, RequestBody::Empty);
        let origin = Origin::of(&get.url).unwrap();
        let request = build(&mut get, &origin, false).unwrap();
        assert_eq!(request.headers()[ACCEPT_ENCODING], "gzip, deflate");
        assert!(request.headers().get(COOKIE).is_none());

        let jar = CookieJar::new();
        jar.add("http://example.test/", "session=1").unwrap();
        get.cookies = Some(jar);
        get.body_settings.decode = false;
        get.headers
            .insert(COOKIE, HeaderValue::from_static("theme=dark"));
        let request = build(&mut get, &origin, false).unwrap();
        assert!(request.headers().get(ACCEPT_ENCODING).is_none());
        assert_eq!(request.headers()[COOKIE], "theme=dark; session=1");
        get.headers
            .insert(ACCEPT_ENCODING, HeaderValue::from_static("br"));
        get.body_settings.decode = true;
        let request = build(&mut get, &origin, false).unwrap();
        assert_eq!(request.headers()[ACCEPT_ENCODING], "br", "the caller's own");
    }
}
