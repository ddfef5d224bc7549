//! What the behaviours share: a guard against hanging, an order log and
//! echo protocols.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use torsion::Reactor;
use torsion::net::{Address, DatagramProtocol, DatagramTransport};
pub(crate) use torsion::protocols::wire::Echo;

/// How long any behaviour may take before its guard stops the reactor.
pub(crate) const LIMIT: Duration = Duration::from_secs(10);

/// Stops `reactor` after `delay`, so no behaviour can hang a backend.
pub(crate) fn stop_after(reactor: &Reactor, delay: Duration) {
    let stopper = reactor.clone();
    reactor.call_later(delay, move || {
        let _ = stopper.stop();
    });
}

pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// What happened, in order.
pub(crate) type Log = Rc<RefCell<Vec<String>>>;

pub(crate) fn log() -> Log {
    Rc::default()
}

pub(crate) fn push(log: &Log, entry: impl Into<String>) {
    log.borrow_mut().push(entry.into());
}

pub(crate) fn entries(log: &Log) -> Vec<String> {
    log.borrow().clone()
}

/// Sends every datagram back to its sender.
#[derive(Default)]
pub(crate) struct DatagramEcho {
    transport: Option<DatagramTransport>,
}

impl DatagramProtocol for DatagramEcho {
    fn start_protocol(&mut self, transport: &DatagramTransport) {
        self.transport = Some(transport.clone());
    }
    fn datagram_received(&mut self, data: &[u8], from: Address) {
        if let Some(transport) = &self.transport {
            transport.write_to(data, from).unwrap();
        }
    }
}
