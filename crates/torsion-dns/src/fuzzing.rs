//! The server's and the zone parser's properties as functions of raw
//! bytes, for the fuzz targets under `fuzz/` and the property tests. Built
//! for tests and with the `fuzzing` feature only; not part of the API.

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use crate::Zone;
use crate::server::handler::{CLASSIC_UDP_PAYLOAD, MAX_UDP_PAYLOAD, TransportKind, respond};

/// The zone the packet property is answered from: every record type the
/// server is tested with, a CNAME chain and loop, a delegation, and a
/// name with more records than a UDP answer holds.
pub const TEST_ZONE: &str = include_str!("../tests/data/example.test.zone");

thread_local! {
    static ZONES: Vec<Zone> = vec![Zone::parse(TEST_ZONE, None).expect("the test zone loads")];
}

/// Any bytes as a request, over UDP and over TCP: the server never
/// panics; what it sends back decodes, is a response with the request's
/// id, and fits the transport (512 bytes over UDP unless the request
/// offered more with EDNS, never more than 1232); a request it drops is
/// shorter than a header or a response itself.
pub fn packet(data: &[u8]) {
    ZONES.with(|zones| {
        for transport in [TransportKind::Udp, TransportKind::Tcp] {
            let response = respond(zones, data, transport);
            let header = hickory_proto::op::Header::read(&mut BinDecoder::new(data)).ok();
            let (Some(header), Some(response)) = (header, &response) else {
                assert!(
                    header.is_none_or(|h| h.metadata.message_type == MessageType::Response),
                    "a query was dropped"
                );
                continue;
            };
            let answer = Message::from_vec(response).expect("the response decodes");
            assert_eq!(answer.metadata.id, header.metadata.id);
            assert_eq!(answer.metadata.message_type, MessageType::Response);
            if transport == TransportKind::Udp {
                let offered = Message::from_vec(data)
                    .ok()
                    .and_then(|request| request.edns.map(|edns| edns.max_payload()))
                    .unwrap_or(CLASSIC_UDP_PAYLOAD);
                let limit = offered.clamp(CLASSIC_UDP_PAYLOAD, MAX_UDP_PAYLOAD);
                assert!(
                    response.len() <= usize::from(limit),
                    "{} bytes",
                    response.len()
                );
            }
            if Message::from_vec(data).is_err() {
                assert_eq!(answer.metadata.response_code, ResponseCode::FormErr);
            }
        }
    });
}

/// Any bytes as a zone file: parsing never panics, and a zone that loads
/// finds each of its records again by name and type, and answers
/// every name of it without panicking.
pub fn zone_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(zone) = Zone::parse(text, None) else {
        return;
    };
    for record in zone.iter() {
        assert!(zone.contains(&record.name), "{record} outside the zone");
        let found = zone.records(&record.name, record.record_type());
        assert!(found.contains(&record), "{record} not found again");
        let _ = zone.lookup(&record.name, record.record_type());
    }
}

/// Runs the properties on every input committed under `fuzz/corpus`: the
/// seeds, and each crash a fuzzer found, kept there once fixed.
#[cfg(test)]
mod tests {
    use torsion::testing::replay_corpus;

    #[test]
    fn every_committed_packet_input_holds_its_property() {
        assert!(
            replay_corpus(
                concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/dns_packet"),
                super::packet
            ) >= 5
        );
    }

    #[test]
    fn every_committed_zone_input_holds_its_property() {
        assert!(
            replay_corpus(
                concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/dns_zone"),
                super::zone_file
            ) >= 3
        );
    }
}
