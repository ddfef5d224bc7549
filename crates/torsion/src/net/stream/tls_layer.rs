//! The TLS layer of a stream connection: records in from the socket,
//! plaintext up to the protocol, records out through the write buffer.

use crate::Failure;
use crate::net::tls::TlsSession;

use super::{Reason, StreamConn, flag};

impl StreamConn {
    pub(super) fn receive_tls(&self, ciphertext: &[u8]) {
        let mut plaintext = Vec::new();
        let (result, handshake_done) = {
            let mut extras = self.extras();
            let Some(session) = extras.tls.as_mut() else {
                return;
            };
            let was_handshaking = session.is_handshaking();
            let result = session.receive(ciphertext, &mut plaintext);
            self.queue_tls_output(session);
            (result, was_handshaking && !session.is_handshaking())
        };
        self.flush_buffer();
        if handshake_done && result.is_ok() {
            self.call_protocol(|protocol| protocol.handshake_completed());
        }
        if !plaintext.is_empty() {
            self.call_protocol(|protocol| protocol.data_received(&plaintext));
        }
        self.after_tls_receive(result);
    }

    pub(super) fn receive_tls_eof(&self) {
        let mut plaintext = Vec::new();
        let result = {
            let mut extras = self.extras();
            let Some(session) = extras.tls.as_mut() else {
                return;
            };
            session.receive_eof(&mut plaintext)
        };
        if !plaintext.is_empty() {
            self.call_protocol(|protocol| protocol.data_received(&plaintext));
        }
        match result {
            Ok(_) => self.peer_closed_write(),
            Err(failure) => self.fail(Reason::Failed("TLS".into(), failure)),
        }
    }

    pub(super) fn after_tls_receive(&self, result: Result<bool, Failure>) {
        match result {
            Ok(false) => {}
            // close_notify: the peer's clean end of its writing.
            Ok(true) => self.peer_closed_write(),
            Err(failure) => {
                tracing::debug!(%failure, "TLS failed");
                self.fail(Reason::Failed("TLS".into(), failure));
            }
        }
    }

    /// Moves the TLS session's pending records into the write buffer.
    pub(super) fn queue_tls_output(&self, session: &mut TlsSession) {
        if !session.wants_write() {
            return;
        }
        let mut slot = self.write.borrow_mut();
        let buffer = slot.get_or_insert_with(Default::default);
        session.write_records(buffer);
    }

    /// Sends what the TLS session has to say (a handshake message).
    pub(super) fn send_tls_records(&self) {
        if !self.has(flag::TLS) {
            return;
        }
        if let Some(session) = self.extras().tls.as_mut() {
            self.queue_tls_output(session);
        }
        self.flush_buffer();
    }
}
