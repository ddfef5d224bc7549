//! A gibibyte through an echo server in randomly sized writes, with the
//! client pausing and resuming its reading at random: it all comes back,
//! byte for byte, and the client's producer was paused on the way.
//!
//! Ignored in the debug suite (it takes minutes there); `.ci/run` runs it
//! in a release build. `TORSION_FLOW_BYTES` sets the size (default 1 GiB).

mod common;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use common::{Fnv, Rng, turn_until};
use torsion::net::{ConnectOptions, Producer, Protocol, PushProducer, Transport, factory_fn};
use torsion::{Failure, Reactor};

/// Echoes, and stops reading while its own write buffer is full.
#[derive(Default)]
struct BackpressureEcho {
    transport: Option<Transport>,
}

impl Protocol for BackpressureEcho {
    fn connection_made(&mut self, transport: &Transport) {
        transport
            .register_producer(Producer::Push(Rc::new(transport.clone())))
            .unwrap();
        self.transport = Some(transport.clone());
    }
    fn data_received(&mut self, data: &[u8]) {
        self.transport.as_ref().unwrap().write(data);
    }
    fn read_connection_lost(&mut self) -> torsion::net::HalfClose {
        // Flush what is left, then close; the producer must go first.
        let transport = self.transport.as_ref().unwrap();
        transport.unregister_producer();
        transport.lose_connection();
        torsion::net::HalfClose::KeepWriting
    }
}

/// Writes `remaining` pseudo-random bytes in random sizes while not paused.
struct Sender {
    reactor: Reactor,
    transport: Transport,
    rng: RefCell<Rng>,
    chunk: RefCell<Vec<u8>>,
    remaining: Cell<u64>,
    paused: Cell<bool>,
    scheduled: Cell<bool>,
    pauses: Cell<usize>,
    sent: Cell<Fnv>,
}

impl Sender {
    fn schedule(self: &Rc<Self>) {
        if self.scheduled.replace(true) {
            return;
        }
        let me = self.clone();
        self.reactor.call_later(Duration::ZERO, move || {
            me.scheduled.set(false);
            me.pump();
        });
    }

    fn pump(self: &Rc<Self>) {
        // A turn's worth, then give the loop back.
        for _ in 0..64 {
            if self.paused.get() {
                return;
            }
            let left = self.remaining.get();
            if left == 0 {
                self.transport.unregister_producer();
                self.transport.lose_write_connection();
                return;
            }
            let size = (self.rng.borrow_mut().below(65_536) + 1).min(left) as usize;
            let mut chunk = self.chunk.borrow_mut();
            chunk.clear();
            let mut rng = self.rng.borrow_mut();
            while chunk.len() < size {
                chunk.extend_from_slice(&rng.next().to_le_bytes());
            }
            chunk.truncate(size);
            drop(rng);
            let mut sent = self.sent.get();
            sent.update(&chunk);
            self.sent.set(sent);
            self.remaining.set(left - size as u64);
            self.transport.write(&chunk);
        }
        self.schedule();
    }
}

struct SenderHandle(Rc<Sender>);

impl PushProducer for SenderHandle {
    fn pause_producing(&self) {
        self.0.paused.set(true);
        self.0.pauses.set(self.0.pauses.get() + 1);
    }
    fn resume_producing(&self) {
        self.0.paused.set(false);
        self.0.schedule();
    }
    fn stop_producing(&self) {
        self.0.paused.set(true);
    }
}

#[derive(Default)]
struct Received {
    bytes: u64,
    hash: Fnv,
    pauses: usize,
    lost: Option<Failure>,
}

/// Hashes what comes back and pauses its reading now and then.
struct Client {
    reactor: Reactor,
    total: u64,
    seed: u64,
    sender: Rc<RefCell<Option<Rc<Sender>>>>,
    received: Rc<RefCell<Received>>,
    rng: Rng,
    transport: Option<Transport>,
}

impl Protocol for Client {
    fn connection_made(&mut self, transport: &Transport) {
        let sender = Rc::new(Sender {
            reactor: self.reactor.clone(),
            transport: transport.clone(),
            rng: RefCell::new(Rng(self.seed)),
            chunk: RefCell::new(Vec::with_capacity(65_536)),
            remaining: Cell::new(self.total),
            paused: Cell::new(false),
            scheduled: Cell::new(false),
            pauses: Cell::new(0),
            sent: Cell::new(Fnv::default()),
        });
        transport
            .register_producer(Producer::Push(Rc::new(SenderHandle(sender.clone()))))
            .unwrap();
        sender.schedule();
        *self.sender.borrow_mut() = Some(sender);
        self.transport = Some(transport.clone());
    }

    fn data_received(&mut self, data: &[u8]) {
        let mut received = self.received.borrow_mut();
        received.bytes += data.len() as u64;
        received.hash.update(data);
        if self.rng.below(64) == 0 {
            received.pauses += 1;
            let transport = self.transport.clone().unwrap();
            transport.pause_reading();
            let pause = Duration::from_micros(self.rng.below(5_000));
            self.reactor
                .call_later(pause, move || transport.resume_reading());
        }
    }

    fn connection_lost(&mut self, reason: Failure) {
        self.received.borrow_mut().lost = Some(reason);
    }
}

#[test]
#[ignore = "a gibibyte takes minutes in a debug build; .ci/run runs it in release"]
fn a_gibibyte_echoed_with_random_pauses_comes_back_identical() {
    let total: u64 = std::env::var("TORSION_FLOW_BYTES")
        .map(|v| v.parse().expect("TORSION_FLOW_BYTES is a byte count"))
        .unwrap_or(1 << 30);
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0".parse().unwrap(),
            factory_fn(|_| Some(BackpressureEcho::default())),
        )
        .unwrap();
    let sender = Rc::new(RefCell::new(None));
    let received = Rc::new(RefCell::new(Received::default()));
    let client = Client {
        reactor: reactor.clone(),
        total,
        seed: 0x9e37_79b9_7f4a_7c15,
        sender: sender.clone(),
        received: received.clone(),
        rng: Rng(0x1234_5678),
        transport: None,
    };
    drop(reactor.connect_protocol(port.address(), client, ConnectOptions::default()));
    let started = std::time::Instant::now();
    turn_until(&reactor, Duration::from_secs(600), || {
        received.borrow().lost.is_some()
    });
    let received = received.borrow();
    let sender = sender.borrow();
    let sender = sender.as_ref().unwrap();
    eprintln!(
        "{total} bytes echoed in {:?}; sender paused {} times, reader paused {} times",
        started.elapsed(),
        sender.pauses.get(),
        received.pauses
    );
    assert!(
        received
            .lost
            .as_ref()
            .unwrap()
            .is::<torsion::error::ConnectionDone>()
    );
    assert_eq!(received.bytes, total);
    assert_eq!(
        received.hash.0,
        sender.sent.get().0,
        "the echo differs from what was sent"
    );
    assert!(sender.pauses.get() > 0, "the producer was never paused");
}
