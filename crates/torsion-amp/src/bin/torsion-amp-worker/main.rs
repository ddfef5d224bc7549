//! A demonstration AMP worker for `torsion_amp::pool`, used by its tests:
//! answers `Pid`, `Sleep`, `Exit` and `SlowHash` (see `commands.rs`).
//!
//! ```text
//! torsion-amp-worker                   AMP on stdin and stdout (a pool's child)
//! torsion-amp-worker --listen ENDPOINT an AMP server on a torsion server endpoint
//!                                      (a remote worker); prints "port N" once bound
//! ```
#![forbid(unsafe_code)]

mod commands;

use std::io::Write;
use std::time::Duration;

use torsion::endpoints::server_from_string;
use torsion::net::Address;
use torsion::{Failure, Reactor};
use torsion_amp::{Amp, Responders};

use commands::{Digest, Exit, Pid, Sleep, SlowHash, WorkerPid, slow_hash};

fn responders() -> Responders {
    let pid = || WorkerPid {
        pid: i64::from(std::process::id()),
    };
    Responders::new()
        .respond::<Pid>(move |_, _| Ok(pid()))
        .respond::<Sleep>(move |_, time| {
            // Blocking on purpose: the worker is stuck meanwhile.
            std::thread::sleep(Duration::from_secs_f64(time.seconds.max(0.0)));
            Ok(pid())
        })
        .respond::<Exit>(|_, code| std::process::exit(code.code as i32))
        .respond::<SlowHash>(|_, job| {
            let digest = slow_hash(job.data.as_bytes(), job.rounds.max(0) as u64);
            Ok(Digest {
                digest: format!("{digest:016x}"),
            })
        })
}

fn listen(description: &str) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let r = reactor.clone();
    let description = description.to_owned();
    let listening = reactor.spawn(async move {
        let port = server_from_string(&r, &description)?
            .listen(Amp::factory(responders()))
            .await?;
        let number = match port.address() {
            Address::Tcp(address) => address.port(),
            _ => 0,
        };
        let mut stdout = std::io::stdout();
        writeln!(stdout, "port {number}").map_err(Failure::new)?;
        stdout.flush().map_err(Failure::new)?;
        // Serves until killed.
        std::mem::forget(port);
        Ok::<(), Failure>(())
    });
    let r = reactor.clone();
    drop(listening.inspect_err(move |failure| {
        eprintln!("torsion-amp-worker: {failure}");
        let _ = r.stop();
    }));
    reactor.run()?;
    Err("cannot listen".into())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.as_slice() {
        [] => torsion_amp::pool::run_worker(responders()).map_err(Into::into),
        [flag, description] if flag == "--listen" => listen(description),
        _ => Err("usage: torsion-amp-worker [--listen ENDPOINT]".into()),
    };
    if let Err(error) = outcome {
        eprintln!("torsion-amp-worker: {error}");
        std::process::exit(1);
    }
}
