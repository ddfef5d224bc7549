//! [`CookieJar`]: the cookies a client keeps from one request to the next
//! (treq's `cookiejar`), stored and matched by RFC 6265's rules through the
//! `cookie_store` crate.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use cookie_store::CookieStore;
use http::HeaderMap;
use http::header::{HeaderValue, SET_COOKIE};

use crate::client::ClientError;

/// The cookies of a [`Client`](crate::client::Client): every response's
/// `Set-Cookie` goes in (redirects' too), and each request carries those
/// whose domain, path, `Secure` flag and expiry match its URL. A cookie
/// without `Domain` goes back only to the host that set it; `Max-Age` and
/// `Expires` are honoured (an expired cookie is removed).
///
/// Clones share the cookies: hand one jar to several clients with
/// [`ClientBuilder::cookie_jar`](crate::client::ClientBuilder::cookie_jar).
/// Public suffixes (`Domain=com`) are not checked against a list. As in
/// browsers, `http://` to a loopback address or `localhost` counts as
/// secure: `Secure` cookies are sent there.
///
/// ```
/// use torsion_web::client::CookieJar;
///
/// let jar = CookieJar::new();
/// jar.add("http://127.0.0.1/app/", "session=abc; Path=/app")?;
/// assert_eq!(
///     jar.cookies_for("http://127.0.0.1/app/page")?,
///     vec![("session".to_owned(), "abc".to_owned())]
/// );
/// assert!(jar.cookies_for("http://127.0.0.1/other")?.is_empty());
/// # Ok::<(), torsion_web::client::ClientError>(())
/// ```
#[derive(Clone, Default)]
pub struct CookieJar {
    store: Rc<RefCell<CookieStore>>,
}

impl CookieJar {
    /// An empty jar.
    pub fn new() -> CookieJar {
        CookieJar::default()
    }

    /// Keeps a cookie as if `url` had answered with `Set-Cookie:
    /// set_cookie`; fails if the cookie does not parse or `url` may not
    /// set it (another domain, say).
    pub fn add(&self, url: &str, set_cookie: &str) -> Result<(), ClientError> {
        let url = parse(url)?;
        self.store
            .borrow_mut()
            .parse(set_cookie, &url)
            .map(drop)
            .map_err(|error| ClientError::InvalidCookie(format!("{set_cookie:?}: {error}")))
    }

    /// The cookies (name, value) a request to `url` would carry now.
    /// The cookies (name, value) a request to `url` would carry now, in
    /// the order it would carry them.
    pub fn cookies_for(&self, url: &str) -> Result<Vec<(String, String)>, ClientError> {
        Ok(self.matching(&parse(url)?))
    }

    /// The cookies for `url`, the longer paths first (RFC 6265 5.4), then
    /// by name: the store keeps them unordered.
    fn matching(&self, url: &url::Url) -> Vec<(String, String)> {
        let store = self.store.borrow();
        let mut cookies = store.matches(url);
        cookies.sort_by(|a, b| {
            let path = |cookie: &cookie_store::Cookie<'_>| cookie.path.as_ref().len();
            path(b).cmp(&path(a)).then_with(|| a.name().cmp(b.name()))
        });
        cookies
            .into_iter()
            .map(|cookie| (cookie.name().to_owned(), cookie.value().to_owned()))
            .collect()
    }

    /// How many unexpired cookies the jar holds, for any URL.
    pub fn len(&self) -> usize {
        self.store.borrow().iter_unexpired().count()
    }

    /// True when the jar holds no unexpired cookie.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every cookie.
    pub fn clear(&self) {
        self.store.borrow_mut().clear();
    }

    /// Keeps the cookies `url` set with these response headers; those that
    /// do not parse or that `url` may not set are ignored, as browsers do.
    pub(crate) fn store_from(&self, url: &url::Url, headers: &HeaderMap) {
        let mut store = self.store.borrow_mut();
        for value in headers.get_all(SET_COOKIE) {
            let Ok(value) = value.to_str() else {
                continue;
            };
            if let Err(error) = store.parse(value, url) {
                tracing::debug!(%url, %error, "a Set-Cookie was not kept");
            }
        }
    }

    /// The `Cookie` header for a request to `url`, if a cookie matches.
    pub(crate) fn header_for(&self, url: &url::Url) -> Option<HeaderValue> {
        let pairs: Vec<String> = self
            .matching(url)
            .into_iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        if pairs.is_empty() {
            return None;
        }
        HeaderValue::from_str(&pairs.join("; ")).ok()
    }
}

fn parse(url: &str) -> Result<url::Url, ClientError> {
    url::Url::parse(url).map_err(|error| ClientError::InvalidUrl {
        url: url.to_owned(),
        reason: error.to_string(),
    })
}

impl fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values stay out of logs: they are often credentials.
        let store = self.store.borrow();
        let names: Vec<&str> = store.iter_unexpired().map(|cookie| cookie.name()).collect();
        f.debug_struct("CookieJar").field("names", &names).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> url::Url {
        url::Url::parse(text).unwrap()
    }

    #[test]
    fn path_secure_and_host_only_cookies_match_as_rfc_6265_says() {
        let jar = CookieJar::new();
        let mut headers = HeaderMap::new();
        for value in [
            "a=1",
            "b=2; Path=/app",
            "c=3; Secure",
            "d=4; Max-Age=0",
            "not a cookie",
        ] {
            headers.append(SET_COOKIE, HeaderValue::from_static(value));
        }
        // Set from /x: the default path of a cookie without Path is /.
        jar.store_from(&url("http://example.test/x"), &headers);
        let header = |target: &str| {
            jar.header_for(&url(target))
                .map(|value| value.to_str().unwrap().to_owned())
        };
        assert_eq!(
            header("http://example.test/app/y").as_deref(),
            Some("b=2; a=1")
        );
        assert_eq!(header("http://example.test/").as_deref(), Some("a=1"));
        assert_eq!(
            header("https://example.test/").as_deref(),
            Some("a=1; c=3"),
            "a Secure cookie goes only over https"
        );
        assert_eq!(header("http://sub.example.test/"), None, "host-only");
        assert_eq!(header("http://other.test/"), None);
        assert_eq!(jar.len(), 3);
        let shared = jar.clone();
        shared.clear();
        assert!(jar.is_empty(), "clones share the cookies");
    }

    #[test]
    fn a_cookie_for_another_domain_is_refused() {
        let jar = CookieJar::new();
        let error = jar
            .add("http://example.test/", "a=1; Domain=other.test")
            .unwrap_err();
        assert!(matches!(error, ClientError::InvalidCookie(_)), "{error}");
        assert!(jar.add("not a url", "a=1").is_err());
        jar.add("http://example.test/", "a=1; Domain=example.test")
            .unwrap();
        assert_eq!(
            jar.cookies_for("http://www.example.test/").unwrap(),
            vec![("a".to_owned(), "1".to_owned())]
        );
    }
}
