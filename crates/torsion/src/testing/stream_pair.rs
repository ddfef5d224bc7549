//! [`stream_pair`]: two [`AsyncStream`]s connected to each other in memory,
//! carried by the reactor, so that code written against async streams
//! (an HTTP server and client on hyper, a codec, a handshake) is tested
//! without sockets.
//!
//! Each end is an ordinary [`AsyncStream`] (futures-io, tokio and, with
//! the `hyper` feature, hyper's I/O traits), over a transport that is a
//! buffer instead of a socket. What one end writes is handed to the other
//! on a later reactor turn, never inside the write, as a socket's bytes
//! would be: a test sees the same interleavings of tasks as over loopback,
//! minus the kernel.
//!
//! ```text
//!   end 0 write ──> outgoing[0] ──(next turn)──> end 1's protocol ──> read
//!   end 0 read  <── end 0's protocol <──(next turn)── outgoing[1] <── end 1 write
//! ```

use std::cell::RefCell;
use std::io::IoSlice;
use std::rc::Rc;
use std::time::Duration;

use crate::error::{ConnectionAborted, ConnectionDone, ConnectionLost};
use crate::net::{
    Address, AsyncStream, HalfClose, LOW_WATER_MARK, Producer, ProducerError, Protocol, Transport,
    TransportBackend, stream_over,
};
use crate::{Failure, Reactor};

/// Two connected in-memory streams running on `reactor`, in the order
/// (client, server) for tests that give them roles; the two are alike.
///
/// Closing works as on a socket: `poll_close` / `shutdown` (or
/// [`Transport::lose_write_connection`]) is a half-close, the other end
/// reads end of file once everything before it arrived; dropping an end
/// closes the connection once what it wrote was delivered, and
/// [`Transport::abort_connection`] ends it at once, the other end reading
/// an error. A reader that falls behind by more than the stream's
/// read-ahead pauses delivery, and a writer then waits once more than the
/// transport's high-water mark is buffered, as over a socket.
///
/// The ends' addresses are [`Address::Unix`]`(None)`, those of an unnamed
/// socket pair.
///
/// ```
/// use torsion::testing::stream_pair;
/// use torsion::{Failure, Reactor};
///
/// let reactor = Reactor::new()?;
/// let (client, server) = stream_pair(&reactor);
/// let r = reactor.clone();
/// let done = reactor.spawn(async move {
///     client.write_all_now(b"ping");
///     let mut buf = [0u8; 4];
///     server.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"ping");
///     r.stop().ok();
///     Ok::<(), Failure>(())
/// });
/// reactor.run()?;
/// # drop(done);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn stream_pair(reactor: &Reactor) -> (AsyncStream, AsyncStream) {
    let pipe = Rc::new(RefCell::new(Pipe {
        reactor: reactor.clone(),
        ends: [End::default(), End::default()],
        delivery_scheduled: false,
    }));
    let make_end = |side: usize| {
        let (stream, protocol) = stream_over(|| {
            Transport::new(Rc::new(MemoryTransport {
                pipe: pipe.clone(),
                side,
            }))
        });
        pipe.borrow_mut().ends[side].protocol = Some(protocol);
        stream
    };
    let first = make_end(0);
    let second = make_end(1);
    (first, second)
}

/// What one end has written and asked for.
#[derive(Default)]
struct End {
    /// `None` while a callback of it runs (or once the connection is over).
    protocol: Option<Box<dyn Protocol>>,
    /// Written by this end, not yet delivered to the other.
    outgoing: Vec<u8>,
    /// This end shut its writing side; the other reads end of file once
    /// `outgoing` is delivered.
    write_shut: bool,
    write_shut_delivered: bool,
    /// `lose_connection`: the connection ends once `outgoing` is delivered
    /// and no producer is registered.
    closing: bool,
    aborted: bool,
    reading_paused: bool,
    producer: Option<Producer>,
    /// `connection_lost` was delivered.
    lost: bool,
}

impl End {
    fn is_open(&self) -> bool {
        !(self.lost || self.closing || self.aborted)
    }
}

struct Pipe {
    reactor: Reactor,
    ends: [End; 2],
    delivery_scheduled: bool,
}

/// What one delivery step decided to tell a protocol, run with no borrow
/// of the pipe held (the protocol may write, close or pause from inside).
enum Event {
    Data(Vec<u8>),
    ReadClosed,
    WriteClosed,
    Lost(Failure),
}

/// One end's transport.
struct MemoryTransport {
    pipe: Rc<RefCell<Pipe>>,
    side: usize,
}

impl MemoryTransport {
    fn with_end<R>(&self, f: impl FnOnce(&mut End) -> R) -> R {
        let result = f(&mut self.pipe.borrow_mut().ends[self.side]);
        schedule(&self.pipe);
        result
    }
}

/// Makes sure a delivery step runs on a later turn.
fn schedule(pipe: &Rc<RefCell<Pipe>>) {
    let reactor = {
        let mut state = pipe.borrow_mut();
        if state.delivery_scheduled {
            return;
        }
        state.delivery_scheduled = true;
        state.reactor.clone()
    };
    let pipe = pipe.clone();
    drop(reactor.call_later(Duration::ZERO, move || deliver(&pipe)));
}

/// One step: at most one event for each end, then another step if anything
/// happened, so the pair interleaves with the reactor's other work the way
/// a socket's reads do.
fn deliver(pipe: &Rc<RefCell<Pipe>>) {
    pipe.borrow_mut().delivery_scheduled = false;
    let mut progressed = false;
    for side in 0..2 {
        let events = next_events(&mut pipe.borrow_mut(), side);
        progressed |= !events.is_empty();
        for (to, event) in events {
            tell(pipe, to, event);
        }
    }
    if progressed {
        schedule(pipe);
    }
}

/// What the bytes and closes written by end `side` mean now, for whom.
fn next_events(pipe: &mut Pipe, side: usize) -> Vec<(usize, Event)> {
    let peer = 1 - side;
    let [writer, reader] = if side == 0 {
        let [a, b] = &mut pipe.ends;
        [a, b]
    } else {
        let [a, b] = &mut pipe.ends;
        [b, a]
    };
    if writer.lost {
        return Vec::new();
    }
    if writer.aborted {
        writer.outgoing.clear();
        reader.outgoing.clear();
        let mut events = vec![(side, Event::Lost(Failure::new(ConnectionAborted)))];
        if !reader.lost {
            events.push((peer, Event::Lost(Failure::new(ConnectionLost::new()))));
        }
        return events;
    }
    if !writer.outgoing.is_empty() {
        if reader.lost || reader.closing {
            // Nobody reads any more: the bytes go where a closed socket's do.
            writer.outgoing.clear();
        } else if !reader.reading_paused {
            return vec![(peer, Event::Data(std::mem::take(&mut writer.outgoing)))];
        }
        return Vec::new();
    }
    if writer.closing && writer.producer.is_none() {
        let mut events = vec![(side, Event::Lost(Failure::new(ConnectionDone)))];
        if !reader.lost {
            events.push((peer, Event::Lost(Failure::new(ConnectionDone))));
        }
        return events;
    }
    if writer.write_shut && !writer.write_shut_delivered {
        writer.write_shut_delivered = true;
        return vec![(side, Event::WriteClosed), (peer, Event::ReadClosed)];
    }
    if writer.write_shut_delivered && reader.write_shut_delivered && !reader.lost {
        // Both directions are shut: the connection is over.
        return vec![
            (side, Event::Lost(Failure::new(ConnectionDone))),
            (peer, Event::Lost(Failure::new(ConnectionDone))),
        ];
    }
    Vec::new()
}

/// Runs one event's callback on end `to`'s protocol, with no borrow held.
fn tell(pipe: &Rc<RefCell<Pipe>>, to: usize, event: Event) {
    let protocol = {
        let mut state = pipe.borrow_mut();
        let end = &mut state.ends[to];
        if end.lost {
            return;
        }
        if matches!(event, Event::Lost(_)) {
            end.lost = true;
        }
        end.protocol.take()
    };
    let Some(mut protocol) = protocol else {
        return;
    };
    let mut producer = None;
    match event {
        Event::Data(data) => {
            protocol.data_received(&data);
            // The writer's buffer just emptied: a writer waiting for room
            // (the stream's own producer) may go on.
            producer = writer_producer(pipe, 1 - to);
        }
        Event::ReadClosed => {
            if protocol.read_connection_lost() == HalfClose::Close {
                pipe.borrow_mut().ends[to].closing = true;
                schedule(pipe);
            }
        }
        Event::WriteClosed => protocol.write_connection_lost(),
        Event::Lost(reason) => {
            let stopped = pipe.borrow_mut().ends[to].producer.take();
            if let Some(stopped) = stopped {
                stop(&stopped);
            }
            protocol.connection_lost(reason);
        }
    }
    let mut state = pipe.borrow_mut();
    if !state.ends[to].lost {
        state.ends[to].protocol = Some(protocol);
    }
    drop(state);
    if let Some(producer) = producer {
        resume(&producer);
    }
}

fn writer_producer(pipe: &Rc<RefCell<Pipe>>, side: usize) -> Option<Producer> {
    let state = pipe.borrow();
    let end = &state.ends[side];
    (end.outgoing.len() <= LOW_WATER_MARK)
        .then(|| end.producer.clone())
        .flatten()
}

fn resume(producer: &Producer) {
    match producer {
        Producer::Push(push) => push.resume_producing(),
        Producer::Pull(pull) => pull.resume_producing(),
    }
}

fn stop(producer: &Producer) {
    match producer {
        Producer::Push(push) => push.stop_producing(),
        Producer::Pull(pull) => pull.stop_producing(),
    }
}

impl TransportBackend for MemoryTransport {
    fn write(&self, data: &[u8]) {
        self.with_end(|end| {
            if end.is_open() && !end.write_shut {
                end.outgoing.extend_from_slice(data);
            }
        });
    }

    fn write_vectored(&self, data: &[IoSlice<'_>]) {
        self.with_end(|end| {
            if end.is_open() && !end.write_shut {
                for slice in data {
                    end.outgoing.extend_from_slice(slice);
                }
            }
        });
    }

    fn lose_connection(&self) {
        self.with_end(|end| end.closing = true);
    }

    fn abort_connection(&self) {
        self.with_end(|end| end.aborted = true);
    }

    fn lose_write_connection(&self) {
        self.with_end(|end| end.write_shut = true);
    }

    fn peer(&self) -> Address {
        Address::Unix(None)
    }

    fn host(&self) -> Address {
        Address::Unix(None)
    }

    fn pause_reading(&self) {
        self.with_end(|end| end.reading_paused = true);
    }

    fn resume_reading(&self) {
        self.with_end(|end| end.reading_paused = false);
    }

    fn is_reading_paused(&self) -> bool {
        self.pipe.borrow().ends[self.side].reading_paused
    }

    fn register_producer(&self, producer: Producer) -> Result<(), ProducerError> {
        let pull = matches!(producer, Producer::Pull(_)).then(|| producer.clone());
        self.with_end(|end| {
            if end.producer.is_some() {
                return Err(ProducerError::AlreadyRegistered);
            }
            end.producer = Some(producer);
            Ok(())
        })?;
        // A pull producer is asked for its first chunk at once (from a
        // later turn, like every other callback).
        if let Some(pull) = pull {
            let reactor = self.pipe.borrow().reactor.clone();
            drop(reactor.call_later(Duration::ZERO, move || resume(&pull)));
        }
        Ok(())
    }

    fn unregister_producer(&self) {
        self.with_end(|end| end.producer = None);
    }

    fn buffered(&self) -> usize {
        self.pipe.borrow().ends[self.side].outgoing.len()
    }

    fn is_open(&self) -> bool {
        self.pipe.borrow().ends[self.side].is_open()
    }
}

// The tests drive the streams with tokio's io-util, which the loom build
// leaves out.
#[cfg(all(test, not(loom)))]
mod tests;
