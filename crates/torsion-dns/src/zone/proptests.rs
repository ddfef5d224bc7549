//! The zone-file reader against a model: random zones written out in the
//! master-file forms RFC 1035 allows (relative, absolute and `@` owners,
//! blank owners, TTL and class in either order or left out, units on
//! TTLs, an SOA across lines in parentheses with comments, quoted
//! strings with escapes, names in any case) read back to exactly the
//! records written, with the RRset rules a zone has (one CNAME per name,
//! the last one; a record written twice kept once, with its first TTL, as
//! RFC 2136 compares records without their TTLs).
//! And any text at all is refused or read, never a panic.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, TXT};
use hickory_proto::rr::{LowerName, Name, RData, RecordType};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

use super::Zone;

/// Owners drawn from a small pool, so that names own several records.
const OWNERS: &[&str] = &["@", "www", "mail", "ns", "a.b", "x-1"];
/// Targets of CNAME, MX and NS, inside and outside the zone.
const TARGETS: &[&str] = &["www", "mail", "host.example.net."];

#[derive(Clone, Debug)]
enum Data {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Cname(usize),
    Mx(u16, usize),
    Ns(usize),
    Txt(Vec<String>),
}

#[derive(Clone, Debug)]
struct Line {
    owner: usize,
    ttl: Option<u32>,
    data: Data,
    /// How to write it: blank owner when possible, absolute owner, class
    /// first, upper-case owner, TTL with a unit.
    style: (bool, bool, bool, bool, bool),
}

fn data() -> impl Strategy<Value = Data> {
    let text = proptest::collection::vec(
        proptest::string::string_regex(r#"[a-z0-9 ;()"\\]{0,12}"#).unwrap(),
        1..3,
    );
    prop_oneof![
        any::<u32>().prop_map(|ip| Data::A(Ipv4Addr::from(ip))),
        any::<u128>().prop_map(|ip| Data::Aaaa(Ipv6Addr::from(ip))),
        (0..TARGETS.len()).prop_map(Data::Cname),
        (any::<u16>(), 0..TARGETS.len()).prop_map(|(p, t)| Data::Mx(p, t)),
        (0..TARGETS.len()).prop_map(Data::Ns),
        text.prop_map(Data::Txt),
    ]
}

fn line() -> impl Strategy<Value = Line> {
    (
        0..OWNERS.len(),
        proptest::option::of(0..=0x7fff_ffffu32),
        data(),
        any::<(bool, bool, bool, bool, bool)>(),
    )
        .prop_map(|(owner, ttl, data, style)| Line {
            owner,
            ttl,
            data,
            style,
        })
}

fn origin() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-z][a-z0-9-]{0,8}(\\.[a-z][a-z0-9]{0,5}){0,2}\\.test")
        .unwrap()
}

fn absolute(name: &str, origin: &str) -> Name {
    let text = match name {
        "@" => format!("{origin}."),
        n if n.ends_with('.') => n.to_owned(),
        n => format!("{n}.{origin}."),
    };
    Name::from_ascii(text).unwrap()
}

fn rdata(data: &Data, origin: &str) -> RData {
    let target = |t: &usize| absolute(TARGETS[*t], origin);
    match data {
        Data::A(ip) => RData::A(A(*ip)),
        Data::Aaaa(ip) => RData::AAAA(AAAA(*ip)),
        Data::Cname(t) => RData::CNAME(CNAME(target(t))),
        Data::Mx(p, t) => RData::MX(MX::new(*p, target(t))),
        Data::Ns(t) => RData::NS(NS(target(t))),
        Data::Txt(strings) => RData::TXT(TXT::new(strings.clone())),
    }
}

/// A TXT string in quotes, with `"` and `\` escaped.
fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn write_zone(origin: &str, lines: &[Line]) -> String {
    let mut text = format!(
        "$ORIGIN {origin}.\n$TTL 3600\n@ IN SOA ns hostmaster.{origin}. ( ; across lines\n  \
         2024 ; serial\n  7200 900\n  1209600 300 )\n"
    );
    let mut previous = Some(0);
    for line in lines {
        let (blank, absolute_owner, class_first, upper, unit) = line.style;
        let owner = OWNERS[line.owner];
        let owner_field = if blank && previous == Some(line.owner) {
            " ".to_owned()
        } else if absolute_owner {
            absolute(owner, origin).to_ascii()
        } else {
            owner.to_owned()
        };
        let owner_field = if upper {
            owner_field.to_uppercase()
        } else {
            owner_field
        };
        previous = Some(line.owner);
        let ttl = match line.ttl {
            Some(ttl) if unit && ttl % 60 == 0 && ttl > 0 => format!("{}m", ttl / 60),
            Some(ttl) => ttl.to_string(),
            None => String::new(),
        };
        let (first, second) = if class_first {
            ("IN", ttl.as_str())
        } else {
            (ttl.as_str(), "IN")
        };
        let target = |t: &usize| TARGETS[*t].to_owned();
        let record = match &line.data {
            Data::A(ip) => format!("A {ip}"),
            Data::Aaaa(ip) => format!("AAAA {ip}"),
            Data::Cname(t) => format!("CNAME {}", target(t)),
            Data::Mx(p, t) => format!("MX {p} {}", target(t)),
            Data::Ns(t) => format!("NS {}", target(t)),
            Data::Txt(strings) => {
                let strings: Vec<String> = strings.iter().map(|s| quoted(s)).collect();
                format!("TXT {}", strings.join(" "))
            }
        };
        writeln!(text, "{owner_field} {first} {second} {record} ; a comment").unwrap();
    }
    text
}

/// The records a zone of `lines` holds, by name, type and (but for a
/// CNAME, of which a name has one) data, with their TTLs.
fn model(origin: &str, lines: &[Line]) -> BTreeMap<(LowerName, RecordType, String), u32> {
    let mut records = BTreeMap::new();
    for line in lines {
        let name = LowerName::new(&absolute(OWNERS[line.owner], origin));
        let data = rdata(&line.data, origin);
        let key = match data.record_type() {
            RecordType::CNAME => String::new(),
            _ => data.to_string().to_lowercase(),
        };
        let ttl = line.ttl.unwrap_or(3600);
        match data.record_type() {
            RecordType::CNAME => {
                records.insert((name, data.record_type(), key), ttl);
            }
            _ => {
                records
                    .entry((name, data.record_type(), key))
                    .or_insert(ttl);
            }
        }
    }
    records
}

fn config() -> Config {
    Config {
        cases: 256,
        // A fixed seed: a failure in CI replays the same cases here.
        rng_seed: RngSeed::Fixed(0x7a0e),
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_written_zone_reads_back_to_its_records(
        origin in origin(),
        lines in proptest::collection::vec(line(), 0..24),
    ) {
        let text = write_zone(&origin, &lines);
        let zone = Zone::parse(&text, None)
            .map_err(|error| TestCaseError::fail(format!("{error}\n{text}")))?;
        prop_assert_eq!(zone.origin(), &absolute("@", &origin));
        let mut read = BTreeMap::new();
        for record in zone.iter().filter(|r| r.record_type() != RecordType::SOA) {
            let key = match record.record_type() {
                RecordType::CNAME => String::new(),
                _ => record.data.to_string().to_lowercase(),
            };
            read.insert(
                (LowerName::new(&record.name), record.record_type(), key),
                record.ttl,
            );
        }
        prop_assert_eq!(read, model(&origin, &lines), "{}", text);
    }

    #[test]
    fn any_text_is_read_or_refused_without_a_panic(
        text in proptest::string::string_regex(
            "(\\$ORIGIN a\\.test\\.\n|\\$TTL [0-9a-z]{0,3}\n|@|[ \t]+|[a-z.]{1,6}|[0-9]{1,4}|IN|SOA|A|MX|TXT|CNAME|\"[^\"]{0,4}\"?|[();\\\\]|\n){0,40}"
        ).unwrap(),
    ) {
        crate::fuzzing::zone_file(text.as_bytes());
    }
}
