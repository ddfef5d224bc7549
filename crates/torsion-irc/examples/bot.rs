//! A bot that answers in a channel: `!hello` gets a greeting, `!roll`
//! a die, a private message an echo, and `/me waves` a wave back.
//!
//! ```sh
//! # the bot on torsion's own IRC server, which any client can join:
//! cargo run -p torsion-irc --example bot -- --listen tcp:6667:interface=127.0.0.1
//! # or on a server elsewhere:
//! cargo run -p torsion-irc --example bot -- --connect tcp:host=127.0.0.1:port=6667
//! ```
//!
//! Options: `--channel #torsion`, `--nick torsionbot`.

use std::time::{SystemTime, UNIX_EPOCH};

use torsion::endpoints::{client_from_string, server_from_string};
use torsion::{Failure, Reactor};
use torsion_irc::{ClientConfig, ClientHandler, IrcClient, IrcServer, Prefix, ServerConfig};

struct Bot {
    channel: String,
}

impl ClientHandler for Bot {
    fn signed_on(&mut self, client: &IrcClient) {
        println!("signed on as {}", client.nickname());
        client.join(&self.channel);
    }

    fn joined(&mut self, _client: &IrcClient, channel: &str) {
        println!("joined {channel}");
    }

    fn privmsg(&mut self, client: &IrcClient, from: &Prefix, target: &str, text: &str) {
        let answer_to = client.reply_target(from, target);
        let answer = match text.trim() {
            "!hello" => format!("hello, {}!", from.nick()),
            "!roll" => format!("{} rolled a {}", from.nick(), roll()),
            _ if client.is_me(target) => format!("you said: {text}"),
            _ => return,
        };
        println!("{} in {target}: {text} -> {answer}", from.nick());
        client.msg(answer_to, &answer);
    }

    fn action(&mut self, client: &IrcClient, from: &Prefix, target: &str, action: &str) {
        if action.starts_with("waves") {
            client.describe(
                client.reply_target(from, target),
                &format!("waves back at {}", from.nick()),
            );
        }
    }

    fn connection_lost(&mut self, _client: &IrcClient, reason: &Failure) {
        println!("disconnected: {reason}");
        if let Some(reactor) = Reactor::current() {
            let _ = reactor.stop();
        }
    }
}

/// A die roll, from the clock's nanoseconds (no dependency for one die).
fn roll() -> u32 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    nanos % 6 + 1
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut listen = None;
    let mut connect = None;
    let mut channel = "#torsion".to_owned();
    let mut nick = "torsionbot".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--listen" => listen = Some(value()?),
            "--connect" => connect = Some(value()?),
            "--channel" => channel = value()?,
            "--nick" => nick = value()?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }

    let reactor = Reactor::new()?;
    let r = reactor.clone();
    let started = reactor.spawn(async move {
        let connect = match (listen, connect) {
            (Some(listen), None) => {
                let server = IrcServer::new(ServerConfig::new("irc.torsion.local"), r.clone());
                let port = server_from_string(&r, &listen)?
                    .listen(server.factory())
                    .await?;
                let address = port
                    .tcp_address()
                    .ok_or_else(|| Failure::msg("the bot's server listens on TCP only"))?;
                println!("IRC server listening on {address}");
                format!("tcp:host=127.0.0.1:port={}", address.port())
            }
            (None, Some(connect)) => connect,
            _ => {
                return Err(Failure::msg(
                    "give one of --listen ENDPOINT or --connect ENDPOINT",
                ));
            }
        };
        let (_client, protocol) =
            IrcClient::new(ClientConfig::new(&nick), Bot { channel }, r.clone());
        client_from_string(&r, &connect)?.connect(protocol).await?;
        Ok::<(), Failure>(())
    });
    let r = reactor.clone();
    drop(started.inspect_err(move |failure| {
        eprintln!("the bot could not start: {failure}");
        let _ = r.stop();
    }));
    reactor.run()?;
    Ok(())
}
