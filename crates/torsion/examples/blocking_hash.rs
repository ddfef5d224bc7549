//! Blocking CPU work off the reactor: a slow hash of a large input (a
//! stand-in for a password hash such as scrypt) runs on the reactor's
//! thread pool with `defer_to_thread`, while a timer ticks every 10 ms on
//! the reactor. The timer's worst lateness shows that the reactor kept
//! serving while the hash ran.
//!
//! ```text
//! cargo run --release -p torsion --example blocking_hash              # 200 MB off the reactor
//! cargo run --release -p torsion --example blocking_hash -- 50        # 50 MB
//! cargo run --release -p torsion --example blocking_hash -- 50 --on-reactor
//! ```
//!
//! `--on-reactor` runs the same hash on the reactor thread instead, for
//! comparison: no tick can run until it is done.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use torsion::time::LoopingCall;
use torsion::{Deferred, Reactor};

const TICK: Duration = Duration::from_millis(10);
const CHUNK: usize = 1 << 20;
/// Lateness beyond this means the reactor thread was blocked (an idle
/// reactor is late by well under a millisecond).
const BLOCKED: Duration = Duration::from_millis(250);

/// A deliberately slow 64-bit hash of `megabytes` MiB of generated input:
/// every 8-byte word goes through a few multiply-rotate rounds. Blocking,
/// CPU-bound, and the same on every run.
fn slow_hash(megabytes: usize) -> u64 {
    let mut chunk = vec![0u8; CHUNK];
    let mut state: u64 = 0x6a09_e667_f3bc_c908;
    for n in 0..megabytes {
        // The input: chunk n filled from a counter, made on the fly so the
        // example does not need 200 MB of memory.
        for (i, word) in chunk.chunks_exact_mut(8).enumerate() {
            word.copy_from_slice(&((n * CHUNK / 8 + i) as u64).to_le_bytes());
        }
        for word in chunk.chunks_exact(8) {
            let mut w = u64::from_le_bytes(word.try_into().expect("8 bytes"));
            for _ in 0..4 {
                w = (w ^ state)
                    .rotate_left(23)
                    .wrapping_mul(0x9e37_79b9_7f4a_7c15);
                state = state.rotate_left(17) ^ w;
            }
        }
    }
    state
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let on_reactor = args.iter().any(|arg| arg == "--on-reactor");
    let megabytes: usize = match args.iter().find(|arg| !arg.starts_with("--")) {
        Some(size) => size.parse()?,
        None => 200,
    };

    let reactor = Reactor::new()?;
    let ticks = Rc::new(Cell::new(0u64));
    let worst = Rc::new(Cell::new(Duration::ZERO));
    let last = Rc::new(Cell::new(None::<Instant>));
    let looping = {
        let (ticks, worst) = (ticks.clone(), worst.clone());
        LoopingCall::new(reactor.clone(), move || {
            let now = Instant::now();
            if let Some(previous) = last.replace(Some(now)) {
                let late = now.duration_since(previous).saturating_sub(TICK);
                worst.set(worst.get().max(late));
            }
            ticks.set(ticks.get() + 1);
        })
    };
    drop(looping.start(TICK, true)?);

    let started = Instant::now();
    let where_ = if on_reactor {
        "on the reactor thread"
    } else {
        "in a pool thread"
    };
    println!("hashing {megabytes} MB {where_} while a timer ticks every {TICK:?}");
    let hashed: Deferred<u64> = if on_reactor {
        // Wait one tick so the loop is running, then block the reactor.
        let (deferred, resolver) = Deferred::new();
        reactor.call_later(TICK, move || resolver.resolve(slow_hash(megabytes)));
        deferred
    } else {
        reactor.defer_to_thread(move || slow_hash(megabytes))
    };
    let r = reactor.clone();
    drop(hashed.map(move |digest| {
        println!("digest {digest:016x} after {:.2?}", started.elapsed());
        // A few more ticks, so a tick delayed by the hash is measured too.
        let stopper = r.clone();
        r.call_later(3 * TICK, move || {
            looping.stop();
            stopper.stop().expect("the reactor runs");
        });
    }));
    reactor.run()?;

    println!(
        "{} ticks; worst timer lateness {:.2?}",
        ticks.get(),
        worst.get()
    );
    if !on_reactor && worst.get() > BLOCKED {
        return Err(format!("the reactor was blocked for {:.2?}", worst.get()).into());
    }
    Ok(())
}
