//! Twisted's `protocols.wire`: the smallest protocols, for tests, demos
//! and services that only need a peer to answer.

use crate::Failure;
use crate::net::{Protocol, Transport};

/// Writes back everything it receives (Twisted's `wire.Echo`).
///
/// ```
/// use torsion::net::factory_fn;
/// use torsion::protocols::wire::Echo;
/// use torsion::Reactor;
///
/// let reactor = Reactor::new()?;
/// let port = reactor.listen_tcp("127.0.0.1:0".parse()?, factory_fn(|_| Some(Echo::default())))?;
/// assert!(port.tcp_address().is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct Echo {
    transport: Option<Transport>,
}

impl Protocol for Echo {
    fn connection_made(&mut self, transport: &Transport) {
        self.transport = Some(transport.clone());
    }

    fn data_received(&mut self, data: &[u8]) {
        if let Some(transport) = &self.transport {
            transport.write(data);
        }
    }

    fn connection_lost(&mut self, _reason: Failure) {
        self.transport = None;
    }
}
