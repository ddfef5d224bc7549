use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::*;
use crate::error::{Panicked, PoolStopped};
use crate::testing::net_support::turn_until;

const LIMIT: Duration = Duration::from_secs(10);

/// A fresh directory under the system's temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "torsion-dbpool-{}-{}-{name}",
            std::process::id(),
            std::thread::current()
                .name()
                .unwrap_or("t")
                .replace("::", "-"),
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn db(&self) -> PathBuf {
        self.0.join("test.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

type Outcome<T> = Rc<RefCell<Option<Result<T, Failure>>>>;

fn outcome<T: 'static>(deferred: Deferred<T>) -> Outcome<T> {
    let slot = Rc::new(RefCell::new(None));
    let into = slot.clone();
    drop(deferred.both(move |result| {
        *into.borrow_mut() = Some(result);
        Ok::<(), Failure>(())
    }));
    slot
}

/// Turns the reactor until the Deferred has fired and returns its outcome.
fn wait<T: 'static>(reactor: &Reactor, deferred: Deferred<T>) -> Result<T, Failure> {
    let slot = outcome(deferred);
    turn_until(reactor, LIMIT, || slot.borrow().is_some());
    slot.borrow_mut().take().unwrap()
}

fn stop_and_finish(reactor: &Reactor) {
    if !reactor.is_running() && !reactor.is_finished() {
        let _ = reactor.start();
    }
    let _ = reactor.stop();
    let deadline = Instant::now() + LIMIT;
    while !reactor.is_finished() {
        assert!(Instant::now() < deadline, "shutdown did not finish");
        reactor.run_once(Some(Duration::from_millis(10))).unwrap();
    }
}

fn sqlite_pool(reactor: &Reactor, dir: &TempDir) -> ConnectionPool<SqliteConnector> {
    let pool = ConnectionPool::with_limits(reactor, SqliteConnector::new(dir.db()), 1, 3);
    wait(
        reactor,
        pool.run_operation(
            "CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)",
            vec![],
        ),
    )
    .unwrap();
    pool
}

fn count_rows(reactor: &Reactor, pool: &ConnectionPool<SqliteConnector>) -> i64 {
    let rows = wait(reactor, pool.run_query("SELECT COUNT(*) FROM kv", vec![])).unwrap();
    match rows[0][0] {
        Value::Integer(n) => n,
        ref other => panic!("not a count: {other:?}"),
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

// --- SQLite ---

#[test]
fn a_successful_interaction_is_committed() {
    let dir = TempDir::new("commit");
    let reactor = Reactor::new().unwrap();
    let pool = sqlite_pool(&reactor, &dir);
    let changed = wait(
        &reactor,
        pool.run_interaction(|conn| {
            conn.execute("INSERT INTO kv VALUES ('a', '1')", [])?;
            conn.execute("INSERT INTO kv VALUES ('b', '2')", [])
        }),
    );
    assert_eq!(changed.unwrap(), 1);
    // Another connection sees the rows: they were committed.
    let other = rusqlite::Connection::open(dir.db()).unwrap();
    let count: i64 = other
        .query_row("SELECT COUNT(*) FROM kv", [], |row| row.get(0))
        .unwrap();
    assert_eq!(count, 2);
    stop_and_finish(&reactor);
}

#[test]
fn a_failing_interaction_is_rolled_back_and_leaves_no_row() {
    let dir = TempDir::new("rollback");
    let reactor = Reactor::new().unwrap();
    let pool = sqlite_pool(&reactor, &dir);
    let result = wait(
        &reactor,
        pool.run_interaction(|conn| -> Result<(), Failure> {
            conn.execute("INSERT INTO kv VALUES ('a', '1')", [])?;
            Err(Failure::msg("changed my mind"))
        }),
    );
    assert_eq!(result.unwrap_err().to_string(), "changed my mind");
    assert_eq!(count_rows(&reactor, &pool), 0);
    assert_eq!(pool.stats().dropped_broken, 0);
    stop_and_finish(&reactor);
}

#[test]
fn a_failing_statement_is_rolled_back_with_the_driver_error() {
    let dir = TempDir::new("stmt-error");
    let reactor = Reactor::new().unwrap();
    let pool = sqlite_pool(&reactor, &dir);
    let result = wait(
        &reactor,
        pool.run_interaction(|conn| {
            conn.execute("INSERT INTO kv VALUES ('a', '1')", [])?;
            conn.execute("INSERT INTO kv VALUES ('a', 'duplicate')", [])
        }),
    );
    assert!(result.unwrap_err().is::<rusqlite::Error>());
    assert_eq!(count_rows(&reactor, &pool), 0);
    stop_and_finish(&reactor);
}

#[test]
fn a_panicking_interaction_is_rolled_back_and_fails_with_panicked() {
    let dir = TempDir::new("panic");
    let reactor = Reactor::new().unwrap();
    let pool = sqlite_pool(&reactor, &dir);
    let result = wait(
        &reactor,
        pool.run_interaction(|conn| -> Result<(), Failure> {
            conn.execute("INSERT INTO kv VALUES ('a', '1')", [])?;
            panic!("interaction exploded");
        }),
    );
    assert!(result.unwrap_err().is::<Panicked>());
    assert_eq!(count_rows(&reactor, &pool), 0);
    stop_and_finish(&reactor);
}

#[test]
fn run_operation_returns_the_changed_row_count() {
    let dir = TempDir::new("operation");
    let reactor = Reactor::new().unwrap();
    let pool = sqlite_pool(&reactor, &dir);
    for (k, v) in [("a", "1"), ("b", "2"), ("c", "3")] {
        let inserted = pool.run_operation("INSERT INTO kv VALUES (?1, ?2)", vec![text(k), text(v)]);
        assert_eq!(wait(&reactor, inserted).unwrap(), 1);
    }
    let updated = pool.run_operation("UPDATE kv SET v = 'x' WHERE k <> ?1", vec![text("a")]);
    assert_eq!(wait(&reactor, updated).unwrap(), 2);
    stop_and_finish(&reactor);
}

#[test]
fn run_query_returns_every_row_with_its_columns() {
    let dir = TempDir::new("query");
    let reactor = Reactor::new().unwrap();
    let pool = sqlite_pool(&reactor, &dir);
    wait(
        &reactor,
        pool.run_operation(
            "INSERT INTO kv VALUES ('b', '2'), ('a', '1'), ('c', '3')",
            vec![],
        ),
    )
    .unwrap();
    let rows = wait(
        &reactor,
        pool.run_query(
            "SELECT k, v FROM kv WHERE k <> ?1 ORDER BY k",
            vec![text("b")],
        ),
    )
    .unwrap();
    assert_eq!(
        rows,
        vec![vec![text("a"), text("1")], vec![text("c"), text("3")]]
    );
    stop_and_finish(&reactor);
}

#[test]
fn a_bad_query_fails_the_deferred() {
    let dir = TempDir::new("bad-query");
    let reactor = Reactor::new().unwrap();
    let pool = sqlite_pool(&reactor, &dir);
    let result = wait(&reactor, pool.run_query("SELECT nope FROM kv", vec![]));
    assert!(result.unwrap_err().is::<rusqlite::Error>());
    assert_eq!(pool.stats().dropped_broken, 0);
    stop_and_finish(&reactor);
}

// --- A fake driver, for connection life cycles ---

#[derive(Default)]
struct Counters {
    connects: AtomicUsize,
    alive: AtomicUsize,
    in_use: AtomicUsize,
    most_in_use: AtomicUsize,
    commits: AtomicUsize,
    rollbacks: AtomicUsize,
    /// The next failure breaks the connection it happened on.
    break_next: AtomicBool,
}

#[derive(Debug, thiserror::Error)]
#[error("fake driver error")]
struct FakeError;

struct FakeConnection {
    counters: Arc<Counters>,
    id: usize,
    broken: bool,
}

impl Drop for FakeConnection {
    fn drop(&mut self) {
        self.counters.alive.fetch_sub(1, Ordering::SeqCst);
    }
}

struct FakeConnector(Arc<Counters>);

impl DbConnector for FakeConnector {
    type Connection = FakeConnection;
    type Error = FakeError;

    fn connect(&self) -> Result<FakeConnection, FakeError> {
        let id = self.0.connects.fetch_add(1, Ordering::SeqCst) + 1;
        self.0.alive.fetch_add(1, Ordering::SeqCst);
        Ok(FakeConnection {
            counters: self.0.clone(),
            id,
            broken: false,
        })
    }

    fn begin(&self, _: &mut FakeConnection) -> Result<(), FakeError> {
        let now = self.0.in_use.fetch_add(1, Ordering::SeqCst) + 1;
        self.0.most_in_use.fetch_max(now, Ordering::SeqCst);
        Ok(())
    }

    fn commit(&self, _: &mut FakeConnection) -> Result<(), FakeError> {
        self.0.in_use.fetch_sub(1, Ordering::SeqCst);
        self.0.commits.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn rollback(&self, connection: &mut FakeConnection) -> Result<(), FakeError> {
        self.0.in_use.fetch_sub(1, Ordering::SeqCst);
        self.0.rollbacks.fetch_add(1, Ordering::SeqCst);
        if self.0.break_next.swap(false, Ordering::SeqCst) {
            connection.broken = true;
        }
        Ok(())
    }

    fn is_broken(&self, connection: &mut FakeConnection, _: &Failure) -> bool {
        connection.broken
    }
}

fn fake_pool(
    reactor: &Reactor,
    min: usize,
    max: usize,
) -> (ConnectionPool<FakeConnector>, Arc<Counters>) {
    let counters = Arc::new(Counters::default());
    let pool = ConnectionPool::with_limits(reactor, FakeConnector(counters.clone()), min, max);
    (pool, counters)
}

#[test]
fn a_broken_connection_is_dropped_and_a_new_one_opened() {
    let reactor = Reactor::new().unwrap();
    let (pool, counters) = fake_pool(&reactor, 0, 1);
    let first = wait(
        &reactor,
        pool.run_interaction(|conn| Ok::<_, FakeError>(conn.id)),
    );
    assert_eq!(first.unwrap(), 1);
    counters.break_next.store(true, Ordering::SeqCst);
    let failed = wait(&reactor, pool.run_interaction(|_| Err::<(), _>(FakeError)));
    assert!(failed.unwrap_err().is::<FakeError>());
    assert_eq!(pool.stats().dropped_broken, 1);
    assert_eq!(counters.alive.load(Ordering::SeqCst), 0);
    let next = wait(
        &reactor,
        pool.run_interaction(|conn| Ok::<_, FakeError>(conn.id)),
    );
    assert_eq!(next.unwrap(), 2);
    assert_eq!(pool.stats().connects, 2);
    stop_and_finish(&reactor);
}

#[test]
fn a_healthy_connection_is_reused_after_a_failure() {
    let reactor = Reactor::new().unwrap();
    let (pool, counters) = fake_pool(&reactor, 0, 1);
    let failed = wait(&reactor, pool.run_interaction(|_| Err::<(), _>(FakeError)));
    assert!(failed.is_err());
    let id = wait(
        &reactor,
        pool.run_interaction(|conn| Ok::<_, FakeError>(conn.id)),
    );
    assert_eq!(id.unwrap(), 1);
    assert_eq!(counters.connects.load(Ordering::SeqCst), 1);
    assert_eq!(counters.rollbacks.load(Ordering::SeqCst), 1);
    assert_eq!(counters.commits.load(Ordering::SeqCst), 1);
    stop_and_finish(&reactor);
}

#[test]
fn min_connections_are_opened_at_start() {
    let reactor = Reactor::new().unwrap();
    let (pool, counters) = fake_pool(&reactor, 2, 4);
    let deadline = Instant::now() + LIMIT;
    while pool.stats().idle < 2 {
        assert!(Instant::now() < deadline, "min connections never opened");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(pool.stats().open, 2);
    assert_eq!(counters.connects.load(Ordering::SeqCst), 2);
    assert_eq!(pool.stats().threads.workers, 2);
    stop_and_finish(&reactor);
}

#[test]
fn connections_in_use_never_exceed_max() {
    let reactor = Reactor::new().unwrap();
    let (pool, counters) = fake_pool(&reactor, 0, 2);
    let pending: Vec<_> = (0..8)
        .map(|_| {
            outcome(pool.run_interaction(|_| {
                std::thread::sleep(Duration::from_millis(10));
                Ok::<_, FakeError>(())
            }))
        })
        .collect();
    turn_until(&reactor, LIMIT, || {
        pending.iter().all(|p| p.borrow().is_some())
    });
    assert!(pending.iter().all(|p| p.borrow().as_ref().unwrap().is_ok()));
    assert_eq!(counters.most_in_use.load(Ordering::SeqCst), 2);
    assert!(counters.connects.load(Ordering::SeqCst) <= 2);
    assert!(pool.stats().threads.workers <= 2);
    stop_and_finish(&reactor);
}

#[test]
fn the_pool_is_closed_at_reactor_shutdown() {
    let reactor = Reactor::new().unwrap();
    let (pool, counters) = fake_pool(&reactor, 2, 2);
    let id = wait(
        &reactor,
        pool.run_interaction(|conn| Ok::<_, FakeError>(conn.id)),
    );
    assert!(id.is_ok());
    stop_and_finish(&reactor);
    let stats = pool.stats();
    assert_eq!((stats.open, stats.idle, stats.threads.workers), (0, 0, 0));
    assert_eq!(counters.alive.load(Ordering::SeqCst), 0);
}

#[test]
fn a_closed_pool_refuses_work() {
    let reactor = Reactor::new().unwrap();
    let (pool, counters) = fake_pool(&reactor, 1, 1);
    pool.close();
    assert_eq!(counters.alive.load(Ordering::SeqCst), 0);
    let refused = wait(&reactor, pool.run_interaction(|_| Ok::<_, FakeError>(())));
    assert!(refused.unwrap_err().is::<PoolStopped>());
    stop_and_finish(&reactor);
}
