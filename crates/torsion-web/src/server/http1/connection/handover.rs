//! Handing a connection over to the protocol its response switched to,
//! and the server's hold on it from then on.

use std::rc::Rc;

use super::Http1Connection;
use crate::server::Registered;
use crate::server::control::{Control, Order};
use crate::upgrade::{Handover, Overseer, StopRequest};

impl Http1Connection {
    /// The connection, for the protocol a response switched to: the
    /// stream, what arrived after the request, and the server's hold.
    pub(in crate::server) fn hand_over(mut self) -> Option<Handover> {
        let stream = self.stream.take()?;
        Some(Handover {
            stream,
            already_read: std::mem::take(&mut self.input).freeze(),
            overseer: Some(Box::new(ServerHold {
                control: self.control.clone(),
                _registered: self._registered.clone(),
            })),
        })
    }
}

/// The server's hold on a connection it switched to another protocol: it
/// counts the connection as open, and passes its orders on.
struct ServerHold {
    control: Rc<Control>,
    _registered: Rc<Registered>,
}

impl Overseer for ServerHold {
    fn watch(&self, on_stop: Box<dyn Fn(StopRequest)>) {
        self.control.hand_over(Rc::new(move |order| match order {
            Order::Serve => {}
            Order::Finish => on_stop(StopRequest::GoAway),
            Order::Abort => on_stop(StopRequest::Cut),
        }));
    }
}
