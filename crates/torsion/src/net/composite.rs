//! A [`Transport`] made of others: reading is one connection's, writing
//! another's (or the same one's), with a hook on every write. The process's
//! stdin and stdout are joined this way (`stdio`), and a protocol wrapper
//! that must see its protocol's writes hands it one of these
//! ([`protocols::TimeoutProtocol`](crate::protocols::TimeoutProtocol)).

use std::io::{self, IoSlice};
use std::rc::Rc;

use crate::net::transport::TransportBackend;
use crate::net::{Address, Producer, ProducerError, Transport};

/// Something written: what a [`Composite`]'s hook hears.
pub(crate) type WriteHook = Box<dyn Fn()>;

/// Writes, closing, addresses and socket options go to `output`; pausing
/// and resuming reads to `input`.
pub(crate) struct Composite {
    input: Transport,
    output: Transport,
    on_write: Option<WriteHook>,
}

impl Composite {
    /// The transport reading `input` and writing `output`, calling
    /// `on_write` before each write.
    pub(crate) fn transport(
        input: Transport,
        output: Transport,
        on_write: Option<WriteHook>,
    ) -> Transport {
        Transport::new(Rc::new(Composite {
            input,
            output,
            on_write,
        }))
    }

    fn wrote(&self) {
        if let Some(hook) = &self.on_write {
            hook();
        }
    }

    /// The input, unless it is the output itself.
    fn other_input(&self) -> Option<&Transport> {
        (!self.input.same_connection(&self.output)).then_some(&self.input)
    }
}

impl TransportBackend for Composite {
    fn write(&self, data: &[u8]) {
        self.wrote();
        self.output.write(data);
    }

    fn write_vectored(&self, data: &[IoSlice<'_>]) {
        self.wrote();
        self.output.write_vectored(data);
    }

    /// The output is flushed, then closed; the input is not read any more.
    fn lose_connection(&self) {
        self.output.lose_connection();
        if let Some(input) = self.other_input() {
            input.lose_connection();
        }
    }

    fn abort_connection(&self) {
        self.output.abort_connection();
        if let Some(input) = self.other_input() {
            input.abort_connection();
        }
    }

    fn lose_write_connection(&self) {
        match self.other_input() {
            // Two connections: the output is the writing half.
            Some(_) => self.output.lose_connection(),
            None => self.output.lose_write_connection(),
        }
    }

    fn peer(&self) -> Address {
        self.output.peer()
    }

    fn host(&self) -> Address {
        self.output.host()
    }

    fn pause_reading(&self) {
        self.input.pause_reading();
    }

    fn resume_reading(&self) {
        self.input.resume_reading();
    }

    fn is_reading_paused(&self) -> bool {
        self.input.is_reading_paused()
    }

    fn register_producer(&self, producer: Producer) -> Result<(), ProducerError> {
        self.output.register_producer(producer)
    }

    fn unregister_producer(&self) {
        self.output.unregister_producer();
    }

    fn buffered(&self) -> usize {
        self.output.buffered()
    }

    fn is_open(&self) -> bool {
        self.output.is_open()
    }

    fn set_nodelay(&self, enabled: bool) -> io::Result<()> {
        self.output.set_nodelay(enabled)
    }

    fn set_keepalive(&self, enabled: bool) -> io::Result<()> {
        self.output.set_keepalive(enabled)
    }

    fn start_tls(&self, tls: crate::net::tls::TlsSetup) -> io::Result<()> {
        self.output.start_tls(tls)
    }

    fn tls_info(&self) -> Option<crate::net::tls::TlsInfo> {
        self.output.tls_info()
    }

    fn is_tls(&self) -> bool {
        self.output.is_tls()
    }

    fn set_protocol_name(&self, name: &'static str) {
        self.output.set_protocol_name(name);
        if let Some(input) = self.other_input() {
            input.set_protocol_name(name);
        }
    }
}
