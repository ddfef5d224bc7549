//! The SSH door into a running process (Twisted's manhole over conch):
//! [`ServerConfig`] says which key the server proves itself with and who
//! may log in; [`SshServer::listen`] opens it on an endpoint.
//!
//! ```text
//!   reactor thread                      torsion-ssh thread (tokio)
//!   --------------                      --------------------------
//!   SshServer::listen ---- binds ------> russh server: accept, kex, auth
//!                                        session: exec / shell line
//!   Reactor::snapshot() <- TorsionHandle::spawn -- command needs figures
//!   (plain Send data)   -- JoinHandle ---------> rendered, sent, exit status
//! ```

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use russh::MethodKind;
use russh::server::{Config, Server as _};
use tokio::runtime::Handle;
use tokio::sync::oneshot;
use torsion::endpoints::server_from_string;
use torsion::reactor::{Phase, SystemEvent};
use torsion::{Deferred, Failure, Reactor};
use torsion_tokio::TorsionHandle;

use crate::error::ServerError;
use crate::keys::{AuthorizedKeys, HostKey};
use crate::runtime;
use crate::session::{Door, Settings};

/// How the SSH server proves itself and whom it lets in.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    host_key: HostKey,
    authorized_keys: AuthorizedKeys,
    inactivity_timeout: Duration,
    auth_rejection_time: Duration,
    answer_timeout: Duration,
    prompt: String,
    tokio: Option<Handle>,
}

impl ServerConfig {
    /// A server with `host_key` (see [`HostKey::load_or_generate`]) that
    /// lets in the holders of the keys in `authorized_keys` (an OpenSSH
    /// `authorized_keys` file, read again at each login), under any user
    /// name.
    pub fn new(host_key: HostKey, authorized_keys: AuthorizedKeys) -> ServerConfig {
        ServerConfig {
            host_key,
            authorized_keys,
            inactivity_timeout: Duration::from_secs(600),
            auth_rejection_time: Duration::from_secs(1),
            answer_timeout: Duration::from_secs(5),
            prompt: "torsion> ".to_owned(),
            tokio: None,
        }
    }

    /// Closes a connection when nothing has come from the client for this
    /// long, logged in or not (default 10 minutes).
    pub fn inactivity_timeout(mut self, timeout: Duration) -> ServerConfig {
        self.inactivity_timeout = timeout;
        self
    }

    /// How long a refused login attempt takes, whatever the reason
    /// (default 1 s), so that timing tells a guesser nothing and slows a
    /// key-guessing client down.
    pub fn auth_rejection_time(mut self, time: Duration) -> ServerConfig {
        self.auth_rejection_time = time;
        self
    }

    /// How long a command waits for the reactor to answer (default 5 s):
    /// past it the command fails with status 1 and says the reactor is
    /// busy, rather than hanging the operator's session.
    pub fn answer_timeout(mut self, timeout: Duration) -> ServerConfig {
        self.answer_timeout = timeout;
        self
    }

    /// The interactive shell's prompt (default `torsion> `).
    pub fn prompt(mut self, prompt: impl Into<String>) -> ServerConfig {
        self.prompt = prompt.into();
        self
    }

    /// Runs the server on this tokio runtime, instead of the one-thread
    /// runtime the crate starts on first use.
    pub fn tokio_handle(mut self, handle: Handle) -> ServerConfig {
        self.tokio = Some(handle);
        self
    }

    /// The host key.
    pub fn host_key(&self) -> &HostKey {
        &self.host_key
    }

    fn russh_config(&self) -> Config {
        Config {
            // Public keys only: no passwords, no keyboard-interactive.
            methods: (&[MethodKind::PublicKey][..]).into(),
            keys: vec![self.host_key.private_key().clone()],
            inactivity_timeout: Some(self.inactivity_timeout),
            auth_rejection_time: self.auth_rejection_time,
            // OpenSSH's first "none" probe is no guess: answer it at once.
            auth_rejection_time_initial: Some(Duration::ZERO),
            max_auth_attempts: 6,
            nodelay: true,
            ..Config::default()
        }
    }
}

/// A listening SSH server, serving sessions on a tokio thread and asking
/// the reactor for its figures (see the [crate](crate)); it stops listening
/// when [stopped](SshServer::stop) or when the reactor shuts down.
/// Dropping it leaves it listening until then.
#[derive(Debug)]
pub struct SshServer {
    address: SocketAddr,
    host_key: HostKey,
    running: Rc<Running>,
}

#[derive(Debug)]
struct Running {
    tokio: Handle,
    stop: RefCell<Option<oneshot::Sender<()>>>,
    task: RefCell<Option<tokio::task::JoinHandle<()>>>,
}

impl Running {
    fn stop(&self) -> Deferred<()> {
        let (Some(stop), Some(task)) = (self.stop.take(), self.task.take()) else {
            return Deferred::succeed(());
        };
        let _ = stop.send(());
        torsion_tokio::from_future_on(&self.tokio, async move {
            let _ = task.await;
            Ok::<_, Failure>(())
        })
    }
}

/// A non-blocking listening socket on `address`. SO_REUSEADDR, as
/// torsion's own listeners set it: a program restarted right after its
/// sessions closed binds again instead of waiting out their TIME_WAIT.
fn bind(address: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(address), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    socket.listen(128)?;
    Ok(socket.into())
}

/// Accepts and serves until told to stop; then closes the listener and
/// sends each session a disconnect message.
async fn serve(
    mut door: Door,
    config: Arc<Config>,
    listener: tokio::net::TcpListener,
    stop: oneshot::Receiver<()>,
) {
    let bound = listener.local_addr().ok();
    let mut server = door.run_on_socket(config, &listener);
    let sessions = server.handle();
    tokio::select! {
        result = &mut server => {
            if let Err(error) = result {
                tracing::warn!("SSH server on {bound:?} stopped accepting: {error}");
            }
        }
        _ = stop => sessions.shutdown("the server is shutting down".to_owned()),
    }
}

impl SshServer {
    /// Listens on `endpoint`, a TCP endpoint string
    /// (`tcp:2222:interface=127.0.0.1`; see `torsion::endpoints`), and
    /// serves sessions into `reactor`. Call it on the reactor's thread.
    /// The port is bound before this returns (port 0 picks a free one:
    /// [`address`](SshServer::address)).
    ///
    /// **The shell shows the process's internals** (peer addresses,
    /// ports). Only the holders of the authorized keys get in, but listen
    /// on 127.0.0.1 unless there is a reason not to; `tcp:2222` alone
    /// listens on every interface.
    pub fn listen(
        reactor: &Reactor,
        endpoint: &str,
        config: ServerConfig,
    ) -> Result<SshServer, ServerError> {
        let parsed = server_from_string(reactor, endpoint)
            .map_err(|error| ServerError::Endpoint(error.to_string()))?;
        let (Some(address), false) = (parsed.tcp_address(), parsed.is_tls()) else {
            return Err(ServerError::Endpoint(format!(
                "{endpoint:?}: SSH listens on a plain TCP endpoint (tcp: or tcp6:)"
            )));
        };
        let tokio =
            runtime::handle_or_shared(config.tokio.as_ref()).map_err(ServerError::Runtime)?;
        // Bound here, on the caller's thread, so that a busy port is an
        // error now and port 0's choice is known at once.
        let listener = bind(address).map_err(|source| ServerError::Listen { address, source })?;
        let bound = listener
            .local_addr()
            .map_err(|source| ServerError::Listen { address, source })?;
        let listener = {
            let _context = tokio.enter();
            tokio::net::TcpListener::from_std(listener)
                .map_err(|source| ServerError::Listen { address, source })?
        };

        let settings = Arc::new(Settings {
            authorized_keys: config.authorized_keys.clone(),
            answer_timeout: config.answer_timeout,
            prompt: config.prompt.clone(),
            torsion: TorsionHandle::new(reactor),
        });
        let (stop, stopped) = oneshot::channel();
        let russh_config = Arc::new(config.russh_config());
        let task = tokio.spawn(serve(Door::new(settings), russh_config, listener, stopped));
        tracing::info!(
            "SSH server on {bound}, host key {}",
            config.host_key.fingerprint()
        );
        let running = Rc::new(Running {
            tokio,
            stop: RefCell::new(Some(stop)),
            task: RefCell::new(Some(task)),
        });
        let on_shutdown = running.clone();
        reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, move || {
            on_shutdown.stop()
        });
        Ok(SshServer {
            address: bound,
            host_key: config.host_key,
            running,
        })
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The host key it proves itself with.
    pub fn host_key(&self) -> &HostKey {
        &self.host_key
    }

    /// Stops listening and disconnects every session; the Deferred fires
    /// once the port is closed. Stopping twice does nothing more.
    pub fn stop(&self) -> Deferred<()> {
        self.running.stop()
    }
}
