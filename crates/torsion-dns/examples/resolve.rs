//! Looks a name up with torsion-dns's resolver.
//!
//! ```text
//! cargo run -p torsion-dns --example resolve -- www.example.test --server 127.0.0.1:5353
//! cargo run -p torsion-dns --example resolve -- example.test --type MX --server 127.0.0.1:5353
//! cargo run -p torsion-dns --example resolve -- example.org
//! ```
//!
//! Without `--server` the servers of `/etc/resolv.conf` are asked, with
//! its timeout and attempts. `--type` asks for one record type and prints
//! the records; without it the name's addresses are printed, one a line,
//! IPv4 first. A name that does not resolve prints why and exits with 1.

use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::str::FromStr;

use torsion::{Failure, Reactor};
use torsion_dns::proto::rr::RecordType;
use torsion_dns::{DnsResolver, ResolverConfig};

struct Args {
    host: String,
    server: Option<SocketAddr>,
    record_type: Option<RecordType>,
}

fn usage() -> ! {
    eprintln!("usage: resolve HOST [--server ADDRESS[:PORT]] [--type TYPE]");
    std::process::exit(2);
}

fn parse_args() -> Args {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        host: String::new(),
        server: None,
        record_type: None,
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--server" => {
                let value = args.next().unwrap_or_else(|| usage());
                let address = value
                    .parse::<SocketAddr>()
                    .or_else(|_| value.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
                    .unwrap_or_else(|_| usage());
                parsed.server = Some(address);
            }
            "--type" => {
                let value = args.next().unwrap_or_else(|| usage());
                let record_type = RecordType::from_str(&value.to_uppercase());
                parsed.record_type = Some(record_type.unwrap_or_else(|_| usage()));
            }
            _ if parsed.host.is_empty() && !arg.starts_with('-') => parsed.host = arg,
            _ => usage(),
        }
    }
    if parsed.host.is_empty() {
        usage();
    }
    parsed
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args();
    let config = match args.server {
        Some(server) => ResolverConfig::with_nameservers(vec![server]),
        None => ResolverConfig::system()?,
    };
    let reactor = Reactor::new()?;
    let resolver = DnsResolver::new(&reactor, config);
    let failed = Rc::new(std::cell::Cell::new(false));
    let (r, f) = (reactor.clone(), failed.clone());
    let lookup = reactor.spawn(async move {
        match args.record_type {
            Some(record_type) => {
                for record in resolver.lookup(&args.host, record_type).await? {
                    println!(
                        "{} {} {} {}",
                        record.name, record.ttl, record_type, record.data
                    );
                }
            }
            None => {
                for address in resolver.lookup_ip(&args.host).await? {
                    println!("{address}");
                }
            }
        }
        Ok::<(), Failure>(())
    });
    drop(lookup.both(move |result| {
        if let Err(failure) = result {
            eprintln!("resolve: {failure}");
            f.set(true);
        }
        r.stop().unwrap();
        Ok::<(), Failure>(())
    }));
    reactor.run()?;
    if failed.get() {
        std::process::exit(1);
    }
    Ok(())
}
