//! The live view's JSON document: a [`Snapshot`] in serde's terms, with
//! durations in milliseconds.

use serde::Serialize;
use torsion::reactor::Snapshot;
use torsion::reactor::introspect::{ConnectionInfo, PortInfo, ThreadPoolInfo};

/// What `/live.json` serves: the reactor's [`Snapshot`] with the process
/// id. Field for field the snapshot's, durations as whole milliseconds
/// (`age_ms`, `next_ms`).
///
/// ```
/// use torsion::Reactor;
/// use torsion_web::LiveView;
///
/// let reactor = Reactor::new()?;
/// let document = LiveView::document(&reactor);
/// let json = serde_json::to_value(&document)?;
/// assert_eq!(json["timers"]["pending"], 0);
/// assert!(json["connections"].as_array().unwrap().is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct LiveDocument {
    /// This process's id.
    pub pid: u32,
    /// Open connections, oldest first.
    pub connections: Vec<Connection>,
    /// Listening ports and bound datagram sockets.
    pub ports: Vec<Port>,
    /// The timer queue.
    pub timers: Timers,
    /// Spawned futures not finished.
    pub tasks: usize,
    /// Deferreds waiting for another thread's result.
    pub waiting_for_threads: usize,
    /// Calls posted from other threads, not yet run.
    pub queued_calls: usize,
    /// Deferreds made on the reactor's thread and not fired.
    pub pending_deferreds: usize,
    /// Descriptors watched with `add_reader` / `add_writer`.
    pub watches: usize,
    /// The reactor's thread pools.
    pub thread_pools: Vec<Pool>,
    /// The blocking bridge, when one drives the reactor.
    pub bridge: Option<Bridge>,
}

/// One open connection.
#[derive(Debug, Clone, Serialize)]
pub struct Connection {
    /// The other end's address.
    pub peer: String,
    /// This end's address.
    pub host: String,
    /// `tcp`, `unix`, `tcp+tls`, ...
    pub transport: String,
    /// What speaks on it (`http`, `websocket`, or the protocol's type).
    pub protocol: String,
    /// Bytes received from the peer, as the kernel counts them; `null`
    /// for a UNIX socket, where it keeps no count.
    pub bytes_in: Option<u64>,
    /// Bytes written to the socket, as the kernel counts them; `null` for
    /// a UNIX socket.
    pub bytes_out: Option<u64>,
    /// Bytes waiting for the socket to take them.
    pub buffered: usize,
    /// Milliseconds since the connection opened.
    pub age_ms: u64,
}

/// One listening port.
#[derive(Debug, Clone, Serialize)]
pub struct Port {
    /// The bound address.
    pub address: String,
    /// `tcp`, `unix`, `tls`, `udp`, ...
    pub kind: String,
    /// Connections accepted so far.
    pub accepted: u64,
}

/// The timer queue.
#[derive(Debug, Clone, Serialize)]
pub struct Timers {
    /// Calls scheduled, not run or cancelled.
    pub pending: usize,
    /// Milliseconds to each of the earliest deadlines, earliest first.
    pub next_ms: Vec<u64>,
}

/// A thread pool's counters.
#[derive(Debug, Clone, Serialize)]
pub struct Pool {
    /// The pool's name.
    pub name: String,
    /// Worker threads alive.
    pub workers: usize,
    /// Workers not waiting for a job.
    pub busy: usize,
    /// Jobs waiting for a worker.
    pub queued: usize,
    /// Jobs run to the end.
    pub completed: u64,
    /// The most workers the pool starts.
    pub max: usize,
}

/// The blocking bridge's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Bridge {
    /// Blocking callers whose operation has not finished.
    pub waiting: usize,
}

impl LiveDocument {
    /// The document for `snapshot`.
    pub fn from_snapshot(snapshot: &Snapshot) -> LiveDocument {
        LiveDocument {
            pid: std::process::id(),
            connections: snapshot.connections.iter().map(connection).collect(),
            ports: snapshot.ports.iter().map(port).collect(),
            timers: Timers {
                pending: snapshot.timers.pending,
                next_ms: snapshot.timers.next.iter().map(|d| millis(*d)).collect(),
            },
            tasks: snapshot.tasks,
            waiting_for_threads: snapshot.waiting_for_threads,
            queued_calls: snapshot.queued_calls,
            pending_deferreds: snapshot.pending_deferreds,
            watches: snapshot.watches,
            thread_pools: snapshot.thread_pools.iter().map(pool).collect(),
            bridge: snapshot.bridge.as_ref().map(|bridge| Bridge {
                waiting: bridge.waiting,
            }),
        }
    }
}

fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn connection(info: &ConnectionInfo) -> Connection {
    Connection {
        peer: info.peer.clone(),
        host: info.host.clone(),
        transport: info.transport.clone(),
        protocol: info.protocol.clone(),
        bytes_in: info.bytes_in,
        bytes_out: info.bytes_out,
        buffered: info.buffered,
        age_ms: millis(info.age),
    }
}

fn port(info: &PortInfo) -> Port {
    Port {
        address: info.address.clone(),
        kind: info.kind.clone(),
        accepted: info.accepted,
    }
}

fn pool(info: &ThreadPoolInfo) -> Pool {
    Pool {
        name: info.name.clone(),
        workers: info.workers,
        busy: info.busy,
        queued: info.queued,
        completed: info.completed,
        max: info.max,
    }
}
