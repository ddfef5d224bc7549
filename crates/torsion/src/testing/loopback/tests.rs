use super::*;
use crate::net::PullProducer;

/// Records everything that happens to it; writes `greeting` on connect.
#[derive(Default)]
struct Peer {
    transport: Option<Transport>,
    greeting: Vec<u8>,
    chunks: Vec<Vec<u8>>,
    made: usize,
    lost: Vec<Failure>,
    read_lost: usize,
    write_lost: usize,
    half_close: Option<HalfClose>,
    echo: bool,
    /// What happened, in order: `data` or `resumed`.
    order: Vec<&'static str>,
}

impl Peer {
    fn greeting(greeting: &[u8]) -> Peer {
        Peer {
            greeting: greeting.to_vec(),
            ..Peer::default()
        }
    }

    fn echo() -> Peer {
        Peer {
            echo: true,
            ..Peer::default()
        }
    }

    fn received(&self) -> Vec<u8> {
        self.chunks.concat()
    }
}

impl Protocol for Peer {
    fn connection_made(&mut self, transport: &Transport) {
        self.made += 1;
        transport.write(&self.greeting);
        self.transport = Some(transport.clone());
    }
    fn data_received(&mut self, data: &[u8]) {
        self.order.push("data");
        self.chunks.push(data.to_vec());
        if self.echo {
            self.transport.as_ref().unwrap().write(data);
        }
    }
    fn connection_lost(&mut self, reason: Failure) {
        self.lost.push(reason);
    }
    fn read_connection_lost(&mut self) -> HalfClose {
        self.read_lost += 1;
        self.half_close.unwrap_or(HalfClose::Close)
    }
    fn write_connection_lost(&mut self) {
        self.write_lost += 1;
    }
    fn reading_resumed(&mut self) {
        self.order.push("resumed");
    }
}

#[test]
fn connection_made_is_called_on_both_sides_once() {
    let pipe = Loopback::new(Peer::default(), Peer::default());
    assert_eq!(pipe.server().borrow().made, 1);
    assert_eq!(pipe.client().borrow().made, 1);
}

#[test]
fn bytes_written_in_connection_made_cross_on_pump() {
    let pipe = Loopback::new(Peer::greeting(b"hello"), Peer::greeting(b"hi"));
    assert!(pipe.client().borrow().chunks.is_empty());
    assert!(pipe.pump());
    assert_eq!(pipe.client().borrow().received(), b"hello");
    assert_eq!(pipe.server().borrow().received(), b"hi");
    assert!(!pipe.pump());
}

#[test]
fn chunk_size_splits_delivery() {
    let mut pipe = Loopback::new(Peer::greeting(b"abcdefg"), Peer::default());
    pipe.set_chunk_size(3);
    pipe.pump();
    assert_eq!(
        pipe.client().borrow().chunks,
        vec![b"abc".to_vec(), b"def".to_vec(), b"g".to_vec()]
    );
}

#[test]
fn replies_written_during_delivery_are_pumped_too() {
    let pipe = Loopback::new(Peer::echo(), Peer::greeting(b"ping"));
    pipe.pump();
    assert_eq!(pipe.server().borrow().received(), b"ping");
    assert_eq!(pipe.client().borrow().received(), b"ping");
}

#[test]
fn peers_see_each_others_addresses() {
    let pipe = Loopback::new(Peer::default(), Peer::default());
    assert_eq!(
        pipe.server_transport().peer(),
        pipe.client_transport().host()
    );
    assert_eq!(
        pipe.client_transport().peer(),
        pipe.server_transport().host()
    );
    assert_ne!(
        pipe.server_transport().host(),
        pipe.client_transport().host()
    );
}

#[test]
fn lose_connection_flushes_then_both_sides_get_connection_done() {
    let pipe = Loopback::new(Peer::default(), Peer::default());
    let server = pipe.server_transport();
    server.write(b"last words");
    server.lose_connection();
    server.write(b"dropped");
    pipe.pump();
    assert!(pipe.is_closed());
    assert_eq!(pipe.client().borrow().received(), b"last words");
    for lost in [&pipe.server().borrow().lost, &pipe.client().borrow().lost] {
        assert_eq!(lost.len(), 1);
        assert!(lost[0].is::<ConnectionDone>());
    }
    assert!(!pipe.pump());
}

#[test]
fn a_closing_side_stops_reading() {
    let pipe = Loopback::new(Peer::default(), Peer::greeting(b"unread"));
    pipe.server_transport().lose_connection();
    pipe.pump();
    assert!(pipe.server().borrow().chunks.is_empty());
    assert!(pipe.is_closed());
}

#[test]
fn abort_drops_buffered_bytes_and_reports_aborted_and_lost() {
    let pipe = Loopback::new(Peer::default(), Peer::default());
    let client = pipe.client_transport();
    client.write(b"never delivered");
    client.abort_connection();
    pipe.pump();
    assert!(pipe.server().borrow().chunks.is_empty());
    assert!(pipe.client().borrow().lost[0].is::<ConnectionAborted>());
    assert!(pipe.server().borrow().lost[0].is::<ConnectionLost>());
    assert_eq!(pipe.server().borrow().lost.len(), 1);
}

#[test]
fn pause_reading_holds_delivery_until_resume() {
    let pipe = Loopback::new(Peer::default(), Peer::default());
    pipe.client_transport().pause_reading();
    pipe.server_transport().write(b"held");
    assert!(!pipe.pump());
    assert!(pipe.client().borrow().chunks.is_empty());
    assert_eq!(pipe.server_transport().buffered(), 4);
    pipe.client_transport().resume_reading();
    assert!(pipe.pump());
    assert_eq!(pipe.client().borrow().received(), b"held");
}

#[test]
fn resuming_reading_tells_the_protocol_before_the_held_bytes_arrive() {
    let pipe = Loopback::new(Peer::default(), Peer::default());
    pipe.client_transport().pause_reading();
    assert!(pipe.client_transport().is_reading_paused());
    pipe.server_transport().write(b"held");
    pipe.pump();
    pipe.client_transport().resume_reading();
    assert!(
        pipe.client().borrow().order.is_empty(),
        "only on the next pump"
    );
    assert!(pipe.pump());
    assert_eq!(pipe.client().borrow().order, ["resumed", "data"]);
    pipe.client_transport().resume_reading();
    pipe.pump();
    assert_eq!(
        pipe.client().borrow().order,
        ["resumed", "data"],
        "resuming what was not paused says nothing"
    );
}

#[test]
fn half_close_delivers_read_connection_lost_to_the_peer() {
    let mut keeps = Peer::echo();
    keeps.half_close = Some(HalfClose::KeepWriting);
    let pipe = Loopback::new(keeps, Peer::default());
    let client = pipe.client_transport();
    client.write(b"request");
    client.lose_write_connection();
    client.write(b"dropped");
    pipe.pump();
    assert_eq!(pipe.client().borrow().write_lost, 1);
    assert_eq!(pipe.server().borrow().read_lost, 1);
    assert_eq!(pipe.server().borrow().received(), b"request");
    assert_eq!(pipe.client().borrow().received(), b"request");
    assert!(!pipe.is_closed());
    pipe.server_transport().write(b" reply");
    pipe.server_transport().lose_connection();
    pipe.pump();
    assert_eq!(pipe.client().borrow().received(), b"request reply");
    assert!(pipe.is_closed());
    assert!(pipe.client().borrow().lost[0].is::<ConnectionDone>());
}

#[test]
fn half_close_to_a_closing_peer_ends_the_connection() {
    let pipe = Loopback::new(Peer::default(), Peer::default());
    pipe.client_transport().lose_write_connection();
    pipe.pump();
    assert_eq!(pipe.server().borrow().read_lost, 1);
    assert!(pipe.is_closed());
    assert!(pipe.server().borrow().lost[0].is::<ConnectionDone>());
    assert!(pipe.client().borrow().lost[0].is::<ConnectionDone>());
}

#[test]
fn both_write_sides_shut_ends_the_connection() {
    let keeps_writing = || Peer {
        half_close: Some(HalfClose::KeepWriting),
        ..Peer::default()
    };
    let pipe = Loopback::new(keeps_writing(), keeps_writing());
    pipe.client_transport().lose_write_connection();
    pipe.pump();
    assert!(!pipe.is_closed());
    pipe.server_transport().lose_write_connection();
    pipe.pump();
    assert!(pipe.is_closed());
    assert_eq!(pipe.server().borrow().lost.len(), 1);
    assert_eq!(pipe.client().borrow().lost.len(), 1);
}

struct OneChunk {
    transport: Transport,
    asked: Cell<usize>,
    stopped: Cell<usize>,
}

impl PullProducer for OneChunk {
    fn resume_producing(&self) {
        self.asked.set(self.asked.get() + 1);
        self.transport.write(b"chunk");
    }
    fn stop_producing(&self) {
        self.stopped.set(self.stopped.get() + 1);
    }
}

#[test]
fn closing_waits_for_the_producer_to_unregister() {
    let pipe = Loopback::new(Peer::default(), Peer::default());
    let server = pipe.server_transport();
    let producer = Rc::new(OneChunk {
        transport: server.clone(),
        asked: Cell::new(0),
        stopped: Cell::new(0),
    });
    server
        .register_producer(Producer::Pull(producer.clone()))
        .unwrap();
    assert_eq!(
        server.register_producer(Producer::Pull(producer.clone())),
        Err(ProducerError::AlreadyRegistered)
    );
    assert_eq!(producer.asked.get(), 1);
    server.lose_connection();
    pipe.pump();
    assert_eq!(pipe.client().borrow().received(), b"chunk");
    assert!(!pipe.is_closed());
    server.unregister_producer();
    pipe.pump();
    assert!(pipe.is_closed());
    assert_eq!(producer.stopped.get(), 0);
}

#[test]
fn connection_end_stops_a_registered_producer() {
    let pipe = Loopback::new(Peer::default(), Peer::default());
    let server = pipe.server_transport();
    let producer = Rc::new(OneChunk {
        transport: server.clone(),
        asked: Cell::new(0),
        stopped: Cell::new(0),
    });
    server
        .register_producer(Producer::Pull(producer.clone()))
        .unwrap();
    pipe.client_transport().abort_connection();
    pipe.pump();
    assert_eq!(producer.stopped.get(), 1);
}

/// Closes from inside its own callback.
struct HangUp;

impl Protocol for HangUp {
    fn connection_made(&mut self, transport: &Transport) {
        transport.write(b"bye");
        transport.lose_connection();
    }
    fn data_received(&mut self, _: &[u8]) {}
}

#[test]
fn closing_from_inside_a_callback_is_safe() {
    let pipe = Loopback::new(HangUp, Peer::default());
    pipe.pump();
    assert_eq!(pipe.client().borrow().received(), b"bye");
    assert!(pipe.client().borrow().lost[0].is::<ConnectionDone>());
}

/// Uses its transport from every callback, including after the end.
#[derive(Default)]
struct Busy {
    transport: Option<Transport>,
    lost_while_open: Option<bool>,
}

impl Protocol for Busy {
    fn connection_made(&mut self, transport: &Transport) {
        self.transport = Some(transport.clone());
    }
    fn data_received(&mut self, data: &[u8]) {
        let transport = self.transport.as_ref().unwrap();
        transport.write(data);
        let _ = (transport.peer(), transport.buffered());
        transport.lose_connection();
    }
    fn connection_lost(&mut self, _: Failure) {
        let transport = self.transport.as_ref().unwrap();
        transport.write(b"too late");
        transport.lose_connection();
        transport.abort_connection();
        self.lost_while_open = Some(transport.is_open());
    }
}

#[test]
fn protocols_may_use_their_transport_from_any_callback() {
    let pipe = Loopback::new(Busy::default(), Peer::greeting(b"x"));
    pipe.pump();
    assert!(pipe.is_closed());
    assert_eq!(pipe.client().borrow().received(), b"x");
    assert_eq!(pipe.server().borrow().lost_while_open, Some(false));
    assert!(!pipe.pump());
}
