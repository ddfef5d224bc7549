//! The torsion IRC server driven by a standard client: Python's `irc`
//! package (pinned in `tests/python-requirements.txt`, installed on first
//! use), with raw sockets beside it for an oversized line, a client that
//! vanishes, and one that ignores PINGs. The checks are in
//! `data/irc_clients.py`; its output names each.

mod support;

use std::time::Duration;

use support::{port_of, python_irc, run, script};
use torsion::Failure;
use torsion_irc::{IrcServer, ServerConfig};

#[test]
fn python_irc_clients_chat_through_the_torsion_server() {
    run(90, |reactor| async move {
        let mut config = ServerConfig::new("irc.torsion.test");
        config.ping_interval = Duration::from_millis(700);
        config.ping_timeout = Duration::from_millis(700);
        let server = IrcServer::new(config, reactor.clone());
        let port = reactor.listen_tcp("127.0.0.1:0".parse().unwrap(), server.factory())?;
        let mut client = python_irc(60);
        client
            .arg(script("irc_clients.py"))
            .args([port_of(&port).to_string(), "1.4".to_owned()]);
        let output = reactor.defer_to_thread(move || client.output()).await?;
        let output = output.map_err(Failure::new)?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("all checks passed"),
            "the Python clients failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        for check in [
            "bob heard alice in the channel",
            "alice saw bob's ACTION",
            "alice saw the new topic",
            "bob saw alice become alicia",
            "carol's oversized line got 417",
            "bob heard carol after her long line",
            "bob saw carol vanish as a QUIT",
            "dave, ignoring PINGs, was dropped",
            "bob saw dave's ping timeout",
            "alicia and bob, who answered PINGs, are still connected",
            "alicia saw bob quit",
        ] {
            assert!(
                stdout.contains(&format!("ok: {check}")),
                "missing {check:?} in:\n{stdout}"
            );
        }
        Ok(())
    });
}
