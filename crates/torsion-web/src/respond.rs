//! Small helpers to build responses and read request bodies: JSON (serde),
//! text, HTML, redirects, bare statuses, and a bounded body reader.
//!
//! ```
//! use http::StatusCode;
//! use torsion_web::respond::{ResponseExt, json, text};
//!
//! let created = json(&serde_json::json!({"id": 7})).with_status(StatusCode::CREATED);
//! assert_eq!(created.headers()["content-type"], "application/json");
//! assert_eq!(text("hi").headers()["content-type"], "text/plain; charset=utf-8");
//! ```

use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, LOCATION};
use http::{HeaderName, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Body, BodyError, HttpError, Request, Response};

/// How many body bytes [`request_json`] reads before answering 413.
pub const DEFAULT_BODY_LIMIT: u64 = 1024 * 1024;

/// `value` as JSON, with `content-type: application/json`. A value that
/// cannot be serialized (a map with non-string keys) is a 500, logged.
pub fn json<T: Serialize + ?Sized>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => with_type(Body::from(bytes), "application/json"),
        Err(error) => HttpError::internal(format!("serializing a JSON response failed: {error}"))
            .into_response(),
    }
}

/// Plain text, UTF-8.
pub fn text(body: impl Into<String>) -> Response {
    with_type(Body::from(body.into()), "text/plain; charset=utf-8")
}

/// An HTML page, UTF-8.
pub fn html(body: impl Into<String>) -> Response {
    with_type(Body::from(body.into()), "text/html; charset=utf-8")
}

/// A redirect to `location` with `status` (301, 302, 303, 307 or 308).
///
/// # Panics
///
/// If `status` is not a redirection (3xx) or `location` is not a valid
/// header value (it holds a newline): both are mistakes in the program.
pub fn redirect(status: StatusCode, location: &str) -> Response {
    assert!(status.is_redirection(), "{status} is not a redirect status");
    let location = HeaderValue::from_str(location)
        .unwrap_or_else(|_| panic!("{location:?} is not a valid Location header"));
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response.headers_mut().insert(LOCATION, location);
    response
}

/// An empty response with `status` (204 No Content, 202 Accepted, ...).
pub fn status(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

fn with_type(body: Body, content_type: &'static str) -> Response {
    let mut response = Response::new(body);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Chained adjustments of a built response.
pub trait ResponseExt {
    /// The same response with another status.
    fn with_status(self, status: StatusCode) -> Self;
    /// The same response with `name: value` set (replacing any value).
    fn with_header(self, name: HeaderName, value: HeaderValue) -> Self;
}

impl<B> ResponseExt for http::Response<B> {
    fn with_status(mut self, status: StatusCode) -> Self {
        *self.status_mut() = status;
        self
    }

    fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers_mut().insert(name, value);
        self
    }
}

/// Reads the request's JSON body into a `T`, at most
/// [`DEFAULT_BODY_LIMIT`] bytes of it.
///
/// Answers (as an [`HttpError`]) 415 when the content type is not JSON
/// (`application/json` or `application/<anything>+json`), 413 when the body
/// is too large, 400 when it is not valid JSON for `T` (the message says
/// where and why).
///
/// ```
/// use serde::Deserialize;
/// use torsion_web::respond::{json, request_json};
/// use torsion_web::{HttpError, Reply, Request};
///
/// #[derive(Deserialize, serde::Serialize)]
/// struct Greeting { name: String }
///
/// let handler = |request: Request| Reply::later(async move {
///     let greeting: Greeting = request_json(request).await?;
///     Ok::<_, HttpError>(json(&greeting))
/// });
/// # let _ = handler;
/// ```
pub async fn request_json<T: DeserializeOwned>(request: Request) -> Result<T, HttpError> {
    request_json_limited(request, DEFAULT_BODY_LIMIT).await
}

/// [`request_json`] with a body limit of `limit` bytes.
pub async fn request_json_limited<T: DeserializeOwned>(
    request: Request,
    limit: u64,
) -> Result<T, HttpError> {
    if !is_json(request.headers().get(CONTENT_TYPE)) {
        return Err(HttpError::unsupported_media_type(
            "expected a JSON body (content-type: application/json)",
        ));
    }
    let bytes = read_body(request, limit).await?;
    serde_json::from_slice(&bytes)
        .map_err(|error| HttpError::bad_request(format!("invalid JSON body: {error}")))
}

fn is_json(content_type: Option<&HeaderValue>) -> bool {
    let Some(essence) = content_type
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|essence| essence.trim().to_ascii_lowercase())
    else {
        return false;
    };
    essence == "application/json"
        || essence.starts_with("application/") && essence.ends_with("+json")
}

/// Reads the whole body of `request`, refusing with 413 past `limit`
/// bytes: at once when its `content-length` says so, else as soon as the
/// bytes read pass the limit. A connection that fails while the body
/// arrives is a 400.
pub async fn read_body(request: Request, limit: u64) -> Result<Bytes, HttpError> {
    let (parts, body) = request.into_parts();
    read_limited(&parts.headers, body, limit).await
}

/// [`read_body`] for a request already taken apart.
pub(crate) async fn read_limited(
    headers: &http::HeaderMap,
    mut body: Body,
    limit: u64,
) -> Result<Bytes, HttpError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(HttpError::payload_too_large(limit));
    }
    let mut bytes = BytesMut::new();
    while let Some(chunk) = body.chunk().await {
        let chunk = chunk.map_err(|error| match error {
            BodyError::TooLarge { limit } => HttpError::payload_too_large(limit),
            error if error.is_timeout() => {
                HttpError::new(StatusCode::REQUEST_TIMEOUT, error.to_string())
            }
            error => HttpError::bad_request(format!("reading the request body failed: {error}")),
        })?;
        if (bytes.len() + chunk.len()) as u64 > limit {
            return Err(HttpError::payload_too_large(limit));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types_are_recognised() {
        let value = |text: &'static str| HeaderValue::from_static(text);
        assert!(is_json(Some(&value("application/json"))));
        assert!(is_json(Some(&value("Application/JSON; charset=utf-8"))));
        assert!(is_json(Some(&value("application/problem+json"))));
        assert!(!is_json(Some(&value("text/plain"))));
        assert!(!is_json(Some(&value("application/jsonp"))));
        assert!(!is_json(None));
    }

    #[test]
    fn a_redirect_carries_its_location() {
        let response = redirect(StatusCode::SEE_OTHER, "/next?x=1");
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(response.headers()[LOCATION], "/next?x=1");
    }

    #[test]
    #[should_panic(expected = "not a redirect status")]
    fn a_redirect_with_a_success_status_is_a_mistake() {
        let _ = redirect(StatusCode::OK, "/");
    }

    #[test]
    fn html_and_status_helpers_set_what_they_say() {
        assert_eq!(
            html("<p>hi</p>").headers()[CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        let empty = status(StatusCode::NO_CONTENT);
        assert_eq!(empty.status(), StatusCode::NO_CONTENT);
        assert_eq!(empty.body().exact_len(), Some(0));
    }
}
