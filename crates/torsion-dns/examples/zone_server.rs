//! An authoritative name server for one zone file, over UDP and TCP.
//!
//! ```text
//! cargo run -p torsion-dns --example zone_server -- crates/torsion-dns/tests/data/example.test.zone 127.0.0.1:5353
//! dig @127.0.0.1 -p 5353 www.example.test
//! dig @127.0.0.1 -p 5353 +tcp example.test MX
//! ```
//!
//! Port 0 picks a free port; the address served is printed either way, as
//! `serving ORIGIN on ADDRESS`. Ctrl-C (or SIGTERM) stops it.

use std::rc::Rc;

use torsion::Reactor;
use torsion_dns::{DnsServerFactory, Zone};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(address), None) = (args.next(), args.next(), args.next()) else {
        eprintln!("usage: zone_server ZONEFILE ADDRESS (such as 127.0.0.1:5353)");
        std::process::exit(2);
    };
    let zone = Zone::load(&path, None)?;
    let origin = zone.origin().clone();
    let records = zone.iter().count();
    let reactor = Reactor::new()?;
    let server = Rc::new(DnsServerFactory::new(vec![zone]));
    let ports = server.listen(&reactor, address.parse()?)?;
    println!(
        "serving {origin} ({records} records) on {} (UDP and TCP)",
        ports.address()
    );
    reactor.run()?;
    println!("stopped");
    Ok(())
}
