//! torsion's resolver against torsion's server over real sockets on
//! 127.0.0.1: answers over UDP, the TCP retry of a truncated answer, a
//! timeout and retry against a server that drops the first query, the
//! next server when one is silent, and an endpoint connecting to a name
//! the resolver found.

mod support;

use std::cell::Cell;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use support::{run, serve, serve_udp_only, zone};
use torsion::defer::gather;
use torsion::endpoints::client_from_string;
use torsion::error::{ConnectionRefused, DnsLookupError};
use torsion::net::{Address, DatagramProtocol, DatagramTransport};
use torsion::protocols::wire::Echo;
use torsion::time::defer_later;
use torsion::{Failure, Reactor};
use torsion_dns::proto::rr::{RData, RecordType};
use torsion_dns::server::handler::TransportKind;
use torsion_dns::{DnsError, DnsResolver, DnsServerFactory, ResolverConfig};

/// A UDP name server that ignores the first `drop` queries it gets (all,
/// with `usize::MAX`), and answers the others from the test zone.
struct Dropping {
    server: DnsServerFactory,
    drop: usize,
    heard: Rc<Cell<usize>>,
    transport: Option<DatagramTransport>,
}

impl DatagramProtocol for Dropping {
    fn start_protocol(&mut self, transport: &DatagramTransport) {
        self.transport = Some(transport.clone());
    }

    fn datagram_received(&mut self, data: &[u8], from: Address) {
        self.heard.set(self.heard.get() + 1);
        if self.heard.get() <= self.drop {
            return;
        }
        if let Some(answer) = self.server.respond(data, TransportKind::Udp) {
            self.transport
                .as_ref()
                .unwrap()
                .write_to(&answer, from)
                .unwrap();
        }
    }
}

/// A server on a free UDP port that drops the first `drop` queries, and
/// the count of the queries it heard.
fn dropping_server(reactor: &Reactor, drop: usize) -> (SocketAddr, Rc<Cell<usize>>) {
    let heard = Rc::new(Cell::new(0));
    let protocol = Dropping {
        server: DnsServerFactory::new(vec![zone()]),
        drop,
        heard: heard.clone(),
        transport: None,
    };
    let udp = reactor
        .listen_udp("127.0.0.1:0".parse().unwrap(), protocol)
        .unwrap();
    (udp.udp_address().unwrap(), heard)
}

fn resolver(reactor: &Reactor, servers: Vec<SocketAddr>, timeout: Duration) -> DnsResolver {
    let mut config = ResolverConfig::with_nameservers(servers);
    config.timeout = timeout;
    DnsResolver::new(reactor, config)
}

fn dns_error(failure: &Failure) -> &DnsError {
    failure
        .downcast_ref::<DnsError>()
        .unwrap_or_else(|| panic!("not a DnsError: {failure}"))
}

#[test]
fn the_resolver_gets_the_zones_answers_over_udp() {
    run(10, |reactor| async move {
        // No TCP listener: everything here comes over UDP.
        let server = serve_udp_only(&reactor);
        let resolver = resolver(&reactor, vec![server], Duration::from_secs(2));

        let a = resolver.lookup("www.example.test", RecordType::A).await?;
        assert_eq!(a.len(), 1);
        assert_eq!(
            a[0].data,
            RData::A("192.0.2.80".parse::<std::net::Ipv4Addr>()?.into())
        );
        assert_eq!(a[0].ttl, 300);

        let ips = resolver.lookup_ip("chain.example.test").await?;
        assert_eq!(
            ips,
            ["192.0.2.80".parse::<IpAddr>()?, "2001:db8::80".parse()?]
        );

        let mx = resolver.query("example.test", RecordType::MX).await?;
        assert_eq!(mx.answers.len(), 2);
        assert_eq!(mx.additionals.len(), 2, "the exchange's A and AAAA");
        assert!(mx.metadata.authoritative);

        let missing = resolver
            .lookup_ip("nowhere.example.test")
            .await
            .unwrap_err();
        assert!(dns_error(&missing).is_name_error(), "{missing}");

        let nodata = resolver
            .lookup("txt.example.test", RecordType::MX)
            .await
            .unwrap_err();
        assert!(dns_error(&nodata).is_no_records(), "{nodata}");

        let outside = resolver.lookup_ip("www.example.net").await.unwrap_err();
        assert!(dns_error(&outside).is_refused(), "{outside}");
        Ok(())
    });
}

#[test]
fn a_truncated_answer_is_asked_again_over_tcp() {
    run(10, |reactor| async move {
        let server = serve(&reactor).address();
        let resolver = resolver(&reactor, vec![server], Duration::from_secs(2));
        // Past the 1232 bytes the resolver offers with EDNS.
        let big = resolver.lookup("big.example.test", RecordType::TXT).await?;
        assert_eq!(big.len(), 8);

        // Without EDNS, past 512 bytes.
        let mut config = resolver.config().clone();
        config.edns_payload = None;
        let classic = DnsResolver::new(&reactor, config);
        let medium = classic
            .lookup("medium.example.test", RecordType::TXT)
            .await?;
        assert_eq!(medium.len(), 3);

        // A server without TCP: the truncated answer cannot be completed.
        let udp_only = serve_udp_only(&reactor);
        let mut config = ResolverConfig::with_nameservers(vec![udp_only]);
        config.attempts = 1;
        let stuck = DnsResolver::new(&reactor, config);
        let failure = stuck
            .lookup("big.example.test", RecordType::TXT)
            .await
            .unwrap_err();
        assert!(failure.is::<ConnectionRefused>(), "{failure}");
        Ok(())
    });
}

#[test]
fn a_dropped_query_is_sent_again_after_the_timeout_from_resolv_conf() {
    run(10, |reactor| async move {
        let (server, heard) = dropping_server(&reactor, 1);
        let dir = std::env::temp_dir().join(format!("torsion-dns-resolv-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("resolv.conf");
        std::fs::write(
            &path,
            format!("nameserver {server}\noptions timeout:1 attempts:2\n"),
        )?;
        let resolver = DnsResolver::from_resolv_conf(&reactor, &path)?;
        std::fs::remove_dir_all(&dir)?;
        assert_eq!(resolver.config().timeout, Duration::from_secs(1));

        let started = Instant::now();
        let a = resolver.lookup("www.example.test", RecordType::A).await?;
        let waited = started.elapsed();
        assert_eq!(a.len(), 1);
        assert_eq!(
            heard.get(),
            2,
            "the first query dropped, the second answered"
        );
        assert!(
            waited >= Duration::from_secs(1),
            "answered after {waited:?}"
        );
        assert!(waited < Duration::from_secs(3), "answered after {waited:?}");
        Ok(())
    });
}

#[test]
fn a_silent_server_passes_the_query_to_the_next() {
    run(10, |reactor| async move {
        let (silent, silent_heard) = dropping_server(&reactor, usize::MAX);
        let (answering, answering_heard) = dropping_server(&reactor, 0);
        let resolver = resolver(
            &reactor,
            vec![silent, answering],
            Duration::from_millis(200),
        );
        let ips = resolver.lookup_ip("mail.example.test").await?;
        assert_eq!(ips.len(), 2);
        // One A and one AAAA question, each tried on both.
        assert_eq!(silent_heard.get(), 2);
        assert_eq!(answering_heard.get(), 2);
        Ok(())
    });
}

#[test]
fn when_no_server_answers_the_lookup_times_out_after_every_attempt() {
    run(10, |reactor| async move {
        let (silent, heard) = dropping_server(&reactor, usize::MAX);
        let mut config = ResolverConfig::with_nameservers(vec![silent]);
        config.timeout = Duration::from_millis(100);
        config.attempts = 3;
        let resolver = DnsResolver::new(&reactor, config);
        let failure = resolver
            .lookup("www.example.test", RecordType::A)
            .await
            .unwrap_err();
        let error = dns_error(&failure);
        assert!(error.is_timeout(), "{failure}");
        assert!(
            matches!(error, DnsError::Timeout { tries: 3, .. }),
            "{error:?}"
        );
        assert_eq!(heard.get(), 3);
        Ok(())
    });
}

#[test]
fn a_cancelled_lookup_asks_no_more() {
    run(10, |reactor| async move {
        let (silent, heard) = dropping_server(&reactor, usize::MAX);
        let mut config = ResolverConfig::with_nameservers(vec![silent]);
        config.timeout = Duration::from_millis(100);
        config.attempts = 3;
        let resolver = DnsResolver::new(&reactor, config);
        let lookup = resolver.lookup("www.example.test", RecordType::A);
        let cancel = lookup.cancel_handle();
        reactor.call_later(Duration::from_millis(30), move || cancel.cancel());
        let failure = lookup.await.unwrap_err();
        assert!(failure.is_cancelled(), "{failure}");
        // Past every timeout and retry the lookup would have made.
        defer_later(&reactor, Duration::from_millis(400), || {
            Ok::<(), Failure>(())
        })
        .await?;
        assert_eq!(heard.get(), 1, "no retry after the cancellation");
        Ok(())
    });
}

#[test]
fn many_lookups_at_once_are_each_answered() {
    run(10, |reactor| async move {
        let server = serve_udp_only(&reactor);
        let resolver = resolver(&reactor, vec![server], Duration::from_secs(2));
        let names = ["www", "mail", "ns1", "ns2", "service", "chain", "alias"];
        let lookups = (0..40)
            .map(|i| resolver.lookup_ip(&format!("{}.example.test", names[i % names.len()])))
            .collect();
        let answers = gather(lookups).await?;
        assert!(answers.iter().all(|ips| !ips.is_empty()));
        Ok(())
    });
}

#[test]
fn an_endpoint_connects_to_a_name_the_dns_resolver_found() {
    run(10, |reactor| async move {
        let server = serve(&reactor).address();
        let resolver = resolver(&reactor, vec![server], Duration::from_secs(2));
        reactor.install_name_resolver(Rc::new(resolver));
        let echo = reactor.listen_tcp(
            "127.0.0.1:0".parse()?,
            torsion::net::factory_fn(|_| Some(Echo::default())),
        )?;
        let port = echo.tcp_address().unwrap().port();
        // service.example.test is 127.0.0.1 in the zone only.
        let endpoint = client_from_string(
            &reactor,
            &format!("tcp:host=service.example.test:port={port}"),
        )?;
        let stream = endpoint.connect_stream().await?;
        assert_eq!(stream.transport().peer(), echo.address());
        stream.write_all_now(b"ping");
        let mut reply = [0; 4];
        stream.read_exact(&mut reply).await?;
        assert_eq!(&reply, b"ping");

        let missing = client_from_string(
            &reactor,
            &format!("tcp:host=nowhere.example.test:port={port}"),
        )?;
        let failure = missing.connect(Echo::default()).await.unwrap_err();
        let lookup = failure
            .downcast_ref::<DnsLookupError>()
            .expect("a DnsLookupError");
        assert_eq!(lookup.host, "nowhere.example.test");
        assert!(
            lookup.reason.contains("Non-Existent Domain"),
            "{}",
            lookup.reason
        );
        Ok(())
    });
}
