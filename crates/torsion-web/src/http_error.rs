//! [`HttpError`]: an error that already knows its HTTP answer.
//!
//! Handlers under a [`Router`](crate::Router) return `Result<Response,
//! HttpError>` (or fail a Deferred or future with one) and the router turns
//! the error into its response: a bad path parameter is a 400, a body of
//! the wrong type a 415, a body too large a 413. Any other failure is a 500,
//! logged, with no details sent to the client.

use http::StatusCode;

use crate::{Body, Response};

/// An error with the status and message the client should see.
///
/// ```
/// use http::StatusCode;
/// use torsion_web::HttpError;
///
/// let error = HttpError::bad_request("`id` must be a number");
/// assert_eq!(error.status(), StatusCode::BAD_REQUEST);
/// let response = error.into_response();
/// assert_eq!(response.status(), StatusCode::BAD_REQUEST);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct HttpError {
    status: StatusCode,
    message: String,
}

impl HttpError {
    /// An error answered with `status` and `message` (sent as plain text).
    pub fn new(status: StatusCode, message: impl Into<String>) -> HttpError {
        HttpError {
            status,
            message: message.into(),
        }
    }

    /// 400 Bad Request: the request itself is wrong.
    pub fn bad_request(message: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404 Not Found.
    pub fn not_found(message: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::NOT_FOUND, message)
    }

    /// 413 Payload Too Large: the body passed `limit` bytes.
    pub fn payload_too_large(limit: u64) -> HttpError {
        HttpError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than the limit of {limit} bytes"),
        )
    }

    /// 415 Unsupported Media Type.
    pub fn unsupported_media_type(message: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, message)
    }

    /// 500 Internal Server Error, for a mistake in the application (a
    /// parameter name that no route defines, state never set). The message
    /// is logged; the client sees only the status.
    pub fn internal(message: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// The status the client gets.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The explanation.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The response: the status and, for client errors, the message as
    /// plain text. Server errors are logged here and sent without details.
    pub fn into_response(self) -> Response {
        let text = if self.status.is_server_error() {
            tracing::error!(status = %self.status, message = %self.message, "answering an error");
            format!("{}\n", self.status)
        } else {
            format!("{}\n", self.message)
        };
        let mut response = crate::respond::text(text);
        *response.status_mut() = self.status;
        response
    }
}

impl From<HttpError> for Response {
    fn from(error: HttpError) -> Response {
        error.into_response()
    }
}

/// The status a failed reply is answered with (see [`failure_response`];
/// the server answers a body over its limit 413 before that).
pub(crate) fn failure_status(failure: &torsion::Failure) -> StatusCode {
    match failure.find::<crate::BodyError>() {
        Some(crate::BodyError::TooLarge { .. }) => return StatusCode::PAYLOAD_TOO_LARGE,
        Some(error) if error.is_malformed() => return StatusCode::BAD_REQUEST,
        _ => {}
    }
    failure
        .find::<HttpError>()
        .map_or(StatusCode::INTERNAL_SERVER_ERROR, HttpError::status)
}

/// The response for a failed reply: the [`HttpError`] anywhere in the
/// failure's chain, 400 for a malformed request body, else a logged 500.
pub(crate) fn failure_response(failure: torsion::Failure) -> Response {
    if failure
        .find::<crate::BodyError>()
        .is_some_and(crate::BodyError::is_malformed)
    {
        let mut response = Response::new(Body::from("400 Bad Request: malformed request body\n"));
        *response.status_mut() = StatusCode::BAD_REQUEST;
        return response;
    }
    match failure.find::<HttpError>() {
        Some(error) => error.clone().into_response(),
        None => {
            tracing::error!(%failure, "a handler failed; answering 500");
            let mut response = Response::new(Body::from("500 Internal Server Error\n"));
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            response
        }
    }
}
