//! torsion to torsion over real TCP on 127.0.0.1: every argument type,
//! errors both declared and not, commands without answers, calls in
//! flight, callbacks to the caller, and malformed input from a raw
//! socket, which closes that connection only.

mod support;

use std::io::{Read, Write};
use std::time::Duration;

use support::commands::*;
use support::{connect, peer_factory, peer_responders, port_of, run};
use torsion::defer::gather;
use torsion::time::defer_later;
use torsion::{Failure, Reactor};
use torsion_amp::{AmpError, Responders};

async fn listen(reactor: &Reactor) -> Result<u16, Failure> {
    let port = reactor.listen_tcp("127.0.0.1:0".parse().unwrap(), peer_factory())?;
    let number = port_of(&port);
    // The port stays open for the reactor's life.
    std::mem::forget(port);
    Ok(number)
}

#[test]
fn every_argument_type_round_trips() {
    run(10, |reactor| async move {
        let port = listen(&reactor).await?;
        let amp = connect(&reactor, port, Responders::new()).await?;
        let mut sent = everything();
        sent.maybe = Some(7);
        let answer = amp.call_remote::<Echo>(sent.clone()).await?;
        assert!(same_everything(&answer, &sent), "{answer:?}");
        let answer = amp.call_remote::<Echo>(everything()).await?;
        assert!(same_everything(&answer, &everything()));
        Ok(())
    });
}

#[test]
fn a_declared_error_is_the_commands_error_and_the_connection_stays_up() {
    run(10, |reactor| async move {
        let port = listen(&reactor).await?;
        let amp = connect(&reactor, port, Responders::new()).await?;
        let failure = amp
            .call_remote::<Divide>(Fraction {
                numerator: 1,
                denominator: 0,
            })
            .await
            .unwrap_err();
        assert_eq!(
            failure.downcast_ref::<DivideError>(),
            Some(&DivideError::ZeroDivision("divided by zero".into()))
        );
        let answer = amp
            .call_remote::<Divide>(Fraction {
                numerator: 1,
                denominator: 4,
            })
            .await?;
        assert_eq!(answer.quotient, 0.25);
        Ok(())
    });
}

#[test]
fn an_undeclared_error_is_unknown_and_closes_the_connection() {
    run(10, |reactor| async move {
        let port = listen(&reactor).await?;
        let amp = connect(&reactor, port, Responders::new()).await?;
        let failure = amp.call_remote::<Fail>(()).await.unwrap_err();
        let error = failure.downcast_ref::<AmpError>().unwrap();
        assert_eq!(error.remote_code(), Some(&b"UNKNOWN"[..]));
        assert!(error.to_string().contains("Unknown Error"), "{error}");
        for _ in 0..100 {
            if amp.is_closed() {
                break;
            }
            defer_later(
                &reactor,
                Duration::from_millis(10),
                || Ok::<(), Failure>(()),
            )
            .await?;
        }
        assert!(amp.is_closed());
        let later = amp
            .call_remote::<Sum>(Pair { a: 1, b: 1 })
            .await
            .unwrap_err();
        assert!(
            later
                .downcast_ref::<AmpError>()
                .unwrap()
                .is_connection_lost()
        );
        Ok(())
    });
}

#[test]
fn an_unknown_command_is_unhandled() {
    run(10, |reactor| async move {
        let port = listen(&reactor).await?;
        let amp = connect(&reactor, port, Responders::new()).await?;
        let failure = amp.call_remote::<Missing>(()).await.unwrap_err();
        let error = failure.downcast_ref::<AmpError>().unwrap();
        assert!(error.is_unhandled_command(), "{error}");
        assert!(error.to_string().contains("b'Missing'"), "{error}");
        assert_eq!(amp.call_remote::<Sum>(Pair { a: 2, b: 2 }).await?.total, 4);
        Ok(())
    });
}

#[test]
fn many_calls_in_flight_are_answered_out_of_order() {
    run(20, |reactor| async move {
        let port = listen(&reactor).await?;
        let amp = connect(&reactor, port, Responders::new()).await?;
        let calls: Vec<_> = (0..500)
            .map(|i| {
                let delay = f64::from(i % 7) / 100.0;
                amp.call_remote::<Slow>(Delayed {
                    delay,
                    value: i64::from(i),
                })
            })
            .collect();
        assert_eq!(amp.outstanding(), 500);
        let answers = gather(calls).await?;
        let values: Vec<i64> = answers.iter().map(|v| v.value).collect();
        assert_eq!(values, (0..500).collect::<Vec<_>>());
        Ok(())
    });
}

#[test]
fn commands_without_answers_arrive_in_order() {
    run(10, |reactor| async move {
        let port = listen(&reactor).await?;
        let amp = connect(&reactor, port, Responders::new()).await?;
        amp.call_remote_no_answer::<Notify>(Text {
            text: "first".into(),
        })?;
        amp.call_remote_no_answer::<Notify>(Text {
            text: "second".into(),
        })?;
        let answer = amp.call_remote::<Notifications>(()).await?;
        assert_eq!(answer.texts, ["first", "second"]);
        Ok(())
    });
}

#[test]
fn a_responder_calls_its_caller_back_on_the_same_connection() {
    run(10, |reactor| async move {
        let port = listen(&reactor).await?;
        // The client answers Sum too: Relay's responder calls it.
        let amp = connect(&reactor, port, peer_responders()).await?;
        assert_eq!(
            amp.call_remote::<Relay>(Pair { a: 20, b: 22 }).await?.total,
            42
        );
        Ok(())
    });
}

#[test]
fn a_cancelled_call_is_forgotten_and_the_connection_goes_on() {
    run(10, |reactor| async move {
        let port = listen(&reactor).await?;
        let amp = connect(&reactor, port, Responders::new()).await?;
        let slow = amp.call_remote::<Slow>(Delayed {
            delay: 0.05,
            value: 1,
        });
        slow.cancel();
        assert!(slow.await.unwrap_err().is_cancelled());
        defer_later(&reactor, Duration::from_millis(100), || {
            Ok::<(), Failure>(())
        })
        .await?;
        assert!(!amp.is_closed());
        assert_eq!(amp.call_remote::<Sum>(Pair { a: 1, b: 2 }).await?.total, 3);
        Ok(())
    });
}

#[test]
fn losing_the_connection_fails_the_calls_in_flight() {
    run(10, |reactor| async move {
        let port = listen(&reactor).await?;
        let amp = connect(&reactor, port, Responders::new()).await?;
        let slow = amp.call_remote::<Slow>(Delayed {
            delay: 5.0,
            value: 1,
        });
        amp.lose_connection();
        let failure = slow.await.unwrap_err();
        assert!(
            failure
                .downcast_ref::<AmpError>()
                .unwrap()
                .is_connection_lost()
        );
        Ok(())
    });
}

/// Sends `bytes` on a raw socket and reads until the server closes.
fn raw_exchange(port: u16, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut socket = std::net::TcpStream::connect(("127.0.0.1", port))?;
    socket.set_read_timeout(Some(Duration::from_secs(5)))?;
    socket.write_all(bytes)?;
    let mut received = Vec::new();
    socket.read_to_end(&mut received)?;
    Ok(received)
}

#[test]
fn malformed_input_closes_that_connection_and_the_server_serves_on() {
    run(20, |reactor| async move {
        let port = listen(&reactor).await?;
        let amp = connect(&reactor, port, Responders::new()).await?;
        let mut sum = torsion_amp::AmpBox::new();
        sum.insert("_command", "Sum");
        sum.insert("_ask", "1");
        sum.insert("a", "1");
        let missing = sum.serialize().unwrap();
        sum.insert("b", "not a number");
        let bad_integer = sum.serialize().unwrap();
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("a key of 256 bytes", b"\x01\x00".to_vec()),
            ("an empty box", b"\x00\x00".to_vec()),
            (
                "a box that is no message",
                b"\x00\x01a\x00\x01b\x00\x00".to_vec(),
            ),
            ("a missing argument", missing),
            ("a bad integer", bad_integer),
            (
                "an answer never asked for",
                b"\x00\x07_answer\x00\x0299\x00\x00".to_vec(),
            ),
        ];
        for (what, bytes) in cases {
            // A blocking client, on its own thread: the reactor serves it.
            let exchange = reactor.defer_to_thread(move || raw_exchange(port, &bytes));
            let received = exchange.await?.map_err(Failure::new)?;
            let replies = torsion_amp::parse_boxes(&received).map_err(Failure::new)?;
            if what.starts_with("a missing") || what.starts_with("a bad") {
                assert_eq!(replies.len(), 1, "{what}");
                assert_eq!(replies[0].get("_error_code").unwrap(), "UNKNOWN", "{what}");
            } else {
                assert!(replies.is_empty(), "{what}: {replies:?}");
            }
            // The other connection is served throughout.
            assert_eq!(
                amp.call_remote::<Sum>(Pair { a: 1, b: 2 }).await?.total,
                3,
                "{what}"
            );
        }
        Ok(())
    });
}

#[test]
fn a_value_too_long_fails_on_the_callers_side_only() {
    run(10, |reactor| async move {
        let port = listen(&reactor).await?;
        let amp = connect(&reactor, port, Responders::new()).await?;
        let mut big = everything();
        big.text = "x".repeat(65536);
        let failure = amp.call_remote::<Echo>(big).await.unwrap_err();
        assert!(failure.downcast_ref::<AmpError>().unwrap().is_too_long());
        let mut largest = everything();
        largest.text = "x".repeat(65535);
        assert_eq!(amp.call_remote::<Echo>(largest).await?.text.len(), 65535);
        Ok(())
    });
}
