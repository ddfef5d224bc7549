//! What a protocol's [`Transport`](crate::net::Transport) does on a stream
//! connection.

use std::io::{self, IoSlice};
use std::task::{Context, Poll};

use crate::error::NetError;
use crate::net::protocol::Producer;
use crate::net::tls::{TlsInfo, TlsSession, TlsSetup};
use crate::net::transport::{ProducerError, TransportBackend};
use crate::net::{Address, sys};

use super::{Reason, StreamConn, StreamSocket, flag};

impl TransportBackend for StreamConn {
    fn write(&self, data: &[u8]) {
        self.write_slices(&[IoSlice::new(data)]);
    }

    fn write_vectored(&self, data: &[IoSlice<'_>]) {
        self.write_slices(data);
    }

    fn lose_connection(&self) {
        if self.has(flag::CLOSED | flag::DISCONNECTING) {
            return;
        }
        self.set(flag::DISCONNECTING);
        let mut extras = self.extras.borrow_mut();
        if let Some(session) = extras.as_mut().and_then(|extras| extras.tls.as_mut()) {
            session.close_notify();
            self.queue_tls_output(session);
            drop(extras);
            self.flush_buffer();
        }
        self.request_settle();
    }

    fn abort_connection(&self) {
        self.fail(Reason::Aborted);
    }

    fn lose_write_connection(&self) {
        if self.has(flag::CLOSED | flag::WRITE_SHUT_WANTED) {
            return;
        }
        self.set(flag::WRITE_SHUT_WANTED);
        self.request_settle();
    }

    fn peer(&self) -> Address {
        self.socket
            .borrow()
            .as_ref()
            .map_or(Address::Unknown, StreamSocket::peer)
    }

    fn host(&self) -> Address {
        self.socket
            .borrow()
            .as_ref()
            .map_or(Address::Unknown, StreamSocket::host)
    }

    fn pause_reading(&self) {
        self.set(flag::PAUSED);
    }

    fn resume_reading(&self) {
        if !self.has(flag::PAUSED) {
            return;
        }
        self.clear(flag::PAUSED);
        self.set(flag::RESUMED);
        self.request_settle();
    }

    fn is_reading_paused(&self) -> bool {
        self.has(flag::PAUSED)
    }

    fn register_producer(&self, producer: Producer) -> Result<(), ProducerError> {
        if self.has(flag::CLOSED) {
            producer.stop();
            return Ok(());
        }
        {
            let mut extras = self.extras();
            if extras.producer.is_some() {
                return Err(ProducerError::AlreadyRegistered);
            }
            extras.producer = Some(producer.clone());
        }
        self.clear(flag::PRODUCER_PAUSED);
        match producer {
            Producer::Push(_) => self.after_write(),
            Producer::Pull(producer) => producer.resume_producing(),
        }
        Ok(())
    }

    fn unregister_producer(&self) {
        let removed = self
            .extras
            .borrow_mut()
            .as_mut()
            .and_then(|extras| extras.producer.take());
        self.clear(flag::PRODUCER_PAUSED);
        drop(removed);
        if self.has(flag::DISCONNECTING) {
            self.request_settle();
        }
    }

    fn buffered(&self) -> usize {
        self.write
            .borrow()
            .as_ref()
            .map_or(0, |buffer| buffer.outstanding())
    }

    fn is_open(&self) -> bool {
        !self.has(flag::CLOSED | flag::DISCONNECTING)
    }

    fn set_nodelay(&self, enabled: bool) -> io::Result<()> {
        match &*self.socket.borrow() {
            Some(StreamSocket::Tcp(socket)) => socket.set_nodelay(enabled),
            _ => Err(NetError::NotTcp.into()),
        }
    }

    fn set_keepalive(&self, enabled: bool) -> io::Result<()> {
        match &*self.socket.borrow() {
            Some(StreamSocket::Tcp(socket)) => sys::set_keepalive(socket, enabled),
            _ => Err(NetError::NotTcp.into()),
        }
    }

    fn start_tls(&self, tls: TlsSetup) -> io::Result<()> {
        if self.has(flag::TLS) {
            return Err(NetError::TlsAlreadyStarted.into());
        }
        if self.has(flag::CLOSED) {
            return Err(NetError::Closed.into());
        }
        let session = TlsSession::new(tls).map_err(io::Error::other)?;
        self.set_tls(session);
        self.send_tls_records();
        Ok(())
    }

    fn is_tls(&self) -> bool {
        self.has(flag::TLS)
    }

    fn set_protocol_name(&self, name: &'static str) {
        self.name_protocol(name);
    }

    fn take_reads(&self) -> bool {
        StreamConn::take_reads(self)
    }

    fn poll_read_now(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Option<Poll<io::Result<usize>>> {
        StreamConn::poll_read_now(self, cx, buf)
    }

    fn tls_info(&self) -> Option<TlsInfo> {
        self.extras
            .borrow()
            .as_ref()
            .and_then(|extras| extras.tls.as_ref().and_then(|session| session.info()))
    }
}
