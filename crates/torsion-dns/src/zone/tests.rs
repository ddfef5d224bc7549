//! Loading zones and answering from them, without sockets.

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, RecordType};

use super::*;
use crate::fuzzing::TEST_ZONE;

fn zone() -> Zone {
    Zone::parse(TEST_ZONE, None).unwrap()
}

fn name(text: &str) -> Name {
    Name::from_ascii(text).unwrap()
}

fn types(records: &[Record]) -> Vec<RecordType> {
    records.iter().map(Record::record_type).collect()
}

#[test]
fn the_test_zone_loads_with_its_origin_and_soa() {
    let zone = zone();
    assert_eq!(zone.origin(), &name("example.test."));
    let RData::SOA(soa) = &zone.soa().data else {
        panic!("not an SOA");
    };
    assert_eq!(soa.serial, 2024010101);
    assert_eq!(soa.minimum, 300);
    assert_eq!(
        zone.records(&name("www.example.test."), RecordType::A)[0].ttl,
        300
    );
    // $TTL applies where the record gives none.
    assert_eq!(
        zone.records(&name("mail.example.test."), RecordType::A)[0].ttl,
        3600
    );
}

#[test]
fn a_name_with_records_of_the_type_is_answered_authoritatively() {
    let answer = zone().lookup(&name("WWW.Example.Test."), RecordType::AAAA);
    assert_eq!(answer.code, ResponseCode::NoError);
    assert!(answer.authoritative);
    assert_eq!(answer.answers.len(), 1);
    assert_eq!(
        answer.answers[0].data,
        RData::AAAA("2001:db8::80".parse::<Ipv6Addr>().unwrap().into())
    );
    assert!(answer.authorities.is_empty());
}

#[test]
fn mx_answers_carry_the_exchanges_addresses_the_zone_has() {
    let answer = zone().lookup(&name("example.test."), RecordType::MX);
    assert_eq!(types(&answer.answers), [RecordType::MX, RecordType::MX]);
    // mail.example.test's A and AAAA; mail.example.net is not ours.
    assert_eq!(
        types(&answer.additionals),
        [RecordType::A, RecordType::AAAA]
    );
    assert!(
        answer
            .additionals
            .iter()
            .all(|r| r.name == name("mail.example.test."))
    );
}

#[test]
fn a_cname_chain_is_followed_inside_the_zone() {
    let answer = zone().lookup(&name("chain.example.test."), RecordType::A);
    assert_eq!(answer.code, ResponseCode::NoError);
    assert_eq!(
        types(&answer.answers),
        [RecordType::CNAME, RecordType::CNAME, RecordType::A]
    );
    assert_eq!(
        answer.answers[2].data,
        RData::A(Ipv4Addr::new(192, 0, 2, 80).into())
    );
}

#[test]
fn asking_for_the_cname_itself_does_not_follow_it() {
    let answer = zone().lookup(&name("chain.example.test."), RecordType::CNAME);
    assert_eq!(types(&answer.answers), [RecordType::CNAME]);
}

#[test]
fn a_cname_to_a_missing_name_is_nxdomain_with_the_cname() {
    let answer = zone().lookup(&name("dangling.example.test."), RecordType::A);
    assert_eq!(answer.code, ResponseCode::NXDomain);
    assert_eq!(types(&answer.answers), [RecordType::CNAME]);
    assert_eq!(types(&answer.authorities), [RecordType::SOA]);
}

#[test]
fn a_cname_leaving_the_zone_ends_the_chain_without_error() {
    let answer = zone().lookup(&name("outside.example.test."), RecordType::A);
    assert_eq!(answer.code, ResponseCode::NoError);
    assert_eq!(types(&answer.answers), [RecordType::CNAME]);
    assert!(answer.authorities.is_empty());
}

#[test]
fn a_cname_loop_ends_after_each_name_once() {
    let answer = zone().lookup(&name("loop1.example.test."), RecordType::A);
    assert_eq!(answer.code, ResponseCode::NoError);
    assert_eq!(
        types(&answer.answers),
        [RecordType::CNAME, RecordType::CNAME]
    );
}

#[test]
fn a_missing_name_is_nxdomain_with_the_soa_at_its_negative_ttl() {
    let answer = zone().lookup(&name("nowhere.example.test."), RecordType::A);
    assert_eq!(answer.code, ResponseCode::NXDomain);
    assert!(answer.authoritative);
    assert!(answer.answers.is_empty());
    assert_eq!(types(&answer.authorities), [RecordType::SOA]);
    // min(3600, minimum 300), RFC 2308.
    assert_eq!(answer.authorities[0].ttl, 300);
}

#[test]
fn a_name_without_the_type_is_nodata_with_the_soa() {
    let answer = zone().lookup(&name("txt.example.test."), RecordType::A);
    assert_eq!(answer.code, ResponseCode::NoError);
    assert!(answer.answers.is_empty());
    assert_eq!(types(&answer.authorities), [RecordType::SOA]);
}

#[test]
fn an_empty_non_terminal_exists() {
    let answer = zone().lookup(&name("empty.example.test."), RecordType::A);
    assert_eq!(answer.code, ResponseCode::NoError);
    assert_eq!(types(&answer.authorities), [RecordType::SOA]);
}

#[test]
fn a_name_below_a_delegation_is_referred_with_glue() {
    let answer = zone().lookup(&name("host.sub.example.test."), RecordType::A);
    assert_eq!(answer.code, ResponseCode::NoError);
    assert!(!answer.authoritative);
    assert!(answer.answers.is_empty());
    assert_eq!(types(&answer.authorities), [RecordType::NS]);
    assert_eq!(types(&answer.additionals), [RecordType::A]);
    assert_eq!(answer.additionals[0].name, name("ns.sub.example.test."));
}

#[test]
fn a_name_outside_the_zone_is_refused() {
    let answer = zone().lookup(&name("www.example.net."), RecordType::A);
    assert_eq!(answer, Answer::refused());
    assert!(!answer.authoritative);
}

#[test]
fn any_gives_every_record_of_the_name() {
    let answer = zone().lookup(&name("www.example.test."), RecordType::ANY);
    let mut found = types(&answer.answers);
    found.sort();
    assert_eq!(found, [RecordType::A, RecordType::AAAA]);
}

#[test]
fn a_zone_needs_one_soa_at_its_origin() {
    let none = Zone::parse("$ORIGIN a.test.\n@ 60 A 192.0.2.1\n", None).unwrap_err();
    assert!(none.to_string().contains("no SOA"), "{none}");
    let below = Zone::parse(
        "$ORIGIN a.test.\n@ 60 SOA ns h 1 2 3 4 5\nb 60 SOA ns h 1 2 3 4 5\n",
        None,
    )
    .unwrap_err();
    assert!(below.to_string().contains("not at a.test."), "{below}");
}

#[test]
fn a_record_outside_the_origin_is_refused() {
    let error = Zone::parse(
        "$ORIGIN a.test.\n@ 60 SOA ns h 1 2 3 4 5\nb.other.test. 60 A 192.0.2.1\n",
        None,
    )
    .unwrap_err();
    assert!(error.to_string().contains("outside a.test."), "{error}");
}

#[test]
fn the_origin_can_be_given_instead_of_written() {
    let zone = Zone::parse(
        "@ 60 SOA ns h 1 2 3 4 5\nwww 60 A 192.0.2.1\n",
        Some(name("b.test")),
    )
    .unwrap();
    assert_eq!(zone.origin(), &name("b.test."));
    assert_eq!(zone.records(&name("www.b.test."), RecordType::A).len(), 1);
}

#[test]
fn include_is_refused_in_text_and_read_relative_to_a_file() {
    let text = "$ORIGIN c.test.\n@ 60 SOA ns h 1 2 3 4 5\n$INCLUDE hosts.zone\n";
    let error = Zone::parse(text, None).unwrap_err();
    assert!(error.to_string().contains("$INCLUDE"), "{error}");

    let dir = std::env::temp_dir().join(format!("torsion-dns-include-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("c.test.zone"), text).unwrap();
    std::fs::write(dir.join("hosts.zone"), "www 60 A 192.0.2.7\n").unwrap();
    let zone = Zone::load(dir.join("c.test.zone"), None);
    std::fs::remove_dir_all(&dir).unwrap();
    let zone = zone.unwrap();
    assert_eq!(zone.records(&name("www.c.test."), RecordType::A).len(), 1);
}

#[test]
fn a_parse_error_names_the_file() {
    let error = Zone::load("no/such.zone", None).unwrap_err();
    assert!(error.to_string().contains("no/such.zone"), "{error}");
    let error = Zone::parse(
        "$ORIGIN d.test.\n@ 60 SOA ns h 1 2 3 4 5\nwww 60 A not-an-ip\n",
        None,
    )
    .unwrap_err();
    assert!(error.to_string().starts_with("zone (text)"), "{error}");
}
