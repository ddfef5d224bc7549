//! [`DnsResolver`]: asks name servers, over UDP first and over TCP when
//! the answer comes back truncated (Twisted's `names.client.Resolver`).
//!
//! ```text
//!   for each of `attempts` rounds:
//!     for each nameserver, in order:
//!       UDP query, from a fresh socket on a random port -- waits `timeout`
//!         answer with TC set       -> the same question over TCP, same server
//!         SERVFAIL/NOTIMP/REFUSED  -> remembered; the next server is asked
//!         any other answer         -> done
//!         timeout, port refused    -> the next server is asked
//!   no answer at all -> DnsError::Timeout
//! ```
//!
//! That is the C library's order and patience (`options timeout:N
//! attempts:N` of `resolv.conf`), so a resolver configured from the
//! system's file behaves as the system's would. Names are taken as
//! absolute: the `search` list is not applied.
//!
//! Installed on a reactor, a `DnsResolver` resolves the host names of its
//! endpoints:
//!
//! ```no_run
//! use std::rc::Rc;
//! use torsion::Reactor;
//! use torsion::endpoints::client_from_string;
//! use torsion_dns::{DnsResolver, ResolverConfig};
//!
//! let reactor = Reactor::new()?;
//! let config = ResolverConfig::load("resolv.conf")?;
//! reactor.install_name_resolver(Rc::new(DnsResolver::new(&reactor, config)));
//! // `www.example.test` is looked up by this crate, not by the C library.
//! let endpoint = client_from_string(&reactor, "tcp:host=www.example.test:port=80")?;
//! # drop(endpoint);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::rc::Rc;

use hickory_proto::op::{Edns, Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use torsion::defer::DeferredList;
use torsion::error::{DnsLookupError, TimedOut};
use torsion::net::NameResolver;
use torsion::{Deferred, Failure, Reactor};

use crate::DnsError;

mod config;
mod exchange;

pub use config::{ResolverConfig, SYSTEM_RESOLV_CONF};

/// A DNS client on a reactor: sends queries to the configured name
/// servers and fires with their answers (Twisted's `client.Resolver`).
/// Cheap to clone; clones share the configuration.
#[derive(Clone)]
pub struct DnsResolver {
    inner: Rc<Inner>,
}

struct Inner {
    reactor: Reactor,
    config: ResolverConfig,
}

impl fmt::Debug for DnsResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DnsResolver")
            .field("config", &self.inner.config)
            .finish()
    }
}

impl DnsResolver {
    /// A resolver asking as `config` says.
    pub fn new(reactor: &Reactor, config: ResolverConfig) -> DnsResolver {
        DnsResolver {
            inner: Rc::new(Inner {
                reactor: reactor.clone(),
                config,
            }),
        }
    }

    /// A resolver configured from the `resolv.conf` at `path`.
    pub fn from_resolv_conf(
        reactor: &Reactor,
        path: impl AsRef<Path>,
    ) -> Result<DnsResolver, DnsError> {
        Ok(DnsResolver::new(reactor, ResolverConfig::load(path)?))
    }

    /// A resolver configured as the system's ([`ResolverConfig::system`]).
    pub fn system(reactor: &Reactor) -> Result<DnsResolver, DnsError> {
        Ok(DnsResolver::new(reactor, ResolverConfig::system()?))
    }

    /// How this resolver asks.
    pub fn config(&self) -> &ResolverConfig {
        &self.inner.config
    }

    /// Asks for the records of type `record_type` that `name` has, and
    /// fires with the whole answer (answer, authority and additional
    /// sections). An answer whose code is not NOERROR fails with
    /// [`DnsError::Response`] (NXDOMAIN: [`DnsError::is_name_error`]).
    pub fn query(&self, name: &str, record_type: RecordType) -> Deferred<Message> {
        let name = match absolute_name(name) {
            Ok(name) => name,
            Err(error) => return Deferred::fail(error),
        };
        let mut message = Message::query();
        message.metadata.recursion_desired = true;
        message.add_query(Query::query(name.clone(), record_type));
        if let Some(payload) = self.inner.config.edns_payload {
            let mut edns = Edns::new();
            edns.set_max_payload(payload);
            message.set_edns(edns);
        }
        let inner = self.inner.clone();
        self.inner.reactor.spawn(async move {
            let answer = inner.exchange(message).await?;
            match answer.metadata.response_code {
                ResponseCode::NoError => Ok(answer),
                code => Err(Failure::new(DnsError::Response { name, code })),
            }
        })
    }

    /// The records of type `record_type` in the answer about `name` (the
    /// CNAMEs that led to them left out, unless CNAMEs were asked for).
    /// Fails with [`DnsError::NoRecords`] if there are none (Twisted's
    /// `lookupAddress`, `lookupMailExchange`, ... in one).
    pub fn lookup(&self, name: &str, record_type: RecordType) -> Deferred<Vec<Record>> {
        self.query(name, record_type).then(move |answer| {
            let records: Vec<Record> = answer
                .answers
                .into_iter()
                .filter(|record| record.record_type() == record_type)
                .collect();
            if records.is_empty() {
                let name = answer.queries[0].name.clone();
                Err(DnsError::NoRecords {
                    name,
                    what: record_type.to_string(),
                })
            } else {
                Ok(records)
            }
        })
    }

    /// The IPv4 and then IPv6 addresses of `host`, asked for at the same
    /// time (Twisted's `getHostByName`, with IPv6 too). An IP address is
    /// its own answer. Fails with the NXDOMAIN error if the name does not
    /// exist, and with [`DnsError::NoRecords`] if it has no address.
    pub fn lookup_ip(&self, host: &str) -> Deferred<Vec<IpAddr>> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Deferred::succeed(vec![ip]);
        }
        // Together, so that cancelling the lookup cancels both questions.
        let both = DeferredList::all(vec![
            self.query(host, RecordType::A),
            self.query(host, RecordType::AAAA),
        ]);
        let host = host.to_owned();
        self.inner.reactor.spawn(async move {
            let [v4, v6]: [Result<Message, Failure>; 2] =
                both.await?.try_into().expect("two questions, two answers");
            let mut addresses = Vec::new();
            for answer in [&v4, &v6].into_iter().flatten() {
                addresses.extend(
                    answer
                        .answers
                        .iter()
                        .filter_map(|record| match &record.data {
                            RData::A(a) => Some(IpAddr::V4(a.0)),
                            RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
                            _ => None,
                        }),
                );
            }
            if !addresses.is_empty() {
                return Ok(addresses);
            }
            // The IPv4 question's failure says most: NXDOMAIN, a timeout.
            match (v4, v6) {
                (Err(failure), _) | (Ok(_), Err(failure)) => Err(failure),
                (Ok(_), Ok(_)) => Err(Failure::new(DnsError::NoRecords {
                    name: absolute_name(&host)?,
                    what: "A or AAAA".into(),
                })),
            }
        })
    }
}

impl Inner {
    /// Sends `query` to the servers as the module explains, and fires with
    /// the first answer that is not a server's failure.
    async fn exchange(&self, query: Message) -> Result<Message, Failure> {
        let wire = Rc::new(
            query
                .to_vec()
                .map_err(|error| DnsError::Malformed(error.to_string()))?,
        );
        let query = Rc::new(query);
        let config = &self.config;
        let (mut tries, mut last_failure, mut refusal) = (0, None, None);
        for _round in 0..config.attempts {
            for &server in &config.nameservers {
                tries += 1;
                let udp = exchange::udp(&self.reactor, server, query.clone(), wire.clone());
                let mut answer = udp.add_timeout(config.timeout, &self.reactor).await;
                if matches!(&answer, Ok(message) if message.metadata.truncation) {
                    tracing::debug!(%server, "truncated answer: asking again over TCP");
                    let tcp = exchange::tcp(&self.reactor, server, query.clone(), wire.clone());
                    answer = tcp.add_timeout(config.timeout, &self.reactor).await;
                }
                match answer {
                    Ok(message) if server_failed(message.metadata.response_code) => {
                        refusal = Some(message);
                    }
                    Ok(message) => return Ok(message),
                    // The lookup itself was cancelled (a timeout is
                    // `TimedOut`): ask no further.
                    Err(failure) if failure.is_cancelled() => return Err(failure),
                    Err(failure) => {
                        tracing::debug!(%server, %failure, "no answer");
                        last_failure = Some(failure);
                    }
                }
            }
        }
        if let Some(message) = refusal {
            return Ok(message);
        }
        match last_failure {
            Some(failure) if !failure.is::<TimedOut>() => Err(failure),
            _ => Err(Failure::new(DnsError::Timeout {
                name: query.queries[0].name.clone(),
                servers: config.nameservers.clone(),
                tries,
                timeout: config.timeout,
            })),
        }
    }
}

/// The answer codes after which another server is asked, as the C
/// library does: this server could not or would not answer.
fn server_failed(code: ResponseCode) -> bool {
    matches!(
        code,
        ResponseCode::ServFail | ResponseCode::NotImp | ResponseCode::Refused
    )
}

/// `name` as an absolute DNS name (international names in their ASCII
/// form).
fn absolute_name(name: &str) -> Result<Name, DnsError> {
    let mut parsed = Name::from_utf8(name).map_err(|error| DnsError::BadName {
        name: name.to_owned(),
        reason: error.to_string(),
    })?;
    parsed.set_fqdn(true);
    Ok(parsed)
}

impl NameResolver for DnsResolver {
    /// [`lookup_ip`](DnsResolver::lookup_ip), each address with `port`; a
    /// failure becomes the [`DnsLookupError`] endpoints report.
    fn resolve_host_name(&self, host: &str, port: u16) -> Deferred<Vec<SocketAddr>> {
        let name = host.to_owned();
        self.lookup_ip(host)
            .then(move |addresses| {
                Ok::<_, Failure>(
                    addresses
                        .into_iter()
                        .map(|ip| SocketAddr::new(ip, port))
                        .collect(),
                )
            })
            .or_else(move |failure| {
                Err(Failure::new(DnsLookupError {
                    host: name,
                    reason: failure.to_string(),
                }))
            })
    }
}
