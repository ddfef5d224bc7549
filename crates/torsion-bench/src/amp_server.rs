//! The `amp` benchmark's server: torsion-amp answering `Sum`, run in a
//! process of its own by `serve --engine torsion-amp`.

use std::io;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use torsion::Reactor;
use torsion_amp::{Amp, NoError, Responders};

/// `Sum`'s arguments.
#[derive(Serialize, Deserialize)]
pub struct Pair {
    pub a: i64,
    pub b: i64,
}

/// `Sum`'s response.
#[derive(Serialize, Deserialize)]
pub struct Total {
    pub total: i64,
}

torsion_amp::command! {
    /// amp_peer.py's `Sum`.
    pub struct Sum = "Sum" { arguments: Pair, response: Total, errors: NoError }
}

/// The hidden `serve --engine torsion-amp`: answers `Sum`.
pub fn serve(ready: impl FnOnce(SocketAddr)) -> io::Result<()> {
    let reactor = Reactor::new().map_err(io::Error::other)?;
    let responders =
        Responders::new().respond::<Sum>(|_, Pair { a, b }| Ok(Total { total: a + b }));
    let port = reactor.listen_tcp(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        Amp::factory(responders),
    )?;
    let address = port
        .tcp_address()
        .ok_or_else(|| io::Error::other("no TCP address"))?;
    ready(address);
    reactor.run().map_err(io::Error::other)
}
