//! Talks AMP with a Python Twisted program: starts
//! `tests/data/amp_peer.py` as a child process speaking AMP over its
//! stdin and stdout, calls its commands, and answers the call it makes
//! back.
//!
//! ```text
//! PYTHONPATH=/where/twisted/is cargo run -p torsion-amp --example python_peer
//! ```
//!
//! Twisted must be importable by `python3` (`pip install twisted`, or a
//! PYTHONPATH as above). `--script PATH` runs another copy of the peer.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use torsion::process::SpawnOptions;
use torsion::{Failure, Reactor};
use torsion_amp::{Amp, AmpError, AmpProcessProtocol, NoError, Responders};

#[derive(Serialize, Deserialize, Debug)]
struct Pair {
    a: i64,
    b: i64,
}

#[derive(Serialize, Deserialize, Debug)]
struct Total {
    total: i64,
}

torsion_amp::command! {
    /// Adds two integers (both sides answer it).
    struct Sum = "Sum" { arguments: Pair, response: Total, errors: NoError }
}

torsion_amp::command! {
    /// Twisted's responder calls Sum back on this side.
    struct Relay = "Relay" { arguments: Pair, response: Total, errors: NoError }
}

#[derive(Serialize, Deserialize, Debug)]
struct Fraction {
    numerator: i64,
    denominator: i64,
}

#[derive(Serialize, Deserialize, Debug)]
struct Quotient {
    quotient: f64,
}

torsion_amp::command_errors! {
    /// Python's `errors = {ZeroDivisionError: b"ZERO_DIVISION"}`.
    enum DivideError {
        /// The denominator was zero.
        ZeroDivision = "ZERO_DIVISION",
    }
}

torsion_amp::command! {
    /// Divides, failing with a declared error on zero.
    struct Divide = "Divide" { arguments: Fraction, response: Quotient, errors: DivideError }
}

torsion_amp::command! {
    /// A command the Python peer does not have.
    struct Missing = "Missing" { arguments: (), response: (), errors: NoError }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/amp_peer.py").to_owned();
    let mut arguments = std::env::args().skip(1);
    while let Some(argument) = arguments.next() {
        match argument.as_str() {
            "--script" => script = arguments.next().ok_or("--script needs a path")?,
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }

    let reactor = Reactor::new()?;
    // This side answers Sum, which Twisted's Relay responder calls.
    let responders = Responders::new().respond::<Sum>(|_, Pair { a, b }| {
        println!("  Python called Sum({a}, {b}) here");
        Ok(Total { total: a + b })
    });
    let (amp, protocol) = Amp::new(responders);
    reactor.spawn_process(
        AmpProcessProtocol::new(protocol),
        "python3",
        [script.as_str(), "stdio"],
        SpawnOptions::new(),
    )?;

    let r = reactor.clone();
    let session = reactor.spawn(async move {
        let outcome = talk(&amp).await;
        amp.lose_connection();
        r.stop()?;
        outcome
    });
    // The whole conversation takes well under a second.
    let r = reactor.clone();
    let _deadline = reactor.call_later(Duration::from_secs(30), move || {
        eprintln!("no answer from Python within 30 s");
        r.stop().unwrap();
    });
    reactor.run()?;

    let outcome = std::rc::Rc::new(std::cell::RefCell::new(None));
    let o = outcome.clone();
    drop(session.both(move |result| {
        *o.borrow_mut() = Some(result);
        Ok::<(), Failure>(())
    }));
    match outcome.borrow_mut().take() {
        Some(Ok(())) => Ok(()),
        Some(Err(failure)) => Err(failure.to_string().into()),
        None => Err("the conversation did not finish".into()),
    }
}

async fn talk(amp: &Amp) -> Result<(), Failure> {
    let answer = amp.call_remote::<Sum>(Pair { a: 13, b: 81 }).await?;
    println!("Twisted says 13 + 81 = {}", answer.total);

    let answer = amp
        .call_remote::<Divide>(Fraction {
            numerator: 22,
            denominator: 7,
        })
        .await?;
    println!("Twisted says 22 / 7 = {}", answer.quotient);

    let failure = amp
        .call_remote::<Divide>(Fraction {
            numerator: 1,
            denominator: 0,
        })
        .await
        .unwrap_err();
    match failure.downcast_ref::<DivideError>() {
        Some(DivideError::ZeroDivision(description)) => {
            println!("Twisted says 1 / 0 fails: ZERO_DIVISION ({description})")
        }
        None => return Err(failure),
    }

    let failure = amp.call_remote::<Missing>(()).await.unwrap_err();
    match failure.downcast_ref::<AmpError>() {
        Some(error) if error.is_unhandled_command() => {
            println!("Twisted does not know Missing: {error}")
        }
        _ => return Err(failure),
    }

    println!("asking Twisted to relay 20 + 22 back to this side:");
    let answer = amp.call_remote::<Relay>(Pair { a: 20, b: 22 }).await?;
    println!("Twisted relayed 20 + 22 = {}", answer.total);
    Ok(())
}
