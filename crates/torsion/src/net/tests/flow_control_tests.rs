//! Flow control: paused reading, and push and pull producers against the
//! write buffer's water marks.

use super::*;

#[test]
fn paused_reading_delivers_nothing_until_resumed() {
    let reactor = Reactor::new().unwrap();
    let port = echo_port(&reactor);
    let (events, transport) = recorded_client(&reactor, port.address());
    turn_until(&reactor, Duration::from_secs(10), || {
        transport.borrow().is_some()
    });
    let t = transport.borrow().clone().unwrap();
    t.pause_reading();
    t.write(b"while paused");
    let until = std::time::Instant::now() + Duration::from_millis(100);
    turn_until(&reactor, Duration::from_secs(10), || {
        std::time::Instant::now() > until
    });
    assert!(events.borrow().received.is_empty());
    t.resume_reading();
    turn_until(&reactor, Duration::from_secs(10), || {
        events.borrow().received == b"while paused"
    });
}

/// A push producer writing 16 KiB chunks whenever it is not paused.
struct Pusher {
    transport: Transport,
    paused: std::cell::Cell<bool>,
    pauses: std::cell::Cell<usize>,
    resumes: std::cell::Cell<usize>,
    stopped: std::cell::Cell<bool>,
}

impl PushProducer for Pusher {
    fn pause_producing(&self) {
        self.paused.set(true);
        self.pauses.set(self.pauses.get() + 1);
    }
    fn resume_producing(&self) {
        self.paused.set(false);
        self.resumes.set(self.resumes.get() + 1);
    }
    fn stop_producing(&self) {
        self.stopped.set(true);
    }
}

#[test]
fn a_push_producer_is_paused_above_the_high_water_mark_and_resumed_below_the_low() {
    let reactor = Reactor::new().unwrap();
    // A server that reads nothing until told to.
    let server = Rc::new(RefCell::new(None::<Transport>));
    let slot = server.clone();
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0".parse().unwrap(),
            factory_fn(move |_| {
                let slot = slot.clone();
                Some(Recorder {
                    events: Rc::default(),
                    on_made: Some(Box::new(move |t: &Transport| {
                        t.pause_reading();
                        *slot.borrow_mut() = Some(t.clone());
                    })),
                })
            }),
        )
        .unwrap();
    let (_, transport) = recorded_client(&reactor, port.address());
    turn_until(&reactor, Duration::from_secs(10), || {
        transport.borrow().is_some() && server.borrow().is_some()
    });
    let t = transport.borrow().clone().unwrap();
    let pusher = Rc::new(Pusher {
        transport: t.clone(),
        paused: Default::default(),
        pauses: Default::default(),
        resumes: Default::default(),
        stopped: Default::default(),
    });
    t.register_producer(Producer::Push(pusher.clone())).unwrap();
    assert_eq!(
        t.register_producer(Producer::Push(pusher.clone())),
        Err(ProducerError::AlreadyRegistered)
    );
    let chunk = vec![0u8; 16 * 1024];
    let mut written = 0;
    while !pusher.paused.get() {
        pusher.transport.write(&chunk);
        written += chunk.len();
        assert!(written < 64 << 20, "never paused");
    }
    assert!(t.buffered() > HIGH_WATER_MARK);
    server.borrow().as_ref().unwrap().resume_reading();
    turn_until(&reactor, Duration::from_secs(10), || {
        pusher.resumes.get() == 1
    });
    assert!(t.buffered() <= LOW_WATER_MARK);
    t.abort_connection();
    turn_until(&reactor, Duration::from_secs(10), || pusher.stopped.get());
}

/// A pull producer writing `left` chunks, one per request.
struct Puller {
    transport: Transport,
    left: std::cell::Cell<usize>,
}

impl PullProducer for Puller {
    fn resume_producing(&self) {
        let left = self.left.get();
        if left == 0 {
            self.transport.unregister_producer();
            self.transport.lose_connection();
            return;
        }
        self.left.set(left - 1);
        self.transport.write(&[b'x'; 100_000]);
    }
    fn stop_producing(&self) {}
}

#[test]
fn a_pull_producer_is_asked_for_a_chunk_each_time_the_buffer_empties() {
    let reactor = Reactor::new().unwrap();
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0".parse().unwrap(),
            factory_fn(|_| {
                Some(Recorder {
                    events: Rc::default(),
                    on_made: Some(Box::new(|t: &Transport| {
                        let puller = Rc::new(Puller {
                            transport: t.clone(),
                            left: std::cell::Cell::new(30),
                        });
                        t.register_producer(Producer::Pull(puller)).unwrap();
                    })),
                })
            }),
        )
        .unwrap();
    let (events, _) = recorded_client(&reactor, port.address());
    turn_until(&reactor, Duration::from_secs(20), || {
        events.borrow().lost.is_some()
    });
    assert_eq!(events.borrow().received.len(), 30 * 100_000);
    assert!(
        events
            .borrow()
            .lost
            .as_ref()
            .unwrap()
            .is::<ConnectionDone>()
    );
}
