//! Refused requests: the answer the connection writes itself, and the
//! report to the resource.

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

/// The response to a refused request: the status, why, and a close.
pub(super) fn refusal_response(refusal: &Refusal) -> Vec<u8> {
    let status = refusal.status;
    let body = format!(
        "{} {}: {}\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        refusal.reason
    );
    format!(
        "HTTP/1.1 {} {}\r\ndate: {}\r\ncontent-type: text/plain; charset=utf-8\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        httpdate::fmt_http_date(std::time::SystemTime::now()),
        body.len(),
    )
    .into_bytes()
}
