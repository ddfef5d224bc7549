//! Remote workers: the demonstration worker serving AMP on a TCP or TLS
//! port (`torsion-amp-worker --listen ENDPOINT`), reached by the pool
//! through a client endpoint string, beside local worker processes.

mod pool_support;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use pool_support::commands::{Nothing, Pid, Seconds, Sleep};
use pool_support::{check, run, rust_worker};
use torsion_amp::pool::{PoolError, PoolOptions, ProcessPool, Starter, WorkOptions};

/// A worker server in a process of its own, killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(endpoint: &str) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_torsion-amp-worker"))
            .args(["--listen", endpoint])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the worker server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the port line");
        let port = line
            .trim()
            .strip_prefix("port ")
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        Server { child, port }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_pool_spreads_over_a_local_process_and_a_tcp_worker() {
    let server = Server::start("tcp:0:interface=127.0.0.1");
    let (remote, port) = (server.pid(), server.port);
    run(30, |r| async move {
        let pool = ProcessPool::new(
            &r,
            PoolOptions::new(rust_worker())
                .also(Starter::remote(format!("tcp:host=127.0.0.1:port={port}")))
                .min(2)
                .max(2),
        );
        pool.start();
        let local = pool.pids();
        check(local.len() == 1, format!("one local worker: {local:?}"))?;
        let both = [
            pool.do_work::<Sleep>(Seconds { seconds: 0.3 }),
            pool.do_work::<Sleep>(Seconds { seconds: 0.3 }),
        ];
        let mut answered = HashSet::new();
        for call in both {
            answered.insert(call.await?.pid as u32);
        }
        check(
            answered == HashSet::from([local[0], remote]),
            format!("{answered:?}: local {local:?}, remote {remote}"),
        )?;
        pool.stop().await
    });
}

#[test]
fn a_remote_call_past_its_timeout_drops_the_connection_and_a_new_one_serves() {
    let server = Server::start("tcp:0:interface=127.0.0.1");
    let (remote, port) = (server.pid(), server.port);
    run(30, |r| async move {
        let starter = Starter::remote(format!("tcp:host=127.0.0.1:port={port}"));
        let pool = ProcessPool::new(&r, PoolOptions::new(starter).min(1).max(1));
        pool.start();
        let failure = pool
            .do_work_with::<Sleep>(
                Seconds { seconds: 1.0 },
                WorkOptions::new().timeout(Duration::from_millis(200)),
            )
            .await
            .unwrap_err();
        check(
            matches!(
                failure.downcast_ref::<PoolError>(),
                Some(PoolError::TimedOut { pid: None, .. })
            ),
            format!("{failure}"),
        )?;
        // A new connection, answered once the server is free again.
        let pid = pool.do_work::<Pid>(Nothing {}).await?.pid as u32;
        check(pid == remote, format!("{pid} vs {remote}"))?;
        pool.stop().await
    });
}

#[test]
fn a_remote_worker_over_tls() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let stem = format!("pool-remote-{}", std::process::id());
    let (cert, key) = (
        dir.join(format!("{stem}-cert.pem")),
        dir.join(format!("{stem}-key.pem")),
    );
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let server = Server::start(&format!(
        "tls:0:interface=127.0.0.1:privateKey={}:certKey={}",
        key.display(),
        cert.display()
    ));
    let (remote, port) = (server.pid(), server.port);
    let ca = cert.clone();
    run(30, |r| async move {
        let starter = Starter::remote(format!(
            "tls:host=localhost:port={port}:caCerts={}",
            ca.display()
        ));
        let pool = ProcessPool::new(&r, PoolOptions::new(starter).min(2).max(2));
        pool.start();
        let calls = [
            pool.do_work::<Pid>(Nothing {}),
            pool.do_work::<Pid>(Nothing {}),
        ];
        for call in calls {
            let pid = call.await?.pid as u32;
            check(pid == remote, format!("{pid} vs {remote}"))?;
        }
        check(pool.stats().workers == 2, format!("{:?}", pool.stats()))?;
        pool.stop().await
    });
    let _ = std::fs::remove_file(cert);
    let _ = std::fs::remove_file(key);
}
