//! The TLS layer of a stream connection: records in from the socket,
//! plaintext up to the protocol, records out through the write buffer, and
//! the bound on how long the handshake may take.

use std::rc::Rc;
use std::time::Duration;

use crate::error::TlsHandshakeTimeout;
use crate::net::tls::TlsSession;
use crate::net::transport::TransportBackend;
use crate::{Failure, Reactor};

use super::{Reason, StreamConn, flag};

impl StreamConn {
    pub(crate) fn set_tls(&self, session: TlsSession) {
        // The session must see every byte: the loop reads from here on.
        self.give_back_reads();
        self.extras().tls = Some(Box::new(session));
        self.set(flag::TLS);
    }

    /// Turns TLS on for a connection just made, and aborts it if the
    /// handshake has not finished within `timeout`: a peer that connects
    /// and sends nothing, or half a handshake, holds a descriptor and a
    /// session for no longer than that.
    pub(crate) fn start_handshake(
        self: &Rc<Self>,
        reactor: &Reactor,
        session: TlsSession,
        timeout: Option<Duration>,
    ) {
        self.set_tls(session);
        let Some(timeout) = timeout else {
            return;
        };
        let weak = Rc::downgrade(self);
        let timer = reactor.call_later(timeout, move || {
            let Some(conn) = weak.upgrade() else {
                return;
            };
            conn.extras().handshake_timer = None;
            let peer = conn.peer();
            tracing::debug!(%peer, ?timeout, "TLS handshake timed out; aborting the connection");
            let failure = Failure::new(TlsHandshakeTimeout(timeout));
            conn.fail(Reason::Failed("TLS handshake timed out".into(), failure));
        });
        self.extras().handshake_timer = Some(timer);
    }

    /// The handshake is over: its bound no longer applies.
    fn handshake_finished(&self) {
        if let Some(timer) = self.extras().handshake_timer.take() {
            let _ = timer.cancel();
        }
    }

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
        if handshake_done {
            self.handshake_finished();
        }
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
