//! Going away: a WebSocket closes with 1001 (RFC 6455 section 7.4.1, "a
//! server going down or a browser having navigated away") when what serves
//! it stops, instead of being cut without a close frame.
//!
//! A WebSocket that a torsion-web [`Server`](crate::Server) upgraded
//! follows that server's graceful stop, which runs when the reactor stops:
//! the server asks it to go away, counts it among the connections its stop
//! waits for, and cuts it at its shutdown timeout. Any other WebSocket (a
//! client's, or one upgraded without a server) follows its reactor: a
//! before-shutdown trigger closes it and returns a Deferred that fires once
//! it has closed, so the reactor waits for the close handshake (bounded by
//! the close timeout and the reactor's shutdown timeout).
//!
//! Either way the hold is let go only after the protocol heard `closed`, so
//! whatever waits for the stop waits for that too.

use std::rc::Rc;

use torsion::reactor::{Phase, SystemEvent, TriggerId};
use torsion::{Deferred, Reactor};

use super::{CloseCode, WebSocket};
use crate::upgrade::{Overseer, StopRequest};

/// Keeps a WebSocket in its server's or its reactor's stop until dropped.
pub(crate) struct ShutdownWatch {
    _hold: Hold,
}

enum Hold {
    /// Held only: the server counts the connection while it lives.
    Server { _overseer: Box<dyn Overseer> },
    /// The trigger to remove once the connection has ended.
    Reactor {
        reactor: Reactor,
        trigger: TriggerId,
    },
}

impl Drop for Hold {
    fn drop(&mut self) {
        if let Hold::Reactor { reactor, trigger } = self {
            // Fails harmlessly when the trigger has run already.
            let _ = reactor.remove_system_event_trigger(*trigger);
        }
    }
}

/// Makes `ws` close with 1001 and `reason` when the server that upgraded
/// it (`overseer`) stops, or, without one, when `reactor` stops.
pub(crate) fn watch(
    ws: &WebSocket,
    reactor: &Reactor,
    overseer: Option<Box<dyn Overseer>>,
    reason: &'static str,
) -> ShutdownWatch {
    let connection = Rc::downgrade(&ws.connection);
    let hold = match overseer {
        Some(overseer) => {
            overseer.watch(Box::new(move |request| {
                let Some(connection) = connection.upgrade() else {
                    return;
                };
                let mut connection = connection.borrow_mut();
                match request {
                    StopRequest::GoAway => connection.close(CloseCode::Away, reason),
                    StopRequest::Cut => connection.cut(),
                }
            }));
            Hold::Server {
                _overseer: overseer,
            }
        }
        None => {
            let trigger =
                reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, move || {
                    let Some(connection) = connection.upgrade() else {
                        return Deferred::succeed(());
                    };
                    let (closed, resolver) = Deferred::new();
                    let mut connection = connection.borrow_mut();
                    connection.close(CloseCode::Away, reason);
                    connection.add_close_waiter(resolver);
                    closed.map(|_reason| ())
                });
            Hold::Reactor {
                reactor: reactor.clone(),
                trigger,
            }
        }
    };
    ShutdownWatch { _hold: hold }
}
