//! The gevent slide in Rust: code that reads like blocking code, awaiting
//! torsion Deferreds and tokio futures in turn, on one thread where a
//! torsion reactor runs inside tokio.
//!
//! A torsion line server answers `TIME?` and echoes anything else; one
//! "green thread" (an async block run by the reactor) talks to it through
//! a tokio socket, sleeps on a tokio timer and a torsion timer, and asks
//! tokio for work. A tokio task does the same from the other side,
//! awaiting torsion work through a `JoinHandle`.
//!
//! Run with `cargo run -p torsion-tokio --example green_threads`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use torsion::net::{Protocol, Transport, factory_fn};
use torsion::time::defer_later;
use torsion::{Failure, Reactor};
use torsion_tokio::TorsionHandle;

/// A torsion protocol: one reply line per line received.
#[derive(Default)]
struct LineServer {
    transport: Option<Transport>,
    pending: Vec<u8>,
}

impl Protocol for LineServer {
    fn connection_made(&mut self, transport: &Transport) {
        self.transport = Some(transport.clone());
    }

    fn data_received(&mut self, data: &[u8]) {
        self.pending.extend_from_slice(data);
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let reply = match line.as_slice() {
                b"TIME?\n" => b"it is always now\n".to_vec(),
                other => other.to_vec(),
            };
            if let Some(transport) = &self.transport {
                transport.write(&reply);
            }
        }
    }
}

/// Blocking-looking code over Deferreds and tokio futures together.
async fn green_thread(reactor: Reactor, address: SocketAddr) -> Result<(), Failure> {
    let started = Instant::now();
    // A tokio socket, talking to the torsion server on this same thread.
    let stream = tokio::net::TcpStream::connect(address).await?;
    let (reader, mut writer) = stream.into_split();
    let mut lines = BufReader::new(reader).lines();
    writer.write_all(b"TIME?\n").await?;
    println!(
        "server says: {}",
        lines.next_line().await?.unwrap_or_default()
    );

    // A torsion timer, then a tokio one: both just `.await`.
    defer_later(&reactor, Duration::from_millis(20), || Ok::<_, Failure>(())).await?;
    tokio::time::sleep(Duration::from_millis(20)).await;

    // Work handed to tokio as a task, seen here as a Deferred.
    let sum = torsion_tokio::from_future(async {
        tokio::task::yield_now().await;
        Ok::<u64, Failure>((1..=100).sum())
    })
    .await?;
    writer.write_all(format!("sum {sum}\n").as_bytes()).await?;
    println!(
        "server echoed: {}",
        lines.next_line().await?.unwrap_or_default()
    );
    println!("green thread done after {:?}", started.elapsed());
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let port = reactor.listen_tcp(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        factory_fn(|_| Some(LineServer::default())),
    )?;
    let address = port.tcp_address().ok_or("no TCP address")?;
    let torsion = TorsionHandle::new(&reactor);

    let r = reactor.clone();
    let mine = reactor.spawn(green_thread(reactor.clone(), address));
    let r2 = r.clone();
    reactor.call_when_running(move || {
        // A tokio task on the same thread, awaiting torsion work.
        tokio::task::spawn_local(async move {
            let answer = torsion
                .spawn(|reactor| {
                    defer_later(&reactor, Duration::from_millis(10), || {
                        Ok::<_, Failure>("a Deferred awaited by a tokio task")
                    })
                })
                .await;
            println!("tokio task got: {}", answer.unwrap_or("nothing"));
        });
        // Stop once the green thread is done.
        drop(mine.both(move |outcome| {
            if let Err(failure) = &outcome {
                eprintln!("green thread failed: {failure}");
            }
            r2.stop()?;
            Ok::<(), Failure>(())
        }));
    });
    let stopper = r.clone();
    r.call_later(Duration::from_secs(10), move || {
        let _ = stopper.stop();
    });
    torsion_tokio::block_on_reactor(&reactor)?;
    println!("reactor finished");
    Ok(())
}
