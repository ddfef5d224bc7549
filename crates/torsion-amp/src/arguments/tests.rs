use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::*;
use crate::{AmpBox, AmpError};

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Point {
    x: i64,
    label: Option<String>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Copy)]
enum Colour {
    Red,
    Green,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Everything {
    integer: i64,
    big: u128,
    text: String,
    raw: Bytes,
    float: f64,
    flag: bool,
    when: DateTime,
    amount: Decimal,
    numbers: Vec<i32>,
    words: Vec<String>,
    nested: Vec<Vec<u8>>,
    points: Vec<Point>,
    missing: Option<i64>,
    present: Option<i64>,
    colour: Colour,
    #[serde(rename = "dashed-name")]
    dashed_name: u8,
}

fn everything() -> Everything {
    Everything {
        integer: -42,
        big: u128::MAX,
        text: "naïve ☃".into(),
        raw: Bytes::from_static(b"\x00\xff raw"),
        float: 0.1,
        flag: true,
        when: DateTime::new(2012, 1, 23, 12, 34, 56, 54321, 0).unwrap(),
        amount: "-1.50E+3".parse().unwrap(),
        numbers: vec![1, -2, 300],
        words: vec!["a".into(), String::new(), "ccc".into()],
        nested: vec![vec![1, 2], vec![]],
        points: vec![
            Point {
                x: 1,
                label: Some("one".into()),
            },
            Point { x: 2, label: None },
        ],
        missing: None,
        present: Some(7),
        colour: Colour::Green,
        dashed_name: 5,
    }
}

#[test]
fn every_type_is_written_as_twisted_writes_it() {
    let amp_box = to_box(&everything()).unwrap();
    let value = |key: &str| amp_box.get(key).unwrap().to_vec();
    assert_eq!(value("integer"), b"-42");
    assert_eq!(value("big"), b"340282366920938463463374607431768211455");
    assert_eq!(value("text"), "naïve ☃".as_bytes());
    assert_eq!(value("raw"), b"\x00\xff raw");
    assert_eq!(value("float"), b"0.1");
    assert_eq!(value("flag"), b"True");
    assert_eq!(value("when"), b"2012-01-23T12:34:56.054321-00:00");
    assert_eq!(value("amount"), b"-1.50E+3");
    assert_eq!(value("numbers"), b"\x00\x011\x00\x02-2\x00\x03300");
    assert_eq!(value("words"), b"\x00\x01a\x00\x00\x00\x03ccc");
    assert_eq!(value("nested"), b"\x00\x06\x00\x011\x00\x012\x00\x00");
    assert_eq!(
        value("points"),
        b"\x00\x05label\x00\x03one\x00\x01x\x00\x011\x00\x00\x00\x01x\x00\x012\x00\x00"
    );
    assert!(!amp_box.contains_key("missing"));
    assert_eq!(value("present"), b"7");
    assert_eq!(value("colour"), b"Green");
    assert_eq!(value("dashed-name"), b"5");
}

#[test]
fn every_type_reads_back() {
    let amp_box = to_box(&everything()).unwrap();
    assert_eq!(from_box::<Everything>(&amp_box).unwrap(), everything());
}

#[test]
fn protocol_keys_and_unknown_keys_are_ignored() {
    let mut amp_box = to_box(&Point { x: 3, label: None }).unwrap();
    amp_box.insert("_ask", "1f");
    amp_box.insert("_command", "Move");
    amp_box.insert("extra", "whatever");
    assert_eq!(
        from_box::<Point>(&amp_box).unwrap(),
        Point { x: 3, label: None }
    );
}

#[test]
fn a_missing_required_value_is_named() {
    let error = from_box::<Point>(&AmpBox::new()).unwrap_err();
    assert!(
        matches!(&error, AmpError::MissingArgument { key } if key == "x"),
        "{error:?}"
    );
}

#[test]
fn a_bad_value_names_its_key() {
    let amp_box: AmpBox = [("x", "12z")].into_iter().collect();
    let error = from_box::<Point>(&amp_box).unwrap_err();
    assert!(
        matches!(&error, AmpError::BadArgument { key, reason } if key == "x" && reason.contains("12z")),
        "{error:?}"
    );
    #[derive(Deserialize, Debug)]
    struct Flag {
        #[allow(dead_code)]
        on: bool,
    }
    let amp_box: AmpBox = [("on", "true")].into_iter().collect();
    assert!(matches!(
        from_box::<Flag>(&amp_box),
        Err(AmpError::BadArgument { .. })
    ));
}

#[test]
fn integers_read_as_python_reads_them_within_their_type() {
    #[derive(Deserialize)]
    struct Small {
        n: u8,
    }
    let read = |text: &'static str| {
        from_box::<Small>(&[("n", text)].into_iter().collect::<AmpBox>()).map(|s| s.n)
    };
    assert_eq!(read(" +7 ").unwrap(), 7);
    assert!(read("256").is_err());
    assert!(read("-1").is_err());
    assert!(read("").is_err());
}

#[test]
fn a_truncated_list_is_an_error_not_a_panic() {
    #[derive(Deserialize, Debug)]
    struct Lists {
        #[allow(dead_code)]
        numbers: Vec<i64>,
    }
    #[derive(Deserialize, Debug)]
    struct Points {
        #[allow(dead_code)]
        points: Vec<Point>,
    }
    for value in [&b"\x00\x05ab"[..], b"\x00"] {
        let amp_box: AmpBox = [("numbers", Bytes::copy_from_slice(value))]
            .into_iter()
            .collect();
        assert!(matches!(
            from_box::<Lists>(&amp_box),
            Err(AmpError::Truncated)
        ));
    }
    let amp_box: AmpBox = [("points", &b"\x00\x01x\x00\x011"[..])]
        .into_iter()
        .collect();
    assert!(matches!(
        from_box::<Points>(&amp_box),
        Err(AmpError::Truncated)
    ));
}

#[test]
fn floats_and_specials_round_trip() {
    #[derive(Serialize, Deserialize)]
    struct F {
        v: f64,
    }
    for v in [
        0.0,
        -0.0,
        1e-5,
        1e16,
        f64::MAX,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ] {
        let back = from_box::<F>(&to_box(&F { v }).unwrap()).unwrap().v;
        assert_eq!(back.to_bits(), v.to_bits());
    }
    assert!(
        from_box::<F>(&to_box(&F { v: f64::NAN }).unwrap())
            .unwrap()
            .v
            .is_nan()
    );
}

#[test]
fn values_without_an_encoding_are_refused() {
    #[derive(Serialize)]
    struct Inner {
        a: i32,
    }
    #[derive(Serialize)]
    struct Outer {
        inner: Inner,
    }
    assert!(matches!(
        to_box(&Outer {
            inner: Inner { a: 1 }
        }),
        Err(AmpError::Unencodable(_))
    ));
    assert!(matches!(to_box(&5), Err(AmpError::Unencodable(_))));
    assert_eq!(to_box(&()).unwrap(), AmpBox::new());
}
