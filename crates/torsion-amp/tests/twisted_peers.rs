//! Wire compatibility with Twisted itself: `data/amp_peer.py` (Twisted's
//! own AMP, installed from PyPI on first use) calls torsion and is called
//! by it over TCP on 127.0.0.1, with every argument type, a declared and
//! an undeclared error, an unknown command, commands without answers,
//! callbacks both ways and many calls in flight.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

use support::commands::*;
use support::{connect, peer_factory, peer_responders, peer_script, port_of, run, twisted_python};
use torsion::Failure;
use torsion::defer::gather;
use torsion::time::defer_later;
use torsion_amp::{AmpError, to_box};

#[test]
fn twisted_encodes_every_argument_type_as_torsion_does() {
    let output = twisted_python(60)
        .arg(peer_script())
        .arg("encode")
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let twisted = String::from_utf8(output.stdout).unwrap();
    let torsion: String = to_box(&everything())
        .unwrap()
        .serialize()
        .unwrap()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    assert_eq!(torsion, twisted.trim());
}

#[test]
fn a_twisted_client_calls_torsion_and_is_called_back() {
    run(90, |reactor| async move {
        let port = reactor.listen_tcp("127.0.0.1:0".parse().unwrap(), peer_factory())?;
        let number = port_of(&port);
        let mut client = twisted_python(60);
        client
            .arg(peer_script())
            .args(["client", &number.to_string()]);
        let output = reactor.defer_to_thread(move || client.output()).await?;
        let output = output.map_err(Failure::new)?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("all checks passed"),
            "the Twisted client failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        for check in [
            "Echo returned every argument type unchanged",
            "a declared error arrived as ZeroDivisionError",
            "an unknown command was UNHANDLED",
            "Relay called this side's Sum back",
            "200 calls in flight, answered out of order",
            "an undeclared error was UNKNOWN",
            "the connection closed after the undeclared error",
        ] {
            assert!(stdout.contains(check), "missing {check:?} in:\n{stdout}");
        }
        drop(port);
        Ok(())
    });
}

/// The Twisted server, and the port it printed.
struct TwistedServer(Child);

impl TwistedServer {
    fn start() -> (TwistedServer, u16) {
        let mut child = twisted_python(90)
            .arg(peer_script())
            .arg("server")
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("no port: {line:?}"));
        (TwistedServer(child), port)
    }
}

impl Drop for TwistedServer {
    fn drop(&mut self) {
        // The child is `timeout`, which passes SIGTERM on to Python; a
        // SIGKILL would leave Python running, orphaned.
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

#[test]
fn torsion_calls_a_twisted_server_and_is_called_back() {
    let (_server, port) = TwistedServer::start();
    run(60, move |reactor| async move {
        // The client answers Sum: the server's Relay calls it.
        let amp = connect(&reactor, port, peer_responders()).await?;

        assert_eq!(
            amp.call_remote::<Sum>(Pair { a: 13, b: 81 }).await?.total,
            94
        );

        for maybe in [None, Some(7)] {
            let sent = Everything {
                maybe,
                ..everything()
            };
            let answer = amp.call_remote::<Echo>(sent.clone()).await?;
            assert!(same_everything(&answer, &sent), "{answer:?}");
        }

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

        let failure = amp.call_remote::<Missing>(()).await.unwrap_err();
        let error = failure.downcast_ref::<AmpError>().unwrap();
        assert!(error.is_unhandled_command(), "{error}");
        assert!(
            error.to_string().contains("Unhandled Command: b'Missing'"),
            "{error}"
        );

        amp.call_remote_no_answer::<Notify>(Text {
            text: "first".into(),
        })?;
        amp.call_remote_no_answer::<Notify>(Text {
            text: "second".into(),
        })?;
        let answer = amp.call_remote::<Notifications>(()).await?;
        assert_eq!(answer.texts, ["first", "second"]);

        assert_eq!(
            amp.call_remote::<Relay>(Pair { a: 20, b: 22 }).await?.total,
            42
        );

        let calls: Vec<_> = (0..200)
            .map(|i| {
                let delay = f64::from(i % 7) / 100.0;
                amp.call_remote::<Slow>(Delayed {
                    delay,
                    value: i64::from(i),
                })
            })
            .collect();
        let values: Vec<i64> = gather(calls).await?.iter().map(|v| v.value).collect();
        assert_eq!(values, (0..200).collect::<Vec<_>>());

        let failure = amp.call_remote::<Fail>(()).await.unwrap_err();
        let error = failure.downcast_ref::<AmpError>().unwrap();
        assert_eq!(error.remote_code(), Some(&b"UNKNOWN"[..]), "{error}");
        for _ in 0..200 {
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
        assert!(
            amp.is_closed(),
            "Twisted closes the connection after an undeclared error"
        );
        Ok(())
    });
}
