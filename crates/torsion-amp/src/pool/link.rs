//! How the pool reaches one worker: the protocols that carry its AMP
//! connection (over a child's pipes or a client connection) and tell the
//! pool when the worker is gone, and the handle that stops or kills it.

use std::fmt;
use std::rc::Weak;

use torsion::net::{HalfClose, Protocol, Transport};
use torsion::process::{ProcessProtocol, ProcessTransport, Signal};
use torsion::{Deferred, Failure, Reactor};

use super::Shared;
use super::options::{ProcessStarter, Starter};
use crate::{Amp, AmpProcessProtocol, AmpProtocol, Responders};

/// The pool's hold on a worker.
#[derive(Clone)]
pub(super) enum Link {
    /// A child process.
    Process(ProcessTransport),
    /// A connection to a remote worker (`None` until it is up).
    Remote(Option<Transport>),
}

impl Link {
    /// Asks the worker to finish: its stdin (or the connection) is closed
    /// once what was written has gone out, and a worker exits when it
    /// reads end of file.
    pub(super) fn close(&self, amp: &Amp) {
        match self {
            Link::Process(_) => amp.lose_connection(),
            Link::Remote(Some(transport)) => transport.lose_connection(),
            Link::Remote(None) => {}
        }
    }

    /// Stops the worker now: `signal` for a process, an abort for a
    /// connection.
    pub(super) fn kill(&self, signal: Signal) {
        match self {
            // Fails only once the child is reaped, when there is nothing
            // left to kill.
            Link::Process(transport) => drop(transport.signal_process(signal)),
            Link::Remote(Some(transport)) => transport.abort_connection(),
            Link::Remote(None) => {}
        }
    }

    pub(super) fn pid(&self) -> Option<u32> {
        match self {
            Link::Process(transport) => transport.pid(),
            Link::Remote(_) => None,
        }
    }
}

/// A worker being brought up: its connection's handle, the link, and for
/// a remote worker the Deferred of the connection.
pub(super) struct Started {
    pub(super) amp: Amp,
    pub(super) link: Link,
    pub(super) connecting: Option<Deferred<Transport>>,
}

/// Starts worker `id` with `starter`; the pool hears of its end through
/// `pool.worker_ended(id, ..)`.
pub(super) fn start(
    reactor: &Reactor,
    starter: &Starter,
    responders: Responders,
    pool: Weak<Shared>,
    id: u64,
) -> Result<Started, Failure> {
    let (amp, protocol) = Amp::new(responders);
    match starter {
        Starter::Process(process) => {
            let transport = spawn(reactor, process, protocol, pool, id)?;
            Ok(Started {
                amp,
                link: Link::Process(transport),
                connecting: None,
            })
        }
        Starter::Remote(description) => {
            let endpoint = torsion::endpoints::client_from_string(reactor, description)
                .map_err(Failure::new)?;
            let connecting = endpoint.connect(WorkerConnection {
                inner: protocol,
                pool,
                id,
            });
            Ok(Started {
                amp,
                link: Link::Remote(None),
                connecting: Some(connecting),
            })
        }
    }
}

fn spawn(
    reactor: &Reactor,
    starter: &ProcessStarter,
    protocol: AmpProtocol,
    pool: Weak<Shared>,
    id: u64,
) -> Result<ProcessTransport, Failure> {
    let watched = WorkerProcess {
        inner: AmpProcessProtocol::new(protocol),
        pool,
        id,
    };
    reactor
        .spawn_process(
            watched,
            starter.program(),
            starter.arguments(),
            starter.spawn_options(),
        )
        .map_err(Failure::new)
}

/// Tells the pool, if it is still there, that worker `id` is gone.
fn ended(pool: &Weak<Shared>, id: u64, reason: &Failure) {
    if let Some(pool) = pool.upgrade() {
        pool.worker_ended(id, reason);
    }
}

/// A worker process's AMP connection, which tells the pool first when the
/// process has ended, so that nothing is handed to the worker while its
/// calls are being failed.
struct WorkerProcess {
    inner: AmpProcessProtocol,
    pool: Weak<Shared>,
    id: u64,
}

impl ProcessProtocol for WorkerProcess {
    fn connection_made(&mut self, transport: &ProcessTransport) {
        self.inner.connection_made(transport);
    }

    fn out_received(&mut self, data: &[u8]) {
        self.inner.out_received(data);
    }

    fn err_received(&mut self, data: &[u8]) {
        self.inner.err_received(data);
    }

    fn process_ended(&mut self, reason: Failure) {
        ended(&self.pool, self.id, &reason);
        self.inner.process_ended(reason);
    }
}

/// A remote worker's AMP connection, likewise.
struct WorkerConnection {
    inner: AmpProtocol,
    pool: Weak<Shared>,
    id: u64,
}

impl Protocol for WorkerConnection {
    fn connection_made(&mut self, transport: &Transport) {
        self.inner.connection_made(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        self.inner.data_received(data);
    }

    fn connection_lost(&mut self, reason: Failure) {
        ended(&self.pool, self.id, &reason);
        self.inner.connection_lost(reason);
    }

    fn read_connection_lost(&mut self) -> HalfClose {
        self.inner.read_connection_lost()
    }

    fn reading_resumed(&mut self) {
        self.inner.reading_resumed();
    }

    fn protocol_name(&self) -> &'static str {
        "AMP (pool worker)"
    }
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Link::Process(transport) => write!(f, "Process({:?})", transport.pid()),
            Link::Remote(transport) => write!(f, "Remote(connected: {})", transport.is_some()),
        }
    }
}
