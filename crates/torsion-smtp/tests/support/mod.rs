//! What the integration tests share: a reactor run with a deadline, a
//! certificate made for the test, a delivery hook that records, a server
//! on a free port, and the Python peer.

#![allow(dead_code)]

use std::cell::RefCell;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use torsion::endpoints::{ClientEndpoint, client_from_string};
use torsion::net::tls::{TlsSetup, client_config, root_store, server_config};
use torsion::net::{Address, ListeningPort};
use torsion::time::defer_later;
use torsion::{Deferred, Failure, Reactor};
use torsion_smtp::{Delivery, Envelope, Mailbox, Message, Rejected, SmtpServer};

/// [`run_test`](torsion::testing::run_test) with its limit in seconds.
pub fn run<Fut>(seconds: u64, test: impl FnOnce(Reactor) -> Fut)
where
    Fut: Future<Output = Result<(), Failure>> + 'static,
{
    torsion::testing::run_test(Duration::from_secs(seconds), test);
}

/// A self-signed certificate for `localhost` and `127.0.0.1`, written to
/// PEM files that live as long as this.
pub struct TestCertificate {
    _directory: tempfile::TempDir,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestCertificate {
    pub fn new() -> TestCertificate {
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
                .unwrap();
        let directory = tempfile::tempdir().unwrap();
        let cert = directory.path().join("cert.pem");
        let key = directory.path().join("key.pem");
        std::fs::write(&cert, certified.cert.pem()).unwrap();
        std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
        TestCertificate {
            _directory: directory,
            cert,
            key,
        }
    }

    /// The server side, for STARTTLS.
    pub fn server(&self) -> Arc<rustls::ServerConfig> {
        Arc::new(server_config(&self.cert, &self.key).unwrap())
    }

    /// A client that trusts this certificate, for `localhost`.
    pub fn client(&self) -> TlsSetup {
        let config = client_config(root_store(&self.cert).unwrap());
        TlsSetup::client(Arc::new(config), "localhost").unwrap()
    }
}

/// Records every message; refuses recipients `nobody@...` (after a short
/// wait, as a lookup would take), fails messages holding
/// `X-Test: reject` with 554 and those holding `X-Test: crash` with an
/// error that is not a refusal (451).
#[derive(Clone, Default)]
pub struct Recorder {
    pub messages: Rc<RefCell<Vec<Message>>>,
}

fn holds(data: &[u8], needle: &[u8]) -> bool {
    data.windows(needle.len()).any(|window| window == needle)
}

impl Delivery for Recorder {
    fn validate_to(&self, _: &Envelope, to: &Mailbox) -> Deferred<()> {
        let refuse = to.as_str().starts_with("nobody@");
        let reactor = Reactor::current().unwrap();
        defer_later(&reactor, Duration::from_millis(2), move || {
            if refuse {
                Err(Failure::new(Rejected::no_such_user("no such user here")))
            } else {
                Ok(())
            }
        })
    }

    fn deliver(&self, message: Message) -> Deferred<()> {
        if holds(&message.data, b"X-Test: reject") {
            return Deferred::fail(Rejected::permanent("message refused by policy"));
        }
        if holds(&message.data, b"X-Test: crash") {
            return Deferred::fail(Failure::msg("the mail store is on fire"));
        }
        let messages = self.messages.clone();
        let reactor = Reactor::current().unwrap();
        defer_later(&reactor, Duration::from_millis(2), move || {
            messages.borrow_mut().push(message);
            Ok::<(), Failure>(())
        })
    }
}

/// Listens with `server` on 127.0.0.1, on a free port; returns the port
/// (keep it alive) and its number.
pub fn listen(reactor: &Reactor, server: &SmtpServer) -> (ListeningPort, u16) {
    let port = reactor
        .listen_tcp("127.0.0.1:0".parse().unwrap(), server.factory())
        .unwrap();
    let Address::Tcp(address) = port.address() else {
        panic!("not TCP");
    };
    let number = address.port();
    (port, number)
}

/// A client endpoint for 127.0.0.1:`port`.
pub fn endpoint(reactor: &Reactor, port: u16) -> ClientEndpoint<Reactor> {
    client_from_string(
        reactor,
        &format!("tcp:host=127.0.0.1:port={port}:timeout=10"),
    )
    .unwrap()
}

/// The Python peer script.
pub fn peer_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/smtp_peer.py")
}

/// `python3` (stopped after `seconds`) with aiosmtpd importable,
/// installed on first use from the pinned requirements.
pub fn python(seconds: u32) -> Command {
    static INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    let packages = INSTALLED.get_or_init(|| {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-smtp");
        torsion::testing::install_python_packages(
            &target,
            include_str!("../python-requirements.txt"),
        );
        target
    });
    torsion::testing::python_command(packages, seconds)
}

/// Runs `command` on the reactor's thread pool, so the reactor serves it
/// meanwhile; fails unless it exits with 0. Returns its standard output.
pub async fn output_of(reactor: &Reactor, mut command: Command) -> Result<String, Failure> {
    let output = reactor
        .defer_to_thread(move || command.output())
        .await?
        .map_err(Failure::new)?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(Failure::msg(format!(
            "{} exited with {}:\n{stdout}\n{}",
            "the child",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    Ok(stdout)
}
