//! The dispatcher driven by hand over a `StringTransport`: exact bytes
//! in, exact bytes out, no sockets and no reactor.

use std::cell::RefCell;
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use torsion::net::Protocol;
use torsion::testing::{StringTransport, feed_in_chunks};
use torsion::{Deferred, Failure};

use crate::{Amp, AmpBox, AmpError, AmpProtocol, BoxCodec, NoError, Responders};

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Pair {
    a: i64,
    b: i64,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Total {
    total: i64,
}

crate::command! {
    /// Adds.
    struct Sum = "Sum" { arguments: Pair, response: Total, errors: NoError }
}

crate::command_errors! {
    /// Dividing's errors.
    enum DivideError {
        /// By zero.
        ZeroDivision = "ZERO_DIVISION",
        /// Gives up.
        Overloaded = "OVERLOADED" fatal,
    }
}

crate::command! {
    /// Divides.
    struct Divide = "Divide" { arguments: Pair, response: Total, errors: DivideError }
}

fn boxes(data: &[u8]) -> Vec<AmpBox> {
    crate::parse_boxes(data).expect("whole boxes")
}

fn wire(pairs: &[(&str, &str)]) -> Vec<u8> {
    pairs
        .iter()
        .map(|&(k, v)| (k.to_owned(), v.to_owned()))
        .collect::<AmpBox>()
        .serialize()
        .unwrap()
}

fn server() -> (Amp, AmpProtocol, StringTransport) {
    let responders = Responders::new()
        .respond::<Sum>(|_, Pair { a, b }| Ok(Total { total: a + b }))
        .respond::<Divide>(|_, Pair { a, b }| match b {
            0 => Err(DivideError::ZeroDivision("divided by zero".into())),
            -1 => Err(DivideError::Overloaded("enough".into())),
            _ => Ok(Total { total: a / b }),
        });
    let (amp, mut protocol) = Amp::new(responders);
    let transport = StringTransport::new();
    transport.make_connection(&mut protocol);
    (amp, protocol, transport)
}

fn recorded<T: 'static>(deferred: Deferred<T>) -> Rc<RefCell<Option<Result<T, Failure>>>> {
    let slot = Rc::new(RefCell::new(None));
    let s = slot.clone();
    drop(deferred.both(move |outcome| {
        *s.borrow_mut() = Some(outcome);
        Ok::<(), Failure>(())
    }));
    slot
}

#[test]
fn a_command_is_answered_with_its_tag_at_every_chunk_size() {
    let request = wire(&[("_command", "Sum"), ("_ask", "a"), ("a", "13"), ("b", "81")]);
    for size in torsion::testing::CHUNK_SIZES {
        let (_amp, mut protocol, transport) = server();
        feed_in_chunks(&mut protocol, &request, size);
        assert_eq!(transport.take(), wire(&[("_answer", "a"), ("total", "94")]));
    }
}

#[test]
fn a_declared_error_is_answered_with_its_code_and_the_connection_stays_up() {
    let (_amp, mut protocol, transport) = server();
    protocol.data_received(&wire(&[
        ("_command", "Divide"),
        ("_ask", "1"),
        ("a", "1"),
        ("b", "0"),
    ]));
    assert_eq!(
        transport.take(),
        wire(&[
            ("_error", "1"),
            ("_error_code", "ZERO_DIVISION"),
            ("_error_description", "divided by zero")
        ])
    );
    assert!(!transport.is_disconnecting());
}

#[test]
fn a_fatal_error_is_answered_then_the_connection_closes() {
    let (_amp, mut protocol, transport) = server();
    protocol.data_received(&wire(&[
        ("_command", "Divide"),
        ("_ask", "1"),
        ("a", "1"),
        ("b", "-1"),
    ]));
    assert_eq!(
        boxes(&transport.take())[0].get("_error_code").unwrap(),
        "OVERLOADED"
    );
    assert!(transport.is_disconnecting());
}

#[test]
fn an_unknown_command_is_unhandled_and_the_connection_stays_up() {
    let (_amp, mut protocol, transport) = server();
    protocol.data_received(&wire(&[("_command", "Nope"), ("_ask", "2")]));
    assert_eq!(
        transport.take(),
        wire(&[
            ("_error", "2"),
            ("_error_code", "UNHANDLED"),
            ("_error_description", "Unhandled Command: b'Nope'")
        ])
    );
    assert!(!transport.is_disconnecting());
}

#[test]
fn bad_or_missing_arguments_are_an_unknown_error_and_close_the_connection() {
    for request in [
        wire(&[("_command", "Sum"), ("_ask", "3"), ("a", "1"), ("b", "x")]),
        wire(&[("_command", "Sum"), ("_ask", "3"), ("a", "1")]),
    ] {
        let (_amp, mut protocol, transport) = server();
        protocol.data_received(&request);
        assert_eq!(
            transport.take(),
            wire(&[
                ("_error", "3"),
                ("_error_code", "UNKNOWN"),
                ("_error_description", "Unknown Error")
            ])
        );
        assert!(transport.is_disconnecting());
    }
}

#[test]
fn a_box_that_is_no_message_closes_the_connection() {
    for bad in [&b"\x00\x00"[..], &wire(&[("hello", "there")])] {
        let (_amp, mut protocol, transport) = server();
        protocol.data_received(bad);
        assert!(transport.value().is_empty());
        assert!(transport.is_disconnecting());
    }
}

#[test]
fn a_key_over_255_bytes_closes_the_connection_and_fails_the_calls_with_it() {
    let (amp, mut protocol, transport) = server();
    let call = recorded(amp.call_remote::<Sum>(Pair { a: 1, b: 2 }));
    protocol.data_received(b"\x01\x00");
    assert!(transport.is_disconnecting());
    transport.finish_close(&mut protocol);
    let outcome = call.borrow_mut().take().expect("the call failed");
    let failure = outcome.unwrap_err();
    let error = failure.downcast_ref::<AmpError>().unwrap();
    match error {
        AmpError::ConnectionLost(reason) => {
            assert!(matches!(
                reason.downcast_ref(),
                Some(AmpError::KeyTooLong { length: 256 })
            ))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn calls_are_tagged_with_a_hex_counter_and_answers_fire_them() {
    let (amp, mut protocol, transport) = server();
    let mut calls = Vec::new();
    for a in 0..12 {
        calls.push(recorded(amp.call_remote::<Sum>(Pair { a, b: 1 })));
    }
    let sent = boxes(&transport.take());
    let tags: Vec<_> = sent
        .iter()
        .map(|b| b.get("_ask").unwrap().clone())
        .collect();
    assert_eq!(
        tags,
        ["1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c"]
    );
    // Answered in reverse order.
    for (index, tag) in tags.iter().enumerate().rev() {
        let total = (index + 1).to_string();
        protocol.data_received(&wire(&[
            ("_answer", std::str::from_utf8(tag).unwrap()),
            ("total", &total),
        ]));
    }
    for (index, call) in calls.iter().enumerate() {
        let total = call.borrow_mut().take().unwrap().unwrap().total;
        assert_eq!(total, index as i64 + 1);
    }
    assert_eq!(amp.outstanding(), 0);
}

#[test]
fn error_answers_map_to_the_declared_error_unhandled_or_remote() {
    let (amp, mut protocol, transport) = server();
    let declared = recorded(amp.call_remote::<Divide>(Pair { a: 1, b: 0 }));
    let unhandled = recorded(amp.call_remote::<Divide>(Pair { a: 1, b: 0 }));
    let remote = recorded(amp.call_remote::<Divide>(Pair { a: 1, b: 0 }));
    transport.clear();
    let error = |tag: &str, code: &str, description: &str| {
        wire(&[
            ("_error", tag),
            ("_error_code", code),
            ("_error_description", description),
        ])
    };
    protocol.data_received(&error("1", "ZERO_DIVISION", "no"));
    protocol.data_received(&error("2", "UNHANDLED", "Unhandled Command: b'Divide'"));
    protocol.data_received(&error("3", "UNKNOWN", "Unknown Error"));

    let failure = declared.borrow_mut().take().unwrap().unwrap_err();
    assert_eq!(
        failure.downcast_ref::<DivideError>(),
        Some(&DivideError::ZeroDivision("no".into()))
    );
    let failure = unhandled.borrow_mut().take().unwrap().unwrap_err();
    assert!(
        failure
            .downcast_ref::<AmpError>()
            .unwrap()
            .is_unhandled_command()
    );
    let failure = remote.borrow_mut().take().unwrap().unwrap_err();
    assert_eq!(
        failure.downcast_ref::<AmpError>().unwrap().remote_code(),
        Some(&b"UNKNOWN"[..])
    );
    assert!(!transport.is_disconnecting());
}

#[test]
fn a_cancelled_calls_late_answer_is_dropped_quietly() {
    let (amp, mut protocol, transport) = server();
    let call = amp.call_remote::<Sum>(Pair { a: 1, b: 2 });
    call.cancel();
    assert_eq!(amp.outstanding(), 0);
    protocol.data_received(&wire(&[("_answer", "1"), ("total", "3")]));
    assert!(!transport.is_disconnecting());
    // An answer to a tag never used is a protocol error.
    protocol.data_received(&wire(&[("_answer", "2"), ("total", "3")]));
    assert!(transport.is_disconnecting());
}

#[test]
fn calls_made_before_the_connection_go_out_when_it_is_made() {
    let (amp, mut protocol) = Amp::new(Responders::new());
    let _call = amp.call_remote::<Sum>(Pair { a: 1, b: 2 });
    let transport = StringTransport::new();
    transport.make_connection(&mut protocol);
    assert_eq!(
        transport.take(),
        wire(&[("_ask", "1"), ("_command", "Sum"), ("a", "1"), ("b", "2")])
    );
}

#[test]
fn a_value_too_long_fails_the_call_and_sends_nothing() {
    #[derive(Serialize, Deserialize)]
    struct Text {
        text: String,
    }
    crate::command! {
        /// Sends text.
        struct Say = "Say" { arguments: Text, response: (), errors: NoError }
    }
    let (amp, _protocol, transport) = server();
    let call = recorded(amp.call_remote::<Say>(Text {
        text: "x".repeat(65536),
    }));
    let failure = call.borrow_mut().take().unwrap().unwrap_err();
    assert!(failure.downcast_ref::<AmpError>().unwrap().is_too_long());
    assert!(transport.value().is_empty());
    // The next call is tagged 1: nothing was used up.
    drop(amp.call_remote::<Say>(Text {
        text: "x".repeat(65535),
    }));
    assert_eq!(boxes(&transport.take())[0].get("_ask").unwrap(), "1");
}

#[test]
fn losing_the_connection_fails_waiting_calls_and_later_ones() {
    let (amp, mut protocol, transport) = server();
    let call = recorded(amp.call_remote::<Sum>(Pair { a: 1, b: 2 }));
    transport.simulate_loss(&mut protocol, Failure::new(torsion::error::ConnectionDone));
    let failure = call.borrow_mut().take().unwrap().unwrap_err();
    assert!(
        failure
            .downcast_ref::<AmpError>()
            .unwrap()
            .is_connection_lost()
    );
    let later = recorded(amp.call_remote::<Sum>(Pair { a: 1, b: 2 }));
    assert!(later.borrow_mut().take().unwrap().is_err());
    assert!(amp.is_closed());
    let _ = BoxCodec::new();
}
