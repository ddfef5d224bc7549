//! A read-only look at what a reactor holds right now (Twisted's manhole,
//! tokio-console's task list): its connections and listening ports, its
//! pending timers, the Deferreds not yet fired, and what other layers
//! report through their [extensions](super::Extension) (the default thread
//! pool, the blocking bridge).
//!
//! Nothing here runs unless somebody asks: [`Reactor::snapshot`] walks the
//! tables the reactor already keeps (its source table, its timer heap,
//! its task and thread-result tables), so a reactor nobody looks at pays
//! only for one counter (the count of unfired Deferreds, a plain add on a
//! path that already allocates). A connection's byte figures are the
//! kernel's (`TCP_INFO`), read when the snapshot is taken; its age comes
//! from the time it opened, kept in eight bytes that fit its allocation.
//!
//! ```text
//!   Reactor::snapshot()
//!     sources table  -> each connection / port describes itself
//!     timer heap     -> count, the earliest deadlines
//!     tasks, thread results, cross-thread queue, unfired Deferreds
//!     extensions     -> thread pools, bridge (Extension::introspect)
//! ```
//!
//! ```
//! use std::time::Duration;
//! use torsion::Reactor;
//!
//! let reactor = Reactor::new()?;
//! let _call = reactor.call_later(Duration::from_secs(60), || {});
//! let snapshot = reactor.snapshot();
//! assert_eq!(snapshot.timers.pending, 1);
//! assert!(snapshot.timers.next[0] <= Duration::from_secs(60));
//! assert!(snapshot.connections.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The figures are plain data with no serde in the core; `torsion-web`'s
//! live view serves them as JSON.

use std::time::{Duration, Instant};

use super::Reactor;

/// How many of the earliest timer deadlines a snapshot lists.
pub const NEXT_DEADLINES: usize = 10;

/// What a reactor holds at one moment (see [`Reactor::snapshot`]).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Snapshot {
    /// Open stream connections (TCP, UNIX, TLS), oldest first.
    pub connections: Vec<ConnectionInfo>,
    /// Listening ports and bound datagram sockets.
    pub ports: Vec<PortInfo>,
    /// Scheduled calls not yet run or cancelled.
    pub timers: TimerInfo,
    /// Futures spawned with [`Reactor::spawn`] and not finished.
    pub tasks: usize,
    /// Deferreds waiting for a result from another thread (a thread pool's
    /// job, say): the reactor's table of thread results.
    pub waiting_for_threads: usize,
    /// Calls and completions posted from other threads and not yet run.
    pub queued_calls: usize,
    /// Deferreds made on this thread that have not fired yet (see
    /// [`pending_deferreds`](crate::defer::pending_deferreds) for exactly
    /// what counts).
    pub pending_deferreds: usize,
    /// Descriptors watched with `add_reader` / `add_writer`.
    pub watches: usize,
    /// Thread pools the reactor uses (its default pool, once made).
    pub thread_pools: Vec<ThreadPoolInfo>,
    /// The blocking bridge's figures, when a bridge drives this reactor.
    pub bridge: Option<BridgeInfo>,
}

/// One open connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionInfo {
    /// The other end's address.
    pub peer: String,
    /// This end's address.
    pub host: String,
    /// `"tcp"` or `"unix"`, with `"+tls"` when TLS runs over it.
    pub transport: String,
    /// What speaks on it: the name set with
    /// [`Transport::set_protocol_name`](crate::net::Transport::set_protocol_name),
    /// else the protocol's [`protocol_name`](crate::net::Protocol::protocol_name).
    pub protocol: String,
    /// Bytes received from the peer, as the kernel counts them (for TLS,
    /// the encrypted records), whether read yet or still queued in the
    /// socket. `None` where the kernel keeps no count: UNIX sockets.
    pub bytes_in: Option<u64>,
    /// Bytes written to the socket, as the kernel counts them (sent, or
    /// waiting in its send queue; not those the transport still buffers).
    /// `None` where the kernel keeps no count: UNIX sockets.
    pub bytes_out: Option<u64>,
    /// Bytes the transport holds that the socket has not taken yet.
    pub buffered: usize,
    /// How long the connection has been open.
    pub age: Duration,
}

/// One listening port or bound datagram socket.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PortInfo {
    /// The bound address.
    pub address: String,
    /// `"tcp"`, `"unix"`, `"tls"` or `"udp"`.
    pub kind: String,
    /// Connections accepted so far (0 for a datagram socket).
    pub accepted: u64,
}

/// The reactor's timer queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TimerInfo {
    /// Calls scheduled and not yet run or cancelled.
    pub pending: usize,
    /// Time from the snapshot to each of the earliest deadlines, earliest
    /// first, at most [`NEXT_DEADLINES`] of them (zero for one overdue).
    pub next: Vec<Duration>,
}

/// A thread pool's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThreadPoolInfo {
    /// The pool's name.
    pub name: String,
    /// Worker threads alive.
    pub workers: usize,
    /// Workers not waiting for a job: running one, or just started to take
    /// one from the queue.
    pub busy: usize,
    /// Jobs waiting for a worker.
    pub queued: usize,
    /// Jobs run to the end.
    pub completed: u64,
    /// The most workers the pool starts.
    pub max: usize,
}

impl ThreadPoolInfo {
    /// A pool's figures.
    pub fn new(
        name: impl Into<String>,
        workers: usize,
        busy: usize,
        queued: usize,
        completed: u64,
        max: usize,
    ) -> ThreadPoolInfo {
        ThreadPoolInfo {
            name: name.into(),
            workers,
            busy,
            queued,
            completed,
            max,
        }
    }
}

/// The blocking bridge's figures (see [`crate::blocking`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BridgeInfo {
    /// Operations started by `run_in_reactor` whose result has not arrived:
    /// blocking callers waiting, or about to wait, on this reactor.
    pub waiting: usize,
}

impl BridgeInfo {
    /// The bridge's figures.
    pub fn new(waiting: usize) -> BridgeInfo {
        BridgeInfo { waiting }
    }
}

/// What a source in the reactor's table says about itself.
pub(crate) enum SourceInfo {
    Connection(ConnectionInfo),
    Port(PortInfo),
}

impl ConnectionInfo {
    pub(crate) fn new(
        peer: String,
        host: String,
        transport: String,
        protocol: String,
        bytes: Option<(u64, u64)>,
        buffered: usize,
        age: Duration,
    ) -> ConnectionInfo {
        ConnectionInfo {
            peer,
            host,
            transport,
            protocol,
            bytes_in: bytes.map(|(bytes_in, _)| bytes_in),
            bytes_out: bytes.map(|(_, bytes_out)| bytes_out),
            buffered,
            age,
        }
    }
}

impl PortInfo {
    pub(crate) fn new(address: String, kind: &str, accepted: u64) -> PortInfo {
        PortInfo {
            address,
            kind: kind.to_owned(),
            accepted,
        }
    }
}

impl Reactor {
    /// What this reactor holds right now: connections, ports, timers,
    /// tasks, Deferreds and the figures its extensions report (see the
    /// [module documentation](self)). Costs a walk over those tables, paid
    /// only by the caller; call it on the reactor's thread.
    pub fn snapshot(&self) -> Snapshot {
        let now = Instant::now();
        let sources = self.inner.watches.borrow().all_sources();
        let mut snapshot = Snapshot {
            timers: TimerInfo {
                pending: self.inner.timers.len(),
                next: self
                    .inner
                    .timers
                    .next_deadlines(NEXT_DEADLINES)
                    .into_iter()
                    .map(|deadline| deadline.saturating_duration_since(now))
                    .collect(),
            },
            tasks: self.inner.executor.len(),
            waiting_for_threads: self.inner.thread_results.len(),
            queued_calls: self.inner.shared.queued(),
            pending_deferreds: crate::defer::pending_deferreds(),
            watches: self.inner.watches.borrow().callbacks(),
            ..Snapshot::default()
        };
        // Each source describes itself outside the table's borrow.
        for source in sources {
            match source.describe(now) {
                Some(SourceInfo::Connection(info)) => snapshot.connections.push(info),
                Some(SourceInfo::Port(info)) => snapshot.ports.push(info),
                None => {}
            }
        }
        snapshot
            .connections
            .sort_by(|a, b| b.age.cmp(&a.age).then_with(|| a.peer.cmp(&b.peer)));
        self.inner.extensions.introspect(self, &mut snapshot);
        snapshot
    }
}
