//! A key-value server over TCP that keeps its data in SQLite through a
//! `ConnectionPool`: the reactor serves connections while the blocking
//! SQLite calls run on the pool's threads.
//!
//! The protocol is one command a line: `SET key value` answers `OK`,
//! `GET key` answers `VALUE value` or `NONE`, `KEYS` answers the keys
//! separated by spaces. Commands of one connection run in order.
//!
//! ```text
//! cargo run -p torsion --example sqlite_pool                       # self-contained demo
//! cargo run -p torsion --example sqlite_pool -- tcp:8124:interface=127.0.0.1 kv.db     # serve; try nc 127.0.0.1 8124
//! ```
//!
//! With no arguments it serves on a free port with a database in a
//! temporary directory, connects a client that stores and reads a few
//! rows, prints the answers and stops.

use std::collections::VecDeque;

use torsion::dbpool::{ConnectionPool, SqliteConnector, Value};
use torsion::endpoints::{client_from_string, server_from_string};
use torsion::net::{Address, Transport, factory_fn};
use torsion::protocols::{LineContext, LineHandler, LineReceiver};
use torsion::{Deferred, Failure, Reactor};

type Pool = ConnectionPool<SqliteConnector>;

/// One connection of the server.
struct KvSession {
    pool: Pool,
    transport: Option<Transport>,
    /// The answer of the last command; the next one runs after it, so a
    /// `GET` sees the `SET` sent before it on the same connection.
    tail: Option<Deferred<()>>,
}

impl KvSession {
    /// Runs `command` after the previous command and writes its answer.
    fn enqueue(&mut self, command: impl FnOnce(&Pool) -> Deferred<String> + 'static) {
        let transport = self.transport.clone().expect("connected");
        let pool = self.pool.clone();
        let previous = self.tail.take().unwrap_or_else(|| Deferred::succeed(()));
        let next = previous.then(move |()| command(&pool)).both(move |answer| {
            let line = answer.unwrap_or_else(|failure| format!("ERR {failure}"));
            transport.write(line.as_bytes());
            transport.write(b"\r\n");
            Ok::<(), Failure>(())
        });
        self.tail = Some(next);
    }
}

impl LineHandler for KvSession {
    fn connection_made(&mut self, ctx: &mut LineContext<'_>) {
        self.transport = ctx.transport().cloned();
    }

    fn line_received(&mut self, ctx: &mut LineContext<'_>, line: &[u8]) {
        let text = String::from_utf8_lossy(line).into_owned();
        let mut words = text.splitn(3, ' ');
        match (words.next(), words.next(), words.next()) {
            (Some("SET"), Some(key), Some(value)) => {
                let params = vec![Value::from(key.to_owned()), Value::from(value.to_owned())];
                self.enqueue(move |pool| {
                    pool.run_operation("INSERT OR REPLACE INTO kv (k, v) VALUES (?1, ?2)", params)
                        .map(|_| "OK".to_owned())
                });
            }
            (Some("GET"), Some(key), None) => {
                let params = vec![Value::from(key.to_owned())];
                self.enqueue(move |pool| {
                    pool.run_query("SELECT v FROM kv WHERE k = ?1", params)
                        .map(|rows| match rows.first().and_then(|row| row.first()) {
                            Some(Value::Text(value)) => format!("VALUE {value}"),
                            _ => "NONE".to_owned(),
                        })
                });
            }
            (Some("KEYS"), None, None) => {
                self.enqueue(|pool| {
                    pool.run_query("SELECT k FROM kv ORDER BY k", vec![])
                        .map(|rows| {
                            let keys: Vec<String> = rows
                                .into_iter()
                                .filter_map(|row| match row.into_iter().next() {
                                    Some(Value::Text(key)) => Some(key),
                                    _ => None,
                                })
                                .collect();
                            format!("KEYS {}", keys.join(" "))
                        })
                });
            }
            _ => ctx.send_line(b"ERR usage: SET key value | GET key | KEYS"),
        }
    }
}

/// The demo's client: sends every command at once (the server answers them
/// in order), prints each with its answer, and stops the reactor at the end.
struct DemoClient {
    commands: VecDeque<&'static str>,
    reactor: Reactor,
}

impl LineHandler for DemoClient {
    fn connection_made(&mut self, ctx: &mut LineContext<'_>) {
        for command in &self.commands {
            ctx.send_line(command.as_bytes());
        }
    }

    fn line_received(&mut self, ctx: &mut LineContext<'_>, line: &[u8]) {
        let command = self.commands.pop_front().unwrap_or("?");
        println!("{command:<14} -> {}", String::from_utf8_lossy(line));
        if self.commands.is_empty() {
            ctx.lose_connection();
        }
    }

    fn connection_lost(&mut self, _: &mut LineContext<'_>, _: Failure) {
        let _ = self.reactor.stop();
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let demo = args.is_empty();
    let scratch = std::env::temp_dir().join(format!("torsion-sqlite-pool-{}", std::process::id()));
    let (description, database) = if demo {
        std::fs::create_dir_all(&scratch)?;
        (
            "tcp:0:interface=127.0.0.1".to_owned(),
            scratch.join("kv.db"),
        )
    } else {
        let database = args.get(1).cloned().unwrap_or_else(|| "kv.db".into());
        (args[0].clone(), database.into())
    };

    let reactor = Reactor::new()?;
    let pool = ConnectionPool::with_limits(&reactor, SqliteConnector::new(&database), 1, 4);
    let served = pool.clone();
    let endpoint = server_from_string(&reactor, &description)?;
    let r = reactor.clone();
    let listening = pool
        .run_operation(
            "CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)",
            vec![],
        )
        .then(move |_| {
            endpoint.listen(factory_fn(move |_| {
                Some(LineReceiver::new(KvSession {
                    pool: served.clone(),
                    transport: None,
                    tail: None,
                }))
            }))
        });
    let r2 = reactor.clone();
    drop(
        listening
            .map(move |port| {
                let address = port.address();
                println!(
                    "key-value store on {address}, data in {}",
                    database.display()
                );
                if demo {
                    start_demo_client(&r2, &address);
                }
            })
            .or_else(move |failure| {
                eprintln!("cannot start: {failure}");
                let _ = r.stop();
                Err(failure)
            }),
    );
    reactor.run()?;
    let stats = pool.stats();
    println!(
        "stopped; {} connections were opened, {} threads left",
        stats.connects, stats.threads.workers
    );
    if demo {
        std::fs::remove_dir_all(&scratch)?;
    }
    Ok(())
}

fn start_demo_client(reactor: &Reactor, address: &Address) {
    let Address::Tcp(address) = address else {
        return;
    };
    let description = format!("tcp:host=127.0.0.1:port={}", address.port());
    let endpoint = client_from_string(reactor, &description).expect("a valid endpoint");
    let client = LineReceiver::new(DemoClient {
        commands: VecDeque::from([
            "SET alice 42",
            "SET bob 7",
            "GET alice",
            "SET alice 43",
            "GET alice",
            "GET carol",
            "KEYS",
        ]),
        reactor: reactor.clone(),
    });
    let r = reactor.clone();
    drop(endpoint.connect(client).or_else(move |failure| {
        eprintln!("cannot connect: {failure}");
        let _ = r.stop();
        Err(failure)
    }));
}
