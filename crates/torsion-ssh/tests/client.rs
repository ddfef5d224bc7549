//! torsion's SSH client against torsion's SSH server, on one reactor: a
//! command's output and exit status as a Deferred, and the failures a
//! caller must be able to tell apart (a host key that is not the one
//! expected, a key the server refuses).

mod support;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use torsion::reactor::Signals;
use torsion::testing::echo_server;
use torsion::{Failure, Reactor};
use torsion_ssh::{
    ClientError, CommandOutput, HostKey, PublicKey, SshClient, SshServer, load_private_key,
};

use support::{Keys, USER};

/// Runs `command` with a client made by `client` against a server on
/// the same reactor, with one echo connection open, and returns what the
/// Deferred fired with.
fn run(
    keys: &Keys,
    client: impl FnOnce(u16, PublicKey) -> SshClient,
    command: &str,
) -> Result<CommandOutput, Failure> {
    let reactor = Reactor::new().unwrap();
    let echo = echo_server(&reactor);
    let _peer = std::net::TcpStream::connect(echo).unwrap();
    let door =
        SshServer::listen(&reactor, "tcp:0:interface=127.0.0.1", keys.server_config()).unwrap();
    let client = client(door.address().port(), door.host_key().public_key().clone());
    let result = Rc::new(RefCell::new(None));
    let seen = result.clone();
    let r = reactor.clone();
    drop(client.run(command).both(move |outcome| {
        *seen.borrow_mut() = Some(outcome);
        r.stop()
    }));
    // A bound on the whole test, should the Deferred never fire.
    let r = reactor.clone();
    reactor.call_later(Duration::from_secs(20), move || {
        let _ = r.stop();
    });
    reactor.run_with(Signals::LeaveAlone).unwrap();
    result.take().expect("the Deferred fired")
}

fn operator(keys: &Keys) -> impl FnOnce(u16, PublicKey) -> SshClient {
    let key = load_private_key(&keys.operator).unwrap();
    move |port, host_key| SshClient::new("127.0.0.1", port, USER, key, host_key)
}

#[test]
fn a_command_fires_the_deferred_with_its_output_and_exit_status() {
    let keys = Keys::new();
    let output = run(&keys, operator(&keys), "connections").unwrap();
    assert_eq!(output.exit_status, Some(0));
    assert!(output.success());
    // The echo connection the test opened, seen by the reactor the
    // client itself runs on.
    assert!(
        output.stdout_text().starts_with("1 open connection\nPEER"),
        "{}",
        output.stdout_text()
    );
    assert!(output.stderr.is_empty());

    let output = run(&keys, operator(&keys), "uptime").unwrap();
    assert_eq!(output.exit_status, Some(127));
    assert!(output.stdout.is_empty());
    assert!(
        output.stderr_text().starts_with("uptime: unknown command"),
        "{}",
        output.stderr_text()
    );
}

#[test]
fn a_wrong_host_key_fails_the_deferred_before_logging_in() {
    let keys = Keys::new();
    let impostor = HostKey::generate().unwrap();
    let key = load_private_key(&keys.operator).unwrap();
    let expected = impostor.public_key().clone();
    let failure = run(
        &keys,
        move |port, _real| SshClient::new("127.0.0.1", port, USER, key, expected),
        "connections",
    )
    .unwrap_err();
    let error = failure
        .downcast_ref::<ClientError>()
        .unwrap_or_else(|| panic!("a ClientError: {failure}"));
    match error {
        ClientError::HostKeyMismatch { expected, offered } => {
            assert_eq!(expected, &impostor.fingerprint());
            assert_ne!(offered, expected);
        }
        other => panic!("a host key mismatch, not {other}"),
    }
    assert!(
        failure.to_string().contains("host key mismatch"),
        "{failure}"
    );
}

#[test]
fn a_refused_key_fails_the_deferred_naming_it() {
    let keys = Keys::new();
    let stranger = load_private_key(&keys.stranger).unwrap();
    let fingerprint = torsion_ssh::fingerprint(stranger.public_key());
    let failure = run(
        &keys,
        move |port, host_key| SshClient::new("127.0.0.1", port, USER, stranger, host_key),
        "connections",
    )
    .unwrap_err();
    match failure.downcast_ref::<ClientError>() {
        Some(ClientError::AuthenticationRefused { fingerprint: f, .. }) => {
            assert_eq!(f, &fingerprint)
        }
        _ => panic!("an AuthenticationRefused, not {failure}"),
    }
}

#[test]
fn nothing_listening_fails_the_deferred_with_the_address() {
    let keys = Keys::new();
    // A port that was free a moment ago.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let key = load_private_key(&keys.operator).unwrap();
    let failure = run(
        &keys,
        move |_, host_key| {
            SshClient::new("127.0.0.1", port, USER, key, host_key).timeout(Duration::from_secs(5))
        },
        "connections",
    )
    .unwrap_err();
    assert!(
        matches!(
            failure.downcast_ref::<ClientError>(),
            Some(ClientError::Connect { .. })
        ),
        "{failure}"
    );
    assert!(
        failure.to_string().contains(&format!("127.0.0.1:{port}")),
        "{failure}"
    );
}
