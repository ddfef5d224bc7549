//! SQLite (bundled through rusqlite) as the pool's embedded database.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, params_from_iter};

use super::{DbConnector, SqlConnector};
use crate::Failure;

pub use rusqlite::types::Value;

type OnConnect = Box<dyn Fn(&Connection) -> rusqlite::Result<()> + Send + Sync>;

/// Opens connections to one SQLite database file, for a
/// [`ConnectionPool`](super::ConnectionPool).
///
/// Each connection waits up to the [busy timeout](SqliteConnector::busy_timeout)
/// (5 s by default) for another connection's lock. Transactions are
/// `BEGIN` / `COMMIT` / `ROLLBACK`; a connection is broken if, after a
/// failure, it is still inside a transaction or cannot run `SELECT 1`.
/// Rows come back as `Vec<Value>`, one [`Value`] per column.
///
/// Every connection of `":memory:"` is a separate empty database; use a
/// file (or a `file:...?mode=memory&cache=shared` URI) to share data.
pub struct SqliteConnector {
    path: PathBuf,
    busy_timeout: Duration,
    on_connect: Option<OnConnect>,
}

impl SqliteConnector {
    /// Connections to the database file at `path` (created if missing).
    pub fn new(path: impl AsRef<Path>) -> SqliteConnector {
        SqliteConnector {
            path: path.as_ref().to_owned(),
            busy_timeout: Duration::from_secs(5),
            on_connect: None,
        }
    }

    /// How long a statement waits for another connection's lock before
    /// failing with `SQLITE_BUSY`.
    pub fn busy_timeout(mut self, timeout: Duration) -> SqliteConnector {
        self.busy_timeout = timeout;
        self
    }

    /// Runs `f` on every new connection (Twisted's `cp_openfun`), for
    /// pragmas such as `PRAGMA journal_mode = WAL`.
    pub fn on_connect(
        mut self,
        f: impl Fn(&Connection) -> rusqlite::Result<()> + Send + Sync + 'static,
    ) -> SqliteConnector {
        self.on_connect = Some(Box::new(f));
        self
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl fmt::Debug for SqliteConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteConnector")
            .field("path", &self.path)
            .field("busy_timeout", &self.busy_timeout)
            .finish()
    }
}

impl DbConnector for SqliteConnector {
    type Connection = Connection;
    type Error = rusqlite::Error;

    fn connect(&self) -> rusqlite::Result<Connection> {
        let connection = Connection::open(&self.path)?;
        connection.busy_timeout(self.busy_timeout)?;
        if let Some(on_connect) = &self.on_connect {
            on_connect(&connection)?;
        }
        Ok(connection)
    }

    fn begin(&self, connection: &mut Connection) -> rusqlite::Result<()> {
        connection.execute_batch("BEGIN")
    }

    fn commit(&self, connection: &mut Connection) -> rusqlite::Result<()> {
        connection.execute_batch("COMMIT")
    }

    fn rollback(&self, connection: &mut Connection) -> rusqlite::Result<()> {
        if connection.is_autocommit() {
            // SQLite already rolled back (some errors end the transaction).
            return Ok(());
        }
        connection.execute_batch("ROLLBACK")
    }

    fn is_broken(&self, connection: &mut Connection, _failure: &Failure) -> bool {
        !connection.is_autocommit()
            || connection
                .query_row("SELECT 1", [], |row| row.get::<_, i64>(0))
                .is_err()
    }
}

impl SqlConnector for SqliteConnector {
    type Value = Value;
    type Row = Vec<Value>;

    fn query(
        &self,
        connection: &mut Connection,
        sql: &str,
        params: &[Value],
    ) -> rusqlite::Result<Vec<Vec<Value>>> {
        let mut statement = connection.prepare(sql)?;
        let columns = statement.column_count();
        let rows = statement.query_map(params_from_iter(params), |row| {
            (0..columns)
                .map(|index| row.get::<_, Value>(index))
                .collect()
        })?;
        rows.collect()
    }

    fn execute(
        &self,
        connection: &mut Connection,
        sql: &str,
        params: &[Value],
    ) -> rusqlite::Result<usize> {
        connection.execute(sql, params_from_iter(params))
    }
}
