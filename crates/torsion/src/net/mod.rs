//! Connections: protocols, factories and transports over TCP, UNIX and TLS
//! sockets (Twisted's `internet.protocol`, `tcp` and `ssl`).
//!
//! A [`Protocol`] reacts to one connection's events; a [`Factory`] builds one
//! per connection; the [`Transport`] a protocol gets in `connection_made`
//! writes and closes. The reactor listens and connects:
//!
//! ```
//! use torsion::net::{Protocol, Transport, factory_fn};
//! use torsion::Reactor;
//!
//! /// Sends back whatever it receives.
//! #[derive(Default)]
//! struct Echo {
//!     transport: Option<Transport>,
//! }
//!
//! impl Protocol for Echo {
//!     fn connection_made(&mut self, transport: &Transport) {
//!         self.transport = Some(transport.clone());
//!     }
//!     fn data_received(&mut self, data: &[u8]) {
//!         if let Some(transport) = &self.transport {
//!             transport.write(data);
//!         }
//!     }
//! }
//!
//! let reactor = Reactor::new()?;
//! let port = reactor.listen_tcp("127.0.0.1:0".parse()?, factory_fn(|_| Some(Echo::default())))?;
//! println!("echoing on {}", port.address());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Reading is edge-triggered into one buffer shared by every connection of
//! the reactor; writes go straight to the socket and only what it does not
//! take is buffered, so an idle connection holds no buffer at all.
//!
//! Datagram sockets have a protocol and transport of their own: a
//! [`DatagramProtocol`] hears each datagram with its sender, and its
//! [`DatagramTransport`] sends them unbuffered. The reactor opens them with
//! [`Reactor::listen_udp`](crate::Reactor::listen_udp),
//! [`listen_multicast`](crate::Reactor::listen_multicast),
//! [`listen_unix_datagram`](crate::Reactor::listen_unix_datagram) and
//! [`connect_unix_datagram`](crate::Reactor::connect_unix_datagram).

mod accept_group;
mod address;
mod async_stream;
pub(crate) mod composite;
mod connector;
#[cfg(feature = "hyper")]
mod hyper_io;
mod listener;
mod name_resolver;
mod network;
mod pipe;
mod protocol;
mod reconnect;
mod stdio;
mod stream;
mod sys;
mod tcp;
mod tcp_info;
pub mod tls;
mod transport;
mod udp;
mod unix;
mod unix_datagram;
mod write_buffer;

pub use accept_group::AcceptGroup;
pub use address::Address;
pub(crate) use async_stream::stream_connection;
pub(crate) use async_stream::stream_over;
pub use async_stream::{AsyncListener, AsyncStream};
pub use connector::{ConnectOptions, Connector, DEFAULT_CONNECT_TIMEOUT};
pub use listener::ListeningPort;
pub use name_resolver::{NameResolver, SystemResolver};
pub use network::Network;
pub(crate) use pipe::{pipe_reader_stream, pipe_writer_stream};
pub use protocol::{
    ClientFactory, Factory, FnFactory, HalfClose, Producer, Protocol, PullProducer, PushProducer,
    factory_fn,
};
pub use reconnect::{Backoff, ReconnectingClientFactory};
pub use tcp::ListenOptions;
pub(crate) use transport::TransportBackend;
pub use transport::{ProducerError, Transport};
pub use udp::{
    DEFAULT_MAX_PACKET_SIZE, DatagramProtocol, DatagramTransport, MulticastInterface, UdpOptions,
};
pub use unix::UnixListenOptions;
pub use unix_datagram::UnixDatagramOptions;
pub use write_buffer::{HIGH_WATER_MARK, LOW_WATER_MARK};

#[cfg(test)]
mod connector_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tls_tests;
