//! How a zone answers a question: RFC 1034 section 4.3.2's algorithm for
//! the authoritative part (no wildcards, no recursion).
//!
//! ```text
//!   qname below a delegation (NS below the apex)  -> referral: NS in authority, glue
//!   qname owns records of qtype                    -> answer
//!   qname owns a CNAME (qtype not CNAME)           -> CNAME in answer, go on with its target
//!   qname exists without qtype                     -> NODATA: SOA in authority
//!   qname does not exist                           -> NXDOMAIN: SOA in authority
//! ```
//!
//! A CNAME chain is followed while its targets stay in the zone, for at
//! most [`MAX_CHAIN`] links; the response code is the last name's (RFC
//! 6604), so a CNAME to a missing name is NXDOMAIN with the CNAME in the
//! answer. The SOA sent with a negative answer has the TTL RFC 2308 asks
//! for: the smaller of its own and its `minimum` field.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};

use super::Zone;

/// The longest CNAME chain followed inside the zone.
pub const MAX_CHAIN: usize = 16;

/// A zone's answer to one question: the sections of the response.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answer {
    /// NOERROR, NXDOMAIN, or REFUSED for a name outside the zone.
    pub code: ResponseCode,
    /// Whether the zone is the authority for the answer (false for a
    /// referral or a refusal).
    pub authoritative: bool,
    /// The answer section.
    pub answers: Vec<Record>,
    /// The authority section: the SOA of a negative answer, the NS of a
    /// referral.
    pub authorities: Vec<Record>,
    /// The additional section: addresses of the MX and NS targets the zone
    /// has.
    pub additionals: Vec<Record>,
}

impl Answer {
    /// The answer to a name the zone is not the authority for.
    pub fn refused() -> Answer {
        Answer {
            code: ResponseCode::Refused,
            ..Answer::default()
        }
    }
}

impl Zone {
    /// The answer to `name`, type `record_type` ([`RecordType::ANY`] for
    /// every type). A name outside the zone is [`Answer::refused`].
    pub fn lookup(&self, name: &Name, record_type: RecordType) -> Answer {
        if !self.contains(name) {
            return Answer::refused();
        }
        let mut answer = Answer {
            code: ResponseCode::NoError,
            authoritative: true,
            ..Answer::default()
        };
        let mut current = LowerName::new(name);
        let mut seen = Vec::new();
        for _ in 0..MAX_CHAIN {
            if !self.apex.zone_of(&current) || seen.contains(&current) {
                break;
            }
            if let Some(cut) = self.delegation(&current) {
                if seen.is_empty() {
                    self.refer(&cut, &mut answer);
                }
                break;
            }
            seen.push(current.clone());
            let node = self.nodes.get(&current).map(Vec::as_slice).unwrap_or(&[]);
            let matching: Vec<&Record> = node
                .iter()
                .filter(|r| record_type == RecordType::ANY || r.record_type() == record_type)
                .collect();
            // The question's own name is answered in the question's case,
            // as the 0x20 trick of resolvers expects (and BIND does).
            let first = seen.len() == 1;
            let owned = |record: &Record| {
                let mut record = record.clone();
                if first {
                    record.name = name.clone();
                    record.name.set_fqdn(true);
                }
                record
            };
            if !matching.is_empty() {
                answer.answers.extend(matching.into_iter().map(owned));
                break;
            }
            let cname = node.iter().find_map(|r| match &r.data {
                RData::CNAME(target) => Some((r, target.0.clone())),
                _ => None,
            });
            if let Some((record, target)) = cname {
                answer.answers.push(owned(record));
                current = LowerName::new(&target);
                continue;
            }
            if !self.exists(&current) {
                answer.code = ResponseCode::NXDomain;
            }
            answer.authorities.push(self.negative_soa());
            break;
        }
        self.add_additionals(&mut answer);
        answer
    }

    /// The closest zone cut above or at `name` and below the apex: a name
    /// that owns NS records.
    fn delegation(&self, name: &LowerName) -> Option<LowerName> {
        let mut cut = None;
        let mut walk = name.clone();
        while walk != self.apex && self.apex.zone_of(&walk) {
            let owns_ns = self
                .nodes
                .get(&walk)
                .is_some_and(|node| node.iter().any(|r| r.record_type() == RecordType::NS));
            if owns_ns {
                cut = Some(walk.clone());
            }
            walk = walk.base_name();
        }
        cut
    }

    /// A referral to the zone cut at `cut`: its NS records in authority,
    /// not authoritative.
    fn refer(&self, cut: &LowerName, answer: &mut Answer) {
        answer.authoritative = false;
        if let Some(node) = self.nodes.get(cut) {
            answer.authorities.extend(
                node.iter()
                    .filter(|r| r.record_type() == RecordType::NS)
                    .cloned(),
            );
        }
    }

    /// The SOA for a negative answer, with RFC 2308's TTL.
    fn negative_soa(&self) -> Record {
        let mut soa = self.soa.clone();
        if let RData::SOA(data) = &soa.data {
            soa.ttl = soa.ttl.min(data.minimum);
        }
        soa
    }

    /// The addresses the zone has for the MX exchanges and NS hosts of the
    /// answer and authority sections.
    fn add_additionals(&self, answer: &mut Answer) {
        let targets: Vec<Name> = answer
            .answers
            .iter()
            .chain(&answer.authorities)
            .filter_map(|record| match &record.data {
                RData::MX(mx) => Some(mx.exchange.clone()),
                RData::NS(ns) => Some(ns.0.clone()),
                _ => None,
            })
            .collect();
        for target in targets {
            for record_type in [RecordType::A, RecordType::AAAA] {
                for record in self.records(&target, record_type) {
                    if !answer.additionals.contains(record) && !answer.answers.contains(record) {
                        answer.additionals.push(record.clone());
                    }
                }
            }
        }
    }
}
