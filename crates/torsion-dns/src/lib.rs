//! DNS for torsion, in the model of Twisted's `twisted.names`: a
//! [`DnsResolver`] that asks name servers over UDP (and TCP when an answer
//! is truncated), and a [`DnsServerFactory`] that answers from [`Zone`]s
//! read from RFC 1035 master files, over UDP and TCP.
//!
//! Messages are read and written by hickory-proto (re-exported as
//! [`proto`]), so its types are this crate's vocabulary: a
//! [`proto::op::Message`], a [`proto::rr::Record`], a
//! [`proto::rr::RecordType`]. Everything runs on a torsion
//! [`Reactor`](torsion::Reactor) and answers with
//! [`Deferred`](torsion::Deferred)s, which async code awaits.
//!
//! A zone served on a free port, and asked for an address:
//!
//! ```
//! use std::rc::Rc;
//! use torsion::{Failure, Reactor};
//! use torsion_dns::{DnsResolver, DnsServerFactory, ResolverConfig, Zone};
//!
//! let zone = Zone::parse(
//!     "$ORIGIN example.test.\n\
//!      @    3600 SOA ns1 hostmaster 2024010101 7200 900 1209600 300\n\
//!      @    3600 NS  ns1\n\
//!      ns1  3600 A   192.0.2.1\n\
//!      www  300  A   192.0.2.80",
//!     None,
//! )?;
//! let reactor = Reactor::new()?;
//! let server = Rc::new(DnsServerFactory::new(vec![zone]));
//! let port = server.listen_udp(&reactor, "127.0.0.1:0".parse()?)?;
//! let config = ResolverConfig::with_nameservers(vec![port.udp_address().unwrap()]);
//! let resolver = DnsResolver::new(&reactor, config);
//!
//! let r = reactor.clone();
//! drop(reactor.spawn(async move {
//!     let addresses = resolver.lookup_ip("www.example.test").await?;
//!     println!("www.example.test is {addresses:?}");
//!     assert_eq!(addresses, ["192.0.2.80".parse::<std::net::IpAddr>().unwrap()]);
//!     r.stop().unwrap();
//!     Ok::<(), Failure>(())
//! }));
//! reactor.run()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Installed with [`Reactor::install_name_resolver`](torsion::Reactor::install_name_resolver),
//! the resolver answers the host names of every endpoint of that reactor
//! (`tcp:host=www.example.test:port=80`) instead of the system's lookup.
#![deny(missing_docs, missing_debug_implementations)]
#![forbid(unsafe_code)]

mod error;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod resolver;
pub mod server;
pub mod zone;

pub use error::DnsError;
pub use hickory_proto as proto;
pub use resolver::{DnsResolver, ResolverConfig};
pub use server::DnsServerFactory;
pub use zone::Zone;

/// docs/dns.md, compiled as doctests.
#[doc = include_str!("../../../docs/dns.md")]
#[cfg(doctest)]
pub struct DnsDoctests;
