//! What a stream connection tells [`Reactor::snapshot`](crate::Reactor::snapshot)
//! about itself. Nothing is counted while nobody looks: the byte figures
//! are the kernel's, read at snapshot time.

use std::os::fd::AsFd;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::{StreamConn, StreamSocket, flag};
use crate::net::tcp_info;
use crate::net::transport::TransportBackend;
use crate::reactor::introspect::{ConnectionInfo, SourceInfo};

/// The instant connection ages are counted from: the first connection
/// the process opened.
static EPOCH: OnceLock<Instant> = OnceLock::new();

/// `at` as milliseconds since [`EPOCH`].
pub(super) fn millis_since_epoch(at: Instant) -> u64 {
    let epoch = *EPOCH.get_or_init(|| at);
    at.saturating_duration_since(epoch).as_millis() as u64
}

impl StreamConn {
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
        let (kind, counts) = match &*self.socket.borrow() {
            Some(StreamSocket::Tcp(socket)) => ("tcp", tcp_info::byte_counts(socket.as_fd())),
            Some(StreamSocket::Unix(_)) => ("unix", None),
            Some(StreamSocket::PipeReader(_) | StreamSocket::PipeWriter(_)) => ("pipe", None),
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
            counts.map(|counts| (counts.received, counts.written)),
            self.buffered(),
            Duration::from_millis(millis_since_epoch(now).saturating_sub(self.opened_ms)),
        )))
    }
}
