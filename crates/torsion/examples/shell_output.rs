//! Run a shell command and collect its output, without blocking the
//! reactor: `sh -c COMMAND` runs as a child process, its stdout and stderr
//! arrive through the reactor, and a timer keeps ticking meanwhile.
//!
//! ```text
//! cargo run -p torsion --example shell_output                          # a default command
//! cargo run -p torsion --example shell_output -- 'ls -l / | head -3'
//! cargo run -p torsion --example shell_output -- 'echo oops >&2; exit 3'
//! ```
//!
//! It prints the output, the exit code, and how many ticks ran while the
//! command did; it exits with the command's own code (128 + the signal
//! number if a signal killed it).

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use torsion::process::{KilledBySignal, SpawnOptions, get_process_output_and_value};
use torsion::time::LoopingCall;
use torsion::{Failure, Reactor};

const DEFAULT: &str = "echo hello from $0; sleep 0.3; echo to stderr >&2; uname -s";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let command = std::env::args()
        .nth(1)
        .unwrap_or_else(|| DEFAULT.to_owned());
    let reactor = Reactor::new()?;

    // Proof that the reactor is free while the command runs.
    let ticks = Rc::new(Cell::new(0u32));
    let counted = ticks.clone();
    let ticker = LoopingCall::new(reactor.clone(), move || counted.set(counted.get() + 1));
    drop(ticker.start(Duration::from_millis(50), true));

    let started = Instant::now();
    let r = reactor.clone();
    let exit_code = Rc::new(Cell::new(0));
    let code_out = exit_code.clone();
    let done = reactor.spawn(async move {
        let result =
            get_process_output_and_value(&r, "/bin/sh", ["-c", &command], SpawnOptions::new())
                .await;
        ticker.stop();
        match result {
            Ok((out, err, code)) => {
                println!("$ {command}");
                print!("{}", String::from_utf8_lossy(&out));
                if !err.is_empty() {
                    print!("[stderr] {}", String::from_utf8_lossy(&err));
                }
                println!("exit code {code}");
                code_out.set(code);
            }
            Err(failure) => match failure.downcast_ref::<KilledBySignal>() {
                Some(killed) => {
                    print!("{}", String::from_utf8_lossy(&killed.stdout));
                    println!("killed by {}", killed.signal);
                    code_out.set(128 + killed.signal.as_raw());
                }
                None => {
                    eprintln!("could not run the command: {failure}");
                    code_out.set(127);
                }
            },
        }
        println!(
            "took {:?}; the reactor ticked {} times meanwhile",
            started.elapsed(),
            ticks.get()
        );
        r.stop().unwrap();
        Ok::<(), Failure>(())
    });
    reactor.run()?;
    drop(done);
    std::process::exit(exit_code.get());
}
