//! What a stream connection tells [`Reactor::snapshot`](crate::Reactor::snapshot)
//! about itself, and the counters behind it.

use std::time::Instant;

use super::{StreamConn, StreamSocket, flag};
use crate::net::transport::TransportBackend;
use crate::reactor::introspect::{ConnectionInfo, SourceInfo};

impl StreamConn {
    /// Adds `n` bytes the socket took to the bytes-out figure.
    #[inline]
    pub(super) fn count_out(&self, n: usize) {
        self.bytes_out.set(self.bytes_out.get() + n as u64);
    }

    /// Names the protocol in use (see
    /// [`Transport::set_protocol_name`](crate::net::Transport::set_protocol_name)).
    pub(super) fn name_protocol(&self, name: &'static str) {
        if !self.has(flag::CLOSED) {
            self.extras().protocol_name = Some(name);
        }
    }

    fn protocol_label(&self) -> &'static str {
        let named = self
            .extras
            .borrow()
            .as_ref()
            .and_then(|extras| extras.protocol_name);
        if let Some(name) = named {
            return name;
        }
        match self.protocol.try_borrow() {
            Ok(protocol) => protocol
                .as_ref()
                .map_or("(connecting)", |protocol| protocol.protocol_name()),
            // The snapshot is taken from inside this connection's own
            // callback.
            Err(_) => "(running)",
        }
    }

    pub(super) fn describe_connection(&self, now: Instant) -> Option<SourceInfo> {
        if self.has(flag::CLOSED) {
            return None;
        }
        let kind = match &*self.socket.borrow() {
            Some(StreamSocket::Tcp(_)) => "tcp",
            Some(StreamSocket::Unix(_)) => "unix",
            None => return None,
        };
        let transport = if self.has(flag::TLS) {
            format!("{kind}+tls")
        } else {
            kind.to_owned()
        };
        Some(SourceInfo::Connection(ConnectionInfo::new(
            self.peer().to_string(),
            self.host().to_string(),
            transport,
            self.protocol_label().to_owned(),
            (self.bytes_in.get(), self.bytes_out.get()),
            self.buffered(),
            now.saturating_duration_since(self.opened),
        )))
    }
}
