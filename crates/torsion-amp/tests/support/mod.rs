//! What the integration tests share: the command set of
//! `data/amp_peer.py`, a reactor run with a deadline, and Twisted.

#![allow(dead_code)]

pub mod commands;
pub mod twisted;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command;

use std::time::Duration;

use torsion::endpoints::client_from_string;
use torsion::net::{Address, ListeningPort};
use torsion::{Failure, Reactor};
use torsion_amp::{Amp, Responders};

/// [`run_test`](torsion::testing::run_test) with its limit in seconds.
pub fn run<Fut>(seconds: u64, test: impl FnOnce(Reactor) -> Fut)
where
    Fut: Future<Output = Result<(), Failure>> + 'static,
{
    torsion::testing::run_test(Duration::from_secs(seconds), test);
}

/// The TCP port a listening port has.
pub fn port_of(port: &ListeningPort) -> u16 {
    match port.address() {
        Address::Tcp(address) => address.port(),
        other => panic!("not a TCP port: {other}"),
    }
}

/// Connects to 127.0.0.1:`port` and answers with `responders`.
pub async fn connect(reactor: &Reactor, port: u16, responders: Responders) -> Result<Amp, Failure> {
    let (amp, protocol) = Amp::new(responders);
    client_from_string(reactor, &format!("tcp:host=127.0.0.1:port={port}"))?
        .connect(protocol)
        .await?;
    Ok(amp)
}

/// The Python peer script.
pub fn peer_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/amp_peer.py")
}

/// A `python3` command whose imports find Twisted (installed on first
/// use from the pinned requirements), stopped after `seconds`.
pub fn twisted_python(seconds: u32) -> Command {
    torsion::testing::python_command(twisted::twisted(), seconds)
}

/// The responders of amp_peer.py's `Peer`, with a list of notifications
/// of their own: a plain function (Sum, Divide, Echo), Deferreds (Slow,
/// Fail) and an async function calling the peer back (Relay).
pub fn peer_responders() -> Responders {
    use commands::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    let notifications = Rc::new(RefCell::new(Vec::new()));
    let recorded = notifications.clone();
    Responders::new()
        .respond::<Sum>(|_, Pair { a, b }| Ok(Total { total: a + b }))
        .respond::<Divide>(|_, f| match f.denominator {
            0 => Err(DivideError::ZeroDivision("divided by zero".into())),
            d => Ok(Quotient {
                quotient: f.numerator as f64 / d as f64,
            }),
        })
        .respond::<Echo>(|_, everything| Ok(everything))
        .respond_deferred::<Fail>(|_, ()| {
            torsion::Deferred::fail(Failure::msg("an error Fail does not declare"))
        })
        .respond_deferred::<Slow>(|_, Delayed { delay, value }| {
            let reactor = Reactor::current().expect("a reactor");
            torsion::time::defer_later(&reactor, Duration::from_secs_f64(delay), move || {
                Ok::<_, Failure>(Value { value })
            })
        })
        .respond::<Notify>(move |_, Text { text }| {
            recorded.borrow_mut().push(text);
            Ok(())
        })
        .respond::<Notifications>(move |_, ()| {
            Ok(Texts {
                texts: notifications.borrow().clone(),
            })
        })
        .respond_async::<Relay, _, _>(|amp, pair| async move { amp.call_remote::<Sum>(pair).await })
}

/// A factory whose every connection answers as amp_peer.py's `Peer`.
pub fn peer_factory() -> impl torsion::net::Factory {
    torsion::net::factory_fn(|_| Some(Amp::new(peer_responders()).1))
}
