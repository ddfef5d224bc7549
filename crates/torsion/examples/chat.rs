//! A line-based chat server: every line a client sends goes to every other
//! client. Connect with `nc 127.0.0.1 8123` (lines ending with `\n`) or
//! telnet (`\r\n`); `/nick NAME` picks a name, `/quit` leaves. Idle
//! clients cost the server a few hundred bytes each. The room is
//! `torsion::chat`, which `torsion demo` also uses, with a WebSocket page
//! as a second door into it.
//!
//! ```text
//! cargo run -p torsion --example chat -- tcp:8123:interface=127.0.0.1
//! ```

use torsion::Reactor;
use torsion::chat::{Room, line_chatter};
use torsion::endpoints::server_from_string;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let description = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "tcp:8123:interface=127.0.0.1".into());
    let reactor = Reactor::new()?;
    let room = Room::new();
    let endpoint = server_from_string(&reactor, &description)?;
    let r = reactor.clone();
    drop(
        endpoint
            .listen(torsion::net::factory_fn(move |_| Some(line_chatter(&room))))
            .map(|port| println!("chat on {}", port.address()))
            .or_else(move |failure| {
                eprintln!("cannot listen: {failure}");
                let _ = r.stop();
                Err(failure)
            }),
    );
    reactor.run()?;
    Ok(())
}
