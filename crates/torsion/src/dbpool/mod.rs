//! A pool of blocking database connections used from threads, with results
//! as Deferreds (Twisted's `adbapi.ConnectionPool`).
//!
//! Database drivers block; the reactor thread must not. A
//! [`ConnectionPool`] owns a [`ThreadPool`] of its own and a set of open
//! connections. Each call takes a connection on a worker thread, runs in a
//! transaction there, puts the connection back and fires its Deferred on
//! the reactor thread:
//!
//! ```text
//!   reactor thread                 pool thread (torsion-db-N)
//!   run_interaction(f) --------->  conn = idle connection, or connect()
//!                                  begin(conn); f(conn)?; commit(conn)
//!                                      on Err or panic: rollback(conn),
//!                                      and drop conn if is_broken
//!   Deferred<T> <-------------------  result
//! ```
//!
//! Drivers plug in through [`DbConnector`] (connect, the transaction hooks,
//! and whether a connection is broken) and [`SqlConnector`] (plain
//! statements, for [`run_query`](ConnectionPool::run_query) and
//! [`run_operation`](ConnectionPool::run_operation)). SQLite, bundled, is
//! the embedded default: [`SqliteConnector`] (with the `sqlite` feature, on
//! by default).
//!
//! There are never more connections than the pool has threads (`max`), and
//! `min` are opened when the pool starts. The pool is closed (threads
//! joined, connections dropped) during the reactor's shutdown, or earlier
//! with [`close`](ConnectionPool::close).
//!
//! ```
//! use torsion::Reactor;
//! use torsion::dbpool::{ConnectionPool, SqliteConnector, Value};
//!
//! let dir = std::env::temp_dir().join(format!("torsion-dbpool-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let reactor = Reactor::new()?;
//! let pool = ConnectionPool::new(&reactor, SqliteConnector::new(dir.join("doc.db")));
//! let r = reactor.clone();
//! let db = pool.clone();
//! drop(reactor.spawn(async move {
//!     db.run_operation("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)", vec![]).await?;
//!     db.run_interaction(|conn| {
//!         conn.execute("INSERT INTO kv VALUES (?1, ?2)", ["greeting", "hello"])?;
//!         conn.execute("INSERT INTO kv VALUES (?1, ?2)", ["subject", "world"])
//!     })
//!     .await?;
//!     let rows = db.run_query("SELECT v FROM kv ORDER BY k", vec![]).await?;
//!     assert_eq!(rows, vec![vec![Value::from("hello".to_owned())], vec![Value::from("world".to_owned())]]);
//!     r.stop().unwrap();
//!     Ok::<(), torsion::Failure>(())
//! }));
//! reactor.run()?;
//! std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(test)]
mod tests;

use std::fmt;

use crate::failure::catch_panic;
use crate::reactor::{Phase, SystemEvent, TriggerId, WeakReactor};
use crate::sync::{Arc, Mutex, lock};
use crate::threads::{StopMode, ThreadPool, ThreadPoolStats, defer_to_thread_pool_result};
use crate::{Deferred, Failure, Reactor};

/// The SQLite driver the default connector uses, for its connection and
/// error types.
#[cfg(feature = "sqlite")]
pub use rusqlite;
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteConnector, Value};

/// The default fewest connections of a pool (Twisted's `cp_min`).
pub const DEFAULT_MIN_CONNECTIONS: usize = 3;
/// The default most connections of a pool (Twisted's `cp_max`).
pub const DEFAULT_MAX_CONNECTIONS: usize = 5;

/// How a [`ConnectionPool`] opens connections and runs transactions on
/// them: the contract a blocking database driver implements.
///
/// Every method runs on one of the pool's worker threads, never on the
/// reactor thread, and may block. A connection is used by one thread at a
/// time, but may move between the pool's threads (so it must be `Send`).
///
/// The pool calls, for each interaction: [`begin`](DbConnector::begin), the
/// user's function, then [`commit`](DbConnector::commit) if it returned `Ok`,
/// or [`rollback`](DbConnector::rollback) if it failed, panicked or the commit
/// failed. After a failure it asks [`is_broken`](DbConnector::is_broken); a
/// broken connection (or one whose rollback failed) is dropped, and the
/// next call opens a new one.
pub trait DbConnector: Send + Sync + 'static {
    /// An open connection.
    type Connection: Send + 'static;
    /// The driver's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Opens a new connection (Twisted's `connect` plus `cp_openfun`).
    fn connect(&self) -> Result<Self::Connection, Self::Error>;

    /// Starts a transaction. The default does nothing (for drivers that
    /// always have one open).
    fn begin(&self, connection: &mut Self::Connection) -> Result<(), Self::Error> {
        let _ = connection;
        Ok(())
    }

    /// Commits the transaction. The default does nothing.
    fn commit(&self, connection: &mut Self::Connection) -> Result<(), Self::Error> {
        let _ = connection;
        Ok(())
    }

    /// Rolls the transaction back. The default does nothing.
    fn rollback(&self, connection: &mut Self::Connection) -> Result<(), Self::Error> {
        let _ = connection;
        Ok(())
    }

    /// After `failure` (and a successful rollback), whether `connection` is
    /// unusable and must be dropped (Twisted's `cp_reconnect` check with
    /// `cp_good_sql`). The default trusts the connection.
    fn is_broken(&self, connection: &mut Self::Connection, failure: &Failure) -> bool {
        let _ = (connection, failure);
        false
    }
}

/// A [`DbConnector`] that runs plain SQL statements with parameters, for
/// [`ConnectionPool::run_query`] and [`ConnectionPool::run_operation`].
pub trait SqlConnector: DbConnector {
    /// A parameter or column value.
    type Value: Send + 'static;
    /// One result row.
    type Row: Send + 'static;

    /// Runs a statement and returns every row it produces.
    fn query(
        &self,
        connection: &mut Self::Connection,
        sql: &str,
        params: &[Self::Value],
    ) -> Result<Vec<Self::Row>, Self::Error>;

    /// Runs a statement and returns how many rows it changed.
    fn execute(
        &self,
        connection: &mut Self::Connection,
        sql: &str,
        params: &[Self::Value],
    ) -> Result<usize, Self::Error>;
}

/// A snapshot of a pool's counters (see [`ConnectionPool::stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionPoolStats {
    /// Connections open now (idle or in use).
    pub open: usize,
    /// Open connections waiting for work.
    pub idle: usize,
    /// Connections opened since the pool started.
    pub connects: u64,
    /// Connections dropped because they were broken.
    pub dropped_broken: u64,
    /// The pool's threads.
    pub threads: ThreadPoolStats,
}

struct Connections<C> {
    idle: Vec<C>,
    open: usize,
    connects: u64,
    dropped_broken: u64,
    closed: bool,
}

struct Shared<C: DbConnector> {
    connector: C,
    connections: Mutex<Connections<C::Connection>>,
}

impl<C: DbConnector> Shared<C> {
    /// An idle connection, or a new one.
    fn checkout(&self) -> Result<C::Connection, Failure> {
        if let Some(connection) = lock(&self.connections).idle.pop() {
            return Ok(connection);
        }
        let connection = self.connector.connect()?;
        let mut connections = lock(&self.connections);
        connections.open += 1;
        connections.connects += 1;
        Ok(connection)
    }

    fn checkin(&self, connection: C::Connection) {
        let mut connections = lock(&self.connections);
        if connections.closed {
            connections.open -= 1;
            drop(connections);
            drop(connection);
        } else {
            connections.idle.push(connection);
        }
    }

    fn discard_broken(&self, connection: C::Connection) {
        {
            let mut connections = lock(&self.connections);
            connections.open -= 1;
            connections.dropped_broken += 1;
        }
        drop(connection);
    }

    /// Opens one more connection if fewer than `min` are open (a warm-up
    /// job).
    fn fill_to(&self, min: usize) {
        {
            let mut connections = lock(&self.connections);
            if connections.open >= min || connections.closed {
                return;
            }
            // Counted now, so a concurrent warm-up does not open it too.
            connections.open += 1;
        }
        match self.connector.connect() {
            Ok(connection) => {
                lock(&self.connections).connects += 1;
                self.checkin(connection);
            }
            Err(error) => {
                lock(&self.connections).open -= 1;
                tracing::warn!(%error, "could not open a pooled connection");
            }
        }
    }

    /// Runs `f` in a transaction on a pooled connection (on a pool thread).
    fn interact<T>(
        &self,
        f: impl FnOnce(&C, &mut C::Connection) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let connector = &self.connector;
        let mut connection = self.checkout()?;
        let outcome = connector
            .begin(&mut connection)
            .map_err(Failure::new)
            .and_then(|()| {
                let value = catch_panic(|| f(connector, &mut connection)).and_then(|r| r)?;
                connector.commit(&mut connection)?;
                Ok(value)
            });
        match outcome {
            Ok(value) => {
                self.checkin(connection);
                Ok(value)
            }
            Err(failure) => {
                let rolled_back = match connector.rollback(&mut connection) {
                    Ok(()) => true,
                    Err(error) => {
                        tracing::error!(%error, original = %failure, "rollback failed");
                        false
                    }
                };
                if !rolled_back || connector.is_broken(&mut connection, &failure) {
                    tracing::warn!(%failure, "dropping a broken pooled connection");
                    self.discard_broken(connection);
                } else {
                    self.checkin(connection);
                }
                Err(failure)
            }
        }
    }

    fn close(&self) {
        let idle = {
            let mut connections = lock(&self.connections);
            connections.closed = true;
            let idle = std::mem::take(&mut connections.idle);
            connections.open -= idle.len();
            idle
        };
        drop(idle);
    }
}

/// A pool of blocking database connections, each call run on the pool's
/// own threads inside a transaction (Twisted's `adbapi.ConnectionPool`).
///
/// Cheap to clone; clones share the pool. It lives on the reactor's thread
/// (`!Send`); see the [module documentation](self) for an example.
pub struct ConnectionPool<C: DbConnector> {
    shared: Arc<Shared<C>>,
    threads: ThreadPool,
    reactor: WeakReactor,
    trigger: std::rc::Rc<std::cell::Cell<Option<TriggerId>>>,
}

impl<C: DbConnector> Clone for ConnectionPool<C> {
    fn clone(&self) -> Self {
        ConnectionPool {
            shared: self.shared.clone(),
            threads: self.threads.clone(),
            reactor: self.reactor.clone(),
            trigger: self.trigger.clone(),
        }
    }
}

impl<C: DbConnector> ConnectionPool<C> {
    /// A pool of [`DEFAULT_MIN_CONNECTIONS`] to [`DEFAULT_MAX_CONNECTIONS`]
    /// connections made by `connector`, closed during `reactor`'s shutdown.
    pub fn new(reactor: &Reactor, connector: C) -> ConnectionPool<C> {
        ConnectionPool::with_limits(
            reactor,
            connector,
            DEFAULT_MIN_CONNECTIONS,
            DEFAULT_MAX_CONNECTIONS,
        )
    }

    /// A pool that opens `min` connections now (on its threads) and never
    /// more than `max` (at least 1; `min` is at most `max`). Its threads are
    /// named `torsion-db-N`.
    pub fn with_limits(
        reactor: &Reactor,
        connector: C,
        min: usize,
        max: usize,
    ) -> ConnectionPool<C> {
        let threads = ThreadPool::new("torsion-db", min, max);
        let min = threads.stats().min;
        let shared = Arc::new(Shared {
            connector,
            connections: Mutex::new(Connections {
                idle: Vec::new(),
                open: 0,
                connects: 0,
                dropped_broken: 0,
                closed: false,
            }),
        });
        for _ in 0..min {
            let shared = shared.clone();
            let _ = threads.call_in_thread(move || shared.fill_to(min));
        }
        let pool = ConnectionPool {
            shared,
            threads,
            reactor: reactor.downgrade(),
            trigger: Default::default(),
        };
        let closing = pool.clone();
        let handle = reactor.handle();
        let id =
            reactor.add_system_event_trigger(Phase::During, SystemEvent::Shutdown, move || {
                closing.trigger.set(None);
                crate::threads::stop_blocking_reactor(&handle, &closing.threads);
                closing.shared.close();
            });
        pool.trigger.set(Some(id));
        pool
    }

    /// Runs `f` on a pool thread with a connection, inside a transaction:
    /// committed if `f` returns `Ok`, rolled back if it returns `Err` or
    /// panics (Twisted's `runInteraction`). The Deferred fires on the
    /// reactor thread with `f`'s value, or its error, a commit error, or a
    /// [`Panicked`](crate::error::Panicked) failure.
    pub fn run_interaction<T, E, F>(&self, f: F) -> Deferred<T>
    where
        F: FnOnce(&mut C::Connection) -> Result<T, E> + Send + 'static,
        E: Into<Failure>,
        T: Send + 'static,
    {
        self.run(move |_, connection| f(connection).map_err(Into::into))
    }

    fn run<T, F>(&self, f: F) -> Deferred<T>
    where
        F: FnOnce(&C, &mut C::Connection) -> Result<T, Failure> + Send + 'static,
        T: Send + 'static,
    {
        let Some(reactor) = self.reactor.upgrade() else {
            return Deferred::fail(crate::error::ReactorError::Stopped);
        };
        let shared = self.shared.clone();
        defer_to_thread_pool_result(&reactor, &self.threads, move || shared.interact(f))
    }

    /// Counts of connections and threads right now.
    pub fn stats(&self) -> ConnectionPoolStats {
        let connections = lock(&self.shared.connections);
        ConnectionPoolStats {
            open: connections.open,
            idle: connections.idle.len(),
            connects: connections.connects,
            dropped_broken: connections.dropped_broken,
            threads: self.threads.stats(),
        }
    }

    /// The connector the pool opens connections with.
    pub fn connector(&self) -> &C {
        &self.shared.connector
    }

    /// Closes the pool now: queued calls still run, then the threads are
    /// joined and every connection dropped. Later calls fail with
    /// [`PoolStopped`](crate::error::PoolStopped). Blocks the calling
    /// thread until running calls finish.
    pub fn close(&self) {
        if let Some(id) = self.trigger.take()
            && let Some(reactor) = self.reactor.upgrade()
        {
            let _ = reactor.remove_system_event_trigger(id);
        }
        self.threads.stop(StopMode::FinishQueued);
        self.shared.close();
    }
}

impl<C: SqlConnector> ConnectionPool<C> {
    /// Runs one statement in a transaction and returns its rows (Twisted's
    /// `runQuery`).
    pub fn run_query(
        &self,
        sql: impl Into<String>,
        params: Vec<C::Value>,
    ) -> Deferred<Vec<C::Row>> {
        let sql = sql.into();
        self.run(move |connector, connection| Ok(connector.query(connection, &sql, &params)?))
    }

    /// Runs one statement in a transaction and returns how many rows it
    /// changed (Twisted's `runOperation`, which returns nothing).
    pub fn run_operation(&self, sql: impl Into<String>, params: Vec<C::Value>) -> Deferred<usize> {
        let sql = sql.into();
        self.run(move |connector, connection| Ok(connector.execute(connection, &sql, &params)?))
    }
}

impl<C: DbConnector> fmt::Debug for ConnectionPool<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionPool")
            .field("stats", &self.stats())
            .finish()
    }
}
