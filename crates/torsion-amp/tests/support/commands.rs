//! The commands of `data/amp_peer.py`, in Rust.

use serde::{Deserialize, Serialize};
use torsion_amp::{Bytes, DateTime, Decimal, NoError};

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct Pair {
    pub a: i64,
    pub b: i64,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct Total {
    pub total: i64,
}

torsion_amp::command! {
    /// Adds.
    pub struct Sum = "Sum" { arguments: Pair, response: Total, errors: NoError }
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy)]
pub struct Fraction {
    pub numerator: i64,
    pub denominator: i64,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct Quotient {
    pub quotient: f64,
}

torsion_amp::command_errors! {
    /// Dividing's errors, as Python's `errors = {ZeroDivisionError: b"ZERO_DIVISION"}`.
    pub enum DivideError {
        /// By zero.
        ZeroDivision = "ZERO_DIVISION",
    }
}

torsion_amp::command! {
    /// Divides.
    pub struct Divide = "Divide" { arguments: Fraction, response: Quotient, errors: DivideError }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Point {
    pub x: i64,
    pub label: Option<String>,
}

/// Every argument type.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Everything {
    pub integer: i64,
    pub text: String,
    pub raw: Bytes,
    pub float: f64,
    pub specials: Vec<f64>,
    pub flag: bool,
    pub when: DateTime,
    pub amount: Decimal,
    pub numbers: Vec<i64>,
    pub words: Vec<String>,
    pub points: Vec<Point>,
    pub maybe: Option<i64>,
}

/// The values of amp_peer.py's `everything()`.
pub fn everything() -> Everything {
    Everything {
        integer: -42,
        text: "naïve ☃".into(),
        raw: Bytes::from_static(b"\x00\xff raw"),
        float: 0.1,
        specials: vec![f64::INFINITY, f64::NEG_INFINITY, 1e-5, 1e16, -0.0],
        flag: true,
        when: DateTime::new(2012, 1, 23, 12, 34, 56, 54321, -(5 * 60 + 30)).unwrap(),
        amount: "-1.50E+3".parse().unwrap(),
        numbers: vec![1, -2, 300],
        words: vec!["a".into(), String::new(), "ccc".into()],
        points: vec![
            Point {
                x: 1,
                label: Some("one".into()),
            },
            Point { x: 2, label: None },
        ],
        maybe: None,
    }
}

/// Compares two `Everything`s, the floats by their bits (-0.0 is not 0.0).
pub fn same_everything(a: &Everything, b: &Everything) -> bool {
    let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    bits(&a.specials) == bits(&b.specials)
        && Everything {
            specials: vec![],
            ..a.clone()
        } == Everything {
            specials: vec![],
            ..b.clone()
        }
}

torsion_amp::command! {
    /// Answers with its arguments.
    pub struct Echo = "Echo" { arguments: Everything, response: Everything, errors: NoError }
}

torsion_amp::command! {
    /// Its responder raises an error it does not declare.
    pub struct Fail = "Fail" { arguments: (), response: (), errors: NoError }
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy)]
pub struct Delayed {
    /// Seconds.
    pub delay: f64,
    pub value: i64,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct Value {
    pub value: i64,
}

torsion_amp::command! {
    /// Answers after a delay.
    pub struct Slow = "Slow" { arguments: Delayed, response: Value, errors: NoError }
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Text {
    pub text: String,
}

torsion_amp::command! {
    /// Recorded; no answer.
    pub struct Notify = "Notify" {
        arguments: Text,
        response: (),
        errors: NoError,
        requires_answer: false,
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Texts {
    pub texts: Vec<String>,
}

torsion_amp::command! {
    /// What Notify recorded.
    pub struct Notifications = "Notifications" { arguments: (), response: Texts, errors: NoError }
}

torsion_amp::command! {
    /// Its responder calls Sum on the peer that called it.
    pub struct Relay = "Relay" { arguments: Pair, response: Total, errors: NoError }
}

torsion_amp::command! {
    /// No peer answers this one.
    pub struct Missing = "Missing" { arguments: (), response: (), errors: NoError }
}
