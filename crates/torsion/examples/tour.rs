//! A tour of torsion's foundation, in three parts that run one after the
//! other on one reactor:
//!
//! 1. timers: `call_later`, a cancelled call, and a `LoopingCall`;
//! 2. "deferred read": reading a line from a socket returns a `Deferred`,
//!    consumed first with callbacks, then with `async`/`await`;
//! 3. a CPU job made cooperative, while a 10 ms timer keeps ticking on time.
//!
//! Run it with `cargo run -p torsion --example tour`.

use std::cell::{Cell, RefCell};
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::{Duration, Instant};

use torsion::task::{Cooperator, Step};
use torsion::time::LoopingCall;
use torsion::{Deferred, Failure, Reactor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let started = Instant::now();
    let r = reactor.clone();
    let tour = reactor.spawn(async move {
        timers(&r).await?;
        deferred_read_with_callbacks(&r).await?;
        deferred_read_with_async(&r).await?;
        cooperative_job(&r).await?;
        Ok::<(), Failure>(())
    });
    let stopper = reactor.clone();
    drop(tour.both(move |outcome| {
        match &outcome {
            Ok(()) => println!("tour finished in {:.0?}", started.elapsed()),
            Err(failure) => eprintln!("tour failed: {failure}"),
        }
        let _ = stopper.stop();
        outcome
    }));
    reactor.run()?;
    Ok(())
}

/// Part 1: one-off calls, a cancelled call, and a looping call that stops
/// itself after five ticks.
fn timers(reactor: &Reactor) -> Deferred<()> {
    println!("-- timers");
    let started = Instant::now();
    reactor.call_later(Duration::from_millis(20), move || {
        println!("   call_later(20 ms) ran after {:.0?}", started.elapsed());
    });
    let never = reactor.call_later(Duration::from_millis(10), || unreachable!("cancelled"));
    never.cancel().expect("pending call cancels");
    println!(
        "   a call for 10 ms was cancelled: active = {}",
        never.active()
    );

    let ticks = Rc::new(Cell::new(0));
    let looping_slot: Rc<RefCell<Option<LoopingCall>>> = Rc::new(RefCell::new(None));
    let (t, slot) = (ticks.clone(), looping_slot.clone());
    let looping = LoopingCall::new(reactor.clone(), move || {
        t.set(t.get() + 1);
        println!("   tick {} at {:.0?}", t.get(), started.elapsed());
        if t.get() == 5
            && let Some(looping) = slot.borrow_mut().take()
        {
            looping.stop();
        }
    });
    *looping_slot.borrow_mut() = Some(looping.clone());
    looping
        .start(Duration::from_millis(10), true)
        .expect("a new loop starts")
        .map(move |()| println!("   looping call stopped after {} ticks", ticks.get()))
}

/// Reads one line from `stream` without blocking the reactor: the Deferred
/// fires when the line has arrived (the talk's "deferred read").
fn read_line(reactor: &Reactor, stream: UnixStream) -> io::Result<Deferred<String>> {
    stream.set_nonblocking(true)?;
    let (line, resolver) = Deferred::new();
    let resolver = RefCell::new(Some(resolver));
    let buffer = RefCell::new(Vec::new());
    let watch = Rc::new(Cell::new(None));
    let this_watch = watch.clone();
    let stream = Rc::new(stream);
    let id = reactor.add_reader(stream.clone(), move |reactor| {
        let mut chunk = [0u8; 256];
        loop {
            match (&*stream).read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => buffer.borrow_mut().extend_from_slice(&chunk[..n]),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) => {
                    if let Some(resolver) = resolver.borrow_mut().take() {
                        resolver.reject(error);
                    }
                    break;
                }
            }
        }
        let text = buffer.borrow();
        if let Some(end) = text.iter().position(|&byte| byte == b'\n') {
            if let Some(resolver) = resolver.borrow_mut().take() {
                resolver.resolve(String::from_utf8_lossy(&text[..end]).into_owned());
            }
            if let Some(id) = this_watch.take() {
                // Removing the watch from inside its own callback is allowed.
                let _ = reactor.remove_watch(id);
            }
        }
    })?;
    watch.set(Some(id));
    Ok(line)
}

/// A peer on another thread that answers after a short delay.
fn slow_peer(text: &'static str) -> io::Result<UnixStream> {
    let (ours, mut theirs) = UnixStream::pair()?;
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        let _ = theirs.write_all(text.as_bytes());
    });
    Ok(ours)
}

/// Part 2a: the read consumed with callbacks.
fn deferred_read_with_callbacks(reactor: &Reactor) -> Deferred<()> {
    println!("-- deferred read, callbacks");
    let stream = match slow_peer("42 apples\n") {
        Ok(stream) => stream,
        Err(error) => return Deferred::fail(error),
    };
    match read_line(reactor, stream) {
        Ok(line) => line
            .map(|line| {
                println!("   read {line:?}");
                line
            })
            .then(|line| {
                let count: u32 = line.split_whitespace().next().unwrap_or("").parse()?;
                Ok::<u32, Failure>(count)
            })
            .map(|count| println!("   parsed {count} apples"))
            .or_else(|failure| {
                println!("   the read failed: {failure}");
                Ok::<(), Failure>(())
            }),
        Err(error) => Deferred::fail(error),
    }
}

/// Part 2b: the same read with `async`/`await`.
async fn deferred_read_with_async(reactor: &Reactor) -> Result<(), Failure> {
    println!("-- deferred read, async/await");
    let line = read_line(reactor, slow_peer("17 pears\n")?)?.await?;
    println!("   read {line:?}");
    let count: u32 = line.split_whitespace().next().unwrap_or("").parse()?;
    println!("   parsed {count} pears");
    Ok(())
}

/// Part 3: half a second of CPU work in 50 µs steps, while a 10 ms timer
/// reports how late it runs.
fn cooperative_job(reactor: &Reactor) -> Deferred<()> {
    println!("-- cooperative CPU job");
    let started = Instant::now();
    let worst = Rc::new(Cell::new(Duration::ZERO));
    let next_due = Rc::new(Cell::new(started));
    let (w, due) = (worst.clone(), next_due.clone());
    let ticker = LoopingCall::with_count(reactor.clone(), move |count| {
        let expected =
            due.get() + Duration::from_millis(10) * u32::try_from(count - 1).unwrap_or(0);
        w.set(
            w.get()
                .max(Instant::now().saturating_duration_since(expected)),
        );
        due.set(expected + Duration::from_millis(10));
    });
    drop(ticker.start(Duration::from_millis(10), true));
    let mut checksum = 0u64;
    let job = (0..10_000u64).map(move |step| {
        let end = Instant::now() + Duration::from_micros(50);
        while Instant::now() < end {
            checksum = checksum.wrapping_mul(31).wrapping_add(step);
        }
        Step::Continue
    });
    Cooperator::new(reactor.clone())
        .coiterate(job)
        .map(move |()| {
            ticker.stop();
            println!(
                "   job done in {:.0?}; the 10 ms timer was at most {:.1?} late",
                started.elapsed(),
                worst.get()
            );
        })
}
