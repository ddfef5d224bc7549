//! Load: 100 MB from one child's stdout into another child's stdin through
//! the reactor, with the first child's transport registered as the push
//! producer of the second one's stdin, so reading pauses while the second
//! child is behind. Every byte arrives, and the parent never buffers more
//! than about the high-water mark.

mod common;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::turn_until;
use torsion::net::{HIGH_WATER_MARK, Producer};
use torsion::process::{ProcessDone, ProcessProtocol, ProcessTransport, SpawnOptions};
use torsion::{Failure, Reactor};

const TOTAL: usize = 100 * 1024 * 1024;

/// What the relay saw.
#[derive(Default)]
struct Tally {
    relayed: Cell<usize>,
    most_buffered: Cell<usize>,
    pauses: Cell<usize>,
    source_ended: RefCell<Option<Failure>>,
}

/// The source's protocol: hands every chunk to the sink's stdin.
struct Relay {
    sink: ProcessTransport,
    tally: Rc<Tally>,
}

impl ProcessProtocol for Relay {
    fn connection_made(&mut self, transport: &ProcessTransport) {
        transport.close_stdin();
        self.sink
            .register_producer(Producer::Push(Rc::new(Counting {
                source: transport.clone(),
                tally: self.tally.clone(),
            })))
            .unwrap();
    }
    fn out_received(&mut self, data: &[u8]) {
        self.sink.write(data);
        let tally = &self.tally;
        tally.relayed.set(tally.relayed.get() + data.len());
        tally
            .most_buffered
            .set(tally.most_buffered.get().max(self.sink.buffered()));
    }
    fn out_connection_lost(&mut self) {
        self.sink.unregister_producer();
        self.sink.close_stdin();
    }
    fn process_ended(&mut self, reason: Failure) {
        *self.tally.source_ended.borrow_mut() = Some(reason);
    }
}

/// The source's transport as the producer, counting pauses.
struct Counting {
    source: ProcessTransport,
    tally: Rc<Tally>,
}

impl torsion::net::PushProducer for Counting {
    fn pause_producing(&self) {
        self.tally.pauses.set(self.tally.pauses.get() + 1);
        self.source.pause_reading();
    }
    fn resume_producing(&self) {
        self.source.resume_reading();
    }
    fn stop_producing(&self) {
        self.source.lose_connection();
    }
}

/// The sink's protocol: what `wc -c` prints.
struct Count(Rc<RefCell<Option<Vec<u8>>>>, Vec<u8>);

impl ProcessProtocol for Count {
    fn out_received(&mut self, data: &[u8]) {
        self.1.extend_from_slice(data);
    }
    fn process_ended(&mut self, reason: Failure) {
        assert!(reason.is::<ProcessDone>(), "{reason}");
        *self.0.borrow_mut() = Some(std::mem::take(&mut self.1));
    }
}

#[test]
fn a_hundred_megabytes_flow_through_with_bounded_buffering() {
    let reactor = Reactor::new().unwrap();
    let counted = Rc::new(RefCell::new(None));
    let sink = reactor
        .spawn_process(
            Count(counted.clone(), Vec::new()),
            "wc",
            ["-c"],
            SpawnOptions::new(),
        )
        .unwrap();
    let tally = Rc::new(Tally::default());
    let started = Instant::now();
    reactor
        .spawn_process(
            Relay {
                sink,
                tally: tally.clone(),
            },
            "head",
            ["-c", &TOTAL.to_string(), "/dev/zero"],
            SpawnOptions::new(),
        )
        .unwrap();
    turn_until(&reactor, Duration::from_secs(20), || {
        counted.borrow().is_some() && tally.source_ended.borrow().is_some()
    });
    let elapsed = started.elapsed();
    assert_eq!(tally.relayed.get(), TOTAL, "bytes read from the source");
    let printed = String::from_utf8(counted.borrow_mut().take().unwrap()).unwrap();
    assert_eq!(printed.trim(), TOTAL.to_string(), "bytes the sink counted");
    assert!(
        tally
            .source_ended
            .borrow()
            .as_ref()
            .unwrap()
            .is::<ProcessDone>(),
        "the source exited cleanly"
    );
    // One read (64 KiB) may land after the mark is passed, before the
    // pause takes effect.
    let bound = HIGH_WATER_MARK + 2 * 64 * 1024;
    assert!(
        tally.most_buffered.get() <= bound,
        "buffered {} bytes, more than {bound}",
        tally.most_buffered.get()
    );
    eprintln!(
        "100 MB in {elapsed:?}; at most {} bytes buffered; paused {} times",
        tally.most_buffered.get(),
        tally.pauses.get()
    );
}
