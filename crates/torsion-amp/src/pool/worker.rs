//! The worker's side, in Rust: AMP served on the process's own stdin and
//! stdout (Twisted's `StandardIO` with an AMP protocol, what an ampoule
//! child runs).

use std::io;

use torsion::defer::Resolver;
use torsion::net::{Protocol, Transport};
use torsion::{Deferred, Failure, Reactor};

use crate::{Amp, AmpProtocol, Responders};

/// Serves `responders` on this process's stdin and stdout: commands are
/// read from stdin, answers written to stdout. Returns the connection's
/// handle (a worker may call its pool back with it) and a Deferred that
/// fires once stdin has ended and what was written to stdout has gone
/// out, which is when a worker should exit.
///
/// Stdout then belongs to AMP: the program must not print to it (log to
/// stderr, which the pool logs line by line). Stdin and stdout must be
/// pipes (or sockets), as a pool's worker has them.
///
/// # Errors
///
/// When stdin or stdout cannot be duplicated or watched (a regular file,
/// which the kernel cannot poll).
pub fn serve_stdio(reactor: &Reactor, responders: Responders) -> io::Result<(Amp, Deferred<()>)> {
    let (amp, protocol) = Amp::new(responders);
    let (done, resolver) = Deferred::new();
    reactor.standard_io(Worker {
        protocol,
        done: Some(resolver),
    })?;
    Ok((amp, done))
}

/// Runs a worker: a reactor serving `responders` on stdin and stdout
/// until stdin ends (the pool closed it, or went away). The whole `main`
/// of a worker program:
///
/// ```no_run
/// use serde::{Deserialize, Serialize};
/// use torsion_amp::{NoError, Responders};
///
/// #[derive(Serialize, Deserialize)]
/// pub struct Pair { a: i64, b: i64 }
/// #[derive(Serialize, Deserialize)]
/// pub struct Total { total: i64 }
///
/// torsion_amp::command! {
///     /// Adds two integers.
///     pub struct Sum = "Sum" { arguments: Pair, response: Total, errors: NoError }
/// }
///
/// fn main() -> std::io::Result<()> {
///     torsion_amp::pool::run_worker(
///         Responders::new().respond::<Sum>(|_, p| Ok(Total { total: p.a + p.b })),
///     )
/// }
/// ```
///
/// # Errors
///
/// When the reactor cannot be made or run, or stdin and stdout cannot
/// be served (see [`serve_stdio`]).
pub fn run_worker(responders: Responders) -> io::Result<()> {
    let reactor = Reactor::new()?;
    let (_amp, done) = serve_stdio(&reactor, responders)?;
    let r = reactor.clone();
    drop(done.both(move |_| r.stop()));
    reactor.run().map_err(io::Error::other)
}

/// The AMP protocol on stdin and stdout; its end (stdin ended and stdout
/// flushed and closed, or stdout gone) is the worker's end.
struct Worker {
    protocol: AmpProtocol,
    done: Option<Resolver<()>>,
}

impl Protocol for Worker {
    fn connection_made(&mut self, transport: &Transport) {
        self.protocol.connection_made(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        self.protocol.data_received(data);
    }

    fn connection_lost(&mut self, reason: Failure) {
        self.protocol.connection_lost(reason);
        if let Some(done) = self.done.take() {
            done.resolve(());
        }
    }
}
