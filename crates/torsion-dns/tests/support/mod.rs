//! What the integration tests share: a reactor run with a deadline, the
//! test zone served on a free port, and blocking work (dig, raw sockets)
//! run off the reactor thread.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use torsion::{Failure, Reactor};
use torsion_dns::server::ServerPorts;
use torsion_dns::{DnsServerFactory, Zone};

/// [`run_test`](torsion::testing::run_test) with its limit in seconds.
pub fn run<Fut>(seconds: u64, test: impl FnOnce(Reactor) -> Fut)
where
    Fut: Future<Output = Result<(), Failure>> + 'static,
{
    torsion::testing::run_test(Duration::from_secs(seconds), test);
}

/// The test zone's file.
pub fn zone_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/example.test.zone")
}

/// The test zone.
pub fn zone() -> Zone {
    Zone::load(zone_path(), None).unwrap()
}

/// The test zone served over UDP and TCP on a free port of 127.0.0.1.
pub fn serve(reactor: &Reactor) -> ServerPorts {
    let server = Rc::new(DnsServerFactory::new(vec![zone()]));
    server
        .listen(reactor, "127.0.0.1:0".parse().unwrap())
        .unwrap()
}

/// The test zone served over UDP only: a TCP retry there is refused.
pub fn serve_udp_only(reactor: &Reactor) -> SocketAddr {
    let server = DnsServerFactory::new(vec![zone()]);
    let udp = server
        .listen_udp(reactor, "127.0.0.1:0".parse().unwrap())
        .unwrap();
    udp.udp_address().unwrap()
}

/// Runs `work` on the reactor's thread pool, so that the reactor goes on
/// serving while it blocks.
pub async fn blocking<T: Send + 'static>(
    reactor: &Reactor,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Failure> {
    reactor.defer_to_thread(work).await
}
