//! Refused requests: the answer the connection writes itself, and the
//! report to the resource.

use http::Version;
use http::header::{self, HeaderValue};

use super::super::encode::{self, Answering};
use crate::RejectedRequest;
use crate::server::http1_check::Refusal;
use crate::server::service::RequestService;

/// Reports a refused request to the resource.
pub(super) fn report(service: &RequestService, refusal: Refusal, answered: bool) {
    tracing::debug!(
        status = refusal.status.as_u16(),
        reason = refusal.reason,
        "refused an HTTP/1 request"
    );
    service.resource.rejected(&RejectedRequest {
        peer: service.info.peer.clone(),
        status: refusal.status,
        reason: refusal.reason,
        request_line: refusal.request_line,
        answered,
    });
}

/// Appends the response to a refused request: the status, why, and a
/// close. The head is written by the encoder, as any response's is.
pub(super) fn refusal_response(refusal: &Refusal, out: &mut Vec<u8>) {
    let status = refusal.status;
    let body = format!(
        "{} {}: {}\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        refusal.reason
    );
    let (mut parts, ()) = http::Response::new(()).into_parts();
    parts.status = status;
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    let facts = Answering {
        head_request: false,
        connect: false,
        version: Version::HTTP_11,
        keep_alive: false,
    };
    encode::encode_head((&parts).into(), Some(body.len() as u64), &facts, out);
    out.extend_from_slice(body.as_bytes());
}
