//! From a request's bytes to a response's bytes, the same for UDP and TCP
//! but for the size limit: what the server does with each message.
//!
//! ```text
//!   shorter than a header, or a response (QR set)   -> dropped
//!   header readable, the rest not                   -> FORMERR (same id, no question)
//!   opcode other than QUERY                         -> NOTIMP
//!   not exactly one question                        -> FORMERR
//!   EDNS version above 0                            -> BADVERS
//!   class not IN, or a zone transfer (AXFR, IXFR)   -> REFUSED
//!   a name in no zone                               -> REFUSED
//!   otherwise                                       -> the zone's answer (AA)
//! ```
//!
//! Over UDP a response longer than the client can take (512 bytes, or its
//! EDNS payload size up to [`MAX_UDP_PAYLOAD`]) is sent as its header and
//! question with TC set (its header alone if even the questions do not
//! fit), and the client asks again over TCP.

use hickory_proto::op::{Edns, Header, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use crate::Zone;

/// The largest UDP response sent, whatever a client's EDNS offers: the
/// size that avoids IP fragmentation on common paths (DNS flag day 2020).
pub const MAX_UDP_PAYLOAD: u16 = 1232;

/// The size of a UDP response without EDNS (RFC 1035).
pub const CLASSIC_UDP_PAYLOAD: u16 = 512;

/// Which transport a request came over: it decides how long a response
/// may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportKind {
    /// A datagram: truncated past 512 bytes, or the client's EDNS size.
    Udp,
    /// A TCP stream: up to 65535 bytes.
    Tcp,
}

/// The response to `request`, encoded, or `None` when it is to be dropped.
pub fn respond(zones: &[Zone], request: &[u8], transport: TransportKind) -> Option<Vec<u8>> {
    let header = Header::read(&mut BinDecoder::new(request)).ok()?;
    if header.metadata.message_type == MessageType::Response {
        // Answering a response could start a loop between two servers.
        return None;
    }
    let Ok(message) = Message::from_vec(request) else {
        let mut formerr = Message::error_msg(
            header.metadata.id,
            header.metadata.op_code,
            ResponseCode::FormErr,
        );
        formerr.metadata.recursion_desired = header.metadata.recursion_desired;
        return formerr.to_vec().ok();
    };
    let (response, limit) = answer(zones, &message, transport);
    encode(response, limit)
}

/// The response to a decoded request, and the longest it may be.
fn answer(zones: &[Zone], request: &Message, transport: TransportKind) -> (Message, usize) {
    let mut response = Message::response(request.metadata.id, request.metadata.op_code);
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    response.add_queries(request.queries.iter().cloned());
    let mut limit = match transport {
        TransportKind::Udp => usize::from(CLASSIC_UDP_PAYLOAD),
        TransportKind::Tcp => usize::from(u16::MAX),
    };
    if let Some(edns) = &request.edns {
        let mut ours = Edns::new();
        ours.set_max_payload(MAX_UDP_PAYLOAD);
        response.set_edns(ours);
        if transport == TransportKind::Udp {
            limit = usize::from(
                edns.max_payload()
                    .clamp(CLASSIC_UDP_PAYLOAD, MAX_UDP_PAYLOAD),
            );
        }
        if edns.version() > 0 {
            response.metadata.response_code = ResponseCode::BADVERS;
            return (response, limit);
        }
    }
    if request.metadata.op_code != OpCode::Query {
        response.metadata.response_code = ResponseCode::NotImp;
        return (response, limit);
    }
    let [query] = request.queries.as_slice() else {
        response.metadata.response_code = ResponseCode::FormErr;
        return (response, limit);
    };
    let transfer = matches!(query.query_type, RecordType::AXFR | RecordType::IXFR);
    if transfer || query.query_class != DNSClass::IN {
        response.metadata.response_code = ResponseCode::Refused;
        return (response, limit);
    }
    let Some(zone) = zones
        .iter()
        .filter(|zone| zone.contains(&query.name))
        .max_by_key(|zone| zone.origin().num_labels())
    else {
        response.metadata.response_code = ResponseCode::Refused;
        return (response, limit);
    };
    let found = zone.lookup(&query.name, query.query_type);
    response.metadata.response_code = found.code;
    response.metadata.authoritative = found.authoritative;
    response.answers = found.answers;
    response.authorities = found.authorities;
    response.additionals = found.additionals;
    (response, limit)
}

/// Encodes `response`; past `limit` bytes, only its header and question,
/// with TC set, or its header alone when even the questions do not fit (a
/// request may carry many, all echoed in its FORMERR).
fn encode(response: Message, limit: usize) -> Option<Vec<u8>> {
    let whole = response.to_vec().ok()?;
    if whole.len() <= limit {
        return Some(whole);
    }
    let mut truncated = response.truncate();
    let bytes = truncated.to_vec().ok()?;
    if bytes.len() <= limit {
        return Some(bytes);
    }
    truncated.queries.clear();
    truncated.to_vec().ok()
}

#[cfg(test)]
mod tests;
