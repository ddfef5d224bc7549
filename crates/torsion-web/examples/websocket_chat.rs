//! A WebSocket chat: open http://127.0.0.1:8080/ in a few browser tabs,
//! pick a name in each, and talk. The page is served at `/`, the WebSocket
//! at `/ws?name=NAME`; every message goes to everyone in the room, prefixed
//! with its sender's name, and a newcomer gets the last 50 messages.
//!
//! ```text
//! cargo run -p torsion-web --example websocket_chat -- tcp:8080:interface=127.0.0.1
//! ```
//!
//! The room is `torsion::chat` and the page `torsion_web::chat`, which
//! `torsion demo` serves too, with a second door for `nc` users. A member
//! whose browser stops reading is dropped (1008) once 1 MiB waits for it,
//! so one slow reader cannot make the server hold every message.

use torsion::Reactor;
use torsion::chat::Room;
use torsion::endpoints::server_from_string;
use torsion_web::{Server, chat};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let description = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "tcp:8080:interface=127.0.0.1".into());
    let reactor = Reactor::new()?;
    let endpoint = server_from_string(&reactor, &description)?;
    let listening = Server::new(chat::site(&Room::new())).listen(&reactor, &endpoint);
    drop(reactor.spawn(async move {
        let listening = listening.await?;
        tracing::info!("chat on http://{}/", listening.address());
        Ok::<(), torsion::Failure>(())
    }));
    // Ctrl-C or SIGTERM stops the reactor gracefully: the server stops
    // listening, closes every member's WebSocket with 1001 (going away)
    // and waits for their answers, so each is logged as "member left";
    // then `run` returns.
    reactor.run()?;
    tracing::info!("stopped");
    Ok(())
}
