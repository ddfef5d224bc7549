//! An echo server with an SSH door open on 127.0.0.1: log in with your
//! own key and look at the running process.
//!
//! ```text
//! cargo run -p torsion-ssh --example manhole -- \
//!     --echo tcp:7000:interface=127.0.0.1 --ssh tcp:2222:interface=127.0.0.1
//! nc 127.0.0.1 7000                              # (another terminal) a connection
//! ssh -p 2222 operator@127.0.0.1 connections    # lists it
//! ssh -p 2222 operator@127.0.0.1                # a shell: help, timers, exit
//! ```
//!
//! The holders of the keys in `--authorized-keys` (default
//! `~/.ssh/authorized_keys`) get in, under any user name. The host key is
//! read from `--host-key` (default `manhole_host_key`), or generated and
//! written there on the first start; the line for `known_hosts` is
//! printed. Stops on Ctrl-C.

use std::path::PathBuf;

use torsion::endpoints::server_from_string;
use torsion::net::factory_fn;
use torsion::protocols::wire::Echo;
use torsion::{Failure, Reactor};
use torsion_ssh::{AuthorizedKeys, HostKey, ServerConfig, SshServer};

struct Options {
    echo: String,
    ssh: String,
    host_key: PathBuf,
    authorized_keys: PathBuf,
}

fn options() -> Result<Options, String> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let mut options = Options {
        echo: "tcp:7000:interface=127.0.0.1".to_owned(),
        ssh: "tcp:2222:interface=127.0.0.1".to_owned(),
        host_key: PathBuf::from("manhole_host_key"),
        authorized_keys: home.join(".ssh/authorized_keys"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--echo" => options.echo = value,
            "--ssh" => options.ssh = value,
            "--host-key" => options.host_key = value.into(),
            "--authorized-keys" => options.authorized_keys = value.into(),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(options)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = options()?;
    let reactor = Reactor::new()?;

    // The application: an echo server.
    let echo = server_from_string(&reactor, &options.echo)?;
    let r = reactor.clone();
    drop(
        echo.listen(factory_fn(|_| Some(Echo::default())))
            .both(move |port| {
                match port {
                    Ok(port) => println!("echo server on {}", port.tcp_address().unwrap()),
                    Err(failure) => {
                        eprintln!("echo server: {failure}");
                        let _ = r.stop();
                    }
                }
                Ok::<(), Failure>(())
            }),
    );

    // The door into it.
    let config = ServerConfig::new(
        HostKey::load_or_generate(&options.host_key)?,
        AuthorizedKeys::file(&options.authorized_keys),
    );
    let door = SshServer::listen(&reactor, &options.ssh, config)?;
    let address = door.address();
    println!(
        "SSH door on {address}, host key {}",
        door.host_key().fingerprint()
    );
    println!(
        "known_hosts line: [{}]:{} {}",
        address.ip(),
        address.port(),
        door.host_key().public_openssh()
    );
    println!(
        "try: ssh -p {} operator@{} connections",
        address.port(),
        address.ip()
    );
    reactor.run()?;
    println!("stopped");
    Ok(())
}
