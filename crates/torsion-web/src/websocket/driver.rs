//! The task that serves one WebSocket connection (once its protocol was
//! told it opened): it reads from the
//! socket, lets the connection parse, and calls the protocol, one event at
//! a time, catching panics so a broken protocol loses only its own
//! connection.

use std::future::poll_fn;
use std::panic::{AssertUnwindSafe, catch_unwind};

use torsion::Failure;

use super::connection::Event;
use super::going_away::ShutdownWatch;
use super::{CloseCode, CloseReason, WebSocket, WebSocketProtocol};

/// How much is read from the socket at a time.
const READ_CHUNK: usize = 16 * 1024;

pub(crate) async fn drive(
    ws: WebSocket,
    protocol: Box<dyn WebSocketProtocol>,
    watch: ShutdownWatch,
) -> Result<(), Failure> {
    let mut serving = Serving {
        ws,
        protocol,
        watch: Some(watch),
    };
    let mut buf = vec![0u8; READ_CHUNK];
    let reason = loop {
        let event = {
            let mut connection = serving.ws.connection.borrow_mut();
            if connection.wants_events() {
                connection.next_event()
            } else {
                Event::NeedInput
            }
        };
        match event {
            Event::Message(message) => {
                call(&serving.ws, &mut serving.protocol, |protocol| {
                    protocol.message_received(message)
                });
            }
            Event::Pong(payload) => {
                call(&serving.ws, &mut serving.protocol, |protocol| {
                    protocol.pong_received(payload)
                });
            }
            Event::Finished(reason) => break reason,
            Event::NeedInput => {
                poll_fn(|cx| serving.ws.connection.borrow_mut().poll_input(cx, &mut buf)).await;
            }
        }
    };
    serving.end(&reason);
    Ok(())
}

/// A connection being served. Dropped before it ended (the reactor
/// finished without waiting for the close: a second stop signal, or its
/// shutdown timeout), it still ends the connection and tells the protocol,
/// as a reactor tells every protocol of a connection it closes.
struct Serving {
    ws: WebSocket,
    protocol: Box<dyn WebSocketProtocol>,
    /// Taken when the connection has ended.
    watch: Option<ShutdownWatch>,
}

impl Serving {
    fn end(&mut self, reason: &CloseReason) {
        let Some(watch) = self.watch.take() else {
            return;
        };
        tracing::debug!(peer = %self.ws.peer(), %reason, "WebSocket closed");
        let waiters = self.ws.connection.borrow_mut().finish(reason);
        for waiter in waiters {
            waiter.resolve(reason.clone());
        }
        call(&self.ws, &mut self.protocol, |protocol| {
            protocol.closed(reason)
        });
        // A stop waiting for this connection waits for `closed` too.
        drop(watch);
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.end(&CloseReason::abnormal(
            "the reactor stopped before the connection ended",
        ));
    }
}

/// Runs one protocol callback; a panic fails the connection with 1011.
pub(crate) fn call(
    ws: &WebSocket,
    protocol: &mut Box<dyn WebSocketProtocol>,
    callback: impl FnOnce(&mut dyn WebSocketProtocol),
) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| callback(protocol.as_mut()))) {
        let failure = Failure::from_panic(payload);
        tracing::error!(
            peer = %ws.peer(),
            %failure,
            "a WebSocket protocol panicked; closing its connection with 1011"
        );
        ws.connection
            .borrow_mut()
            .fail(CloseCode::Error, "internal error");
    }
}
