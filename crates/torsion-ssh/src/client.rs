//! An SSH client that runs one command and gives a Deferred of its output
//! (Twisted's conch `SSHCommandClientEndpoint`, reduced to its common
//! use).
//!
//! The server's host key is never taken on trust: the client is given the
//! key it must see (from the server's `.pub` file, or a `known_hosts`
//! line), and a server offering another key fails the Deferred with
//! [`ClientError::HostKeyMismatch`] before the client authenticates.

use std::sync::Arc;
use std::time::Duration;

use russh::client::{self, Handle};
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use russh::{ChannelMsg, Disconnect};
use tokio::runtime::Handle as TokioHandle;
use torsion::{Deferred, Failure};

use crate::error::ClientError;
use crate::keys::fingerprint;
use crate::runtime;

/// What a remote command printed, and how it ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommandOutput {
    /// Everything it wrote to standard output.
    pub stdout: Vec<u8>,
    /// Everything it wrote to standard error.
    pub stderr: Vec<u8>,
    /// Its exit status; `None` if the server closed the channel without
    /// sending one (a program killed by a signal, say).
    pub exit_status: Option<u32>,
}

impl CommandOutput {
    /// Standard output as text (invalid UTF-8 replaced).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Standard error as text (invalid UTF-8 replaced).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// True when the command exited with status 0.
    pub fn success(&self) -> bool {
        self.exit_status == Some(0)
    }
}

/// Where to connect, as whom, and which host key to expect: the server's
/// host key is never taken on trust, and a server offering another key
/// fails the run with [`ClientError::HostKeyMismatch`] before the client
/// authenticates. Cheap to clone; each [`run`](SshClient::run) makes
/// its own connection.
#[derive(Debug, Clone)]
pub struct SshClient {
    host: String,
    port: u16,
    user: String,
    key: Arc<PrivateKey>,
    host_key: PublicKey,
    timeout: Duration,
    tokio: Option<TokioHandle>,
}

impl SshClient {
    /// A client for `host:port` logging in as `user` with `key`, which
    /// trusts only a server proving it holds `host_key`.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        user: impl Into<String>,
        key: PrivateKey,
        host_key: PublicKey,
    ) -> SshClient {
        SshClient {
            host: host.into(),
            port,
            user: user.into(),
            key: Arc::new(key),
            host_key,
            timeout: Duration::from_secs(30),
            tokio: None,
        }
    }

    /// Bounds a whole [`run`](SshClient::run), from connecting to the
    /// exit status (default 30 s); past it the Deferred fails with
    /// [`ClientError::TimedOut`].
    pub fn timeout(mut self, timeout: Duration) -> SshClient {
        self.timeout = timeout;
        self
    }

    /// Runs the client on this tokio runtime, instead of the one-thread
    /// runtime the crate starts on first use.
    pub fn tokio_handle(mut self, handle: TokioHandle) -> SshClient {
        self.tokio = Some(handle);
        self
    }

    /// Connects, checks the host key, logs in, runs `command` and fires
    /// with its output once the server has closed the channel. Call it on
    /// the reactor's thread; the SSH work runs on tokio's, and cancelling
    /// the Deferred drops the connection.
    ///
    /// ```no_run
    /// use torsion::Reactor;
    /// use torsion_ssh::{SshClient, load_private_key, load_public_key};
    ///
    /// let reactor = Reactor::new()?;
    /// let client = SshClient::new(
    ///     "127.0.0.1",
    ///     2222,
    ///     "operator",
    ///     load_private_key("operator_key")?,
    ///     load_public_key("host_key.pub")?,
    /// );
    /// let r = reactor.clone();
    /// drop(client.run("connections").both(move |output| {
    ///     match output {
    ///         Ok(output) => print!("{}", output.stdout_text()),
    ///         Err(failure) => eprintln!("ssh: {failure}"),
    ///     }
    ///     r.stop()
    /// }));
    /// reactor.run()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn run(&self, command: &str) -> Deferred<CommandOutput> {
        let tokio = match runtime::handle_or_shared(self.tokio.as_ref()) {
            Ok(tokio) => tokio,
            Err(error) => return Deferred::fail(Failure::new(ClientError::Runtime(error))),
        };
        let client = self.clone();
        let command = command.to_owned();
        torsion_tokio::from_future_on(&tokio, async move {
            match tokio::time::timeout(client.timeout, client.exec(&command)).await {
                Ok(result) => result,
                Err(_) => Err(ClientError::TimedOut(client.timeout)),
            }
        })
    }

    async fn exec(&self, command: &str) -> Result<CommandOutput, ClientError> {
        let config = Arc::new(client::Config {
            inactivity_timeout: Some(self.timeout),
            nodelay: true,
            ..client::Config::default()
        });
        let checker = HostKeyCheck {
            expected: self.host_key.clone(),
        };
        let address = (self.host.as_str(), self.port);
        let mut session = client::connect(config, address, checker)
            .await
            .map_err(|error| match error {
                ClientError::Ssh(russh::Error::IO(source)) => ClientError::Connect {
                    address: format!("{}:{}", self.host, self.port),
                    source,
                },
                other => other,
            })?;
        let key = PrivateKeyWithHashAlg::new(self.key.clone(), None);
        let auth = session.authenticate_publickey(&self.user, key).await?;
        if !auth.success() {
            return Err(ClientError::AuthenticationRefused {
                user: self.user.clone(),
                fingerprint: fingerprint(self.key.public_key()),
            });
        }
        let output = run_on(&session, command).await?;
        // The command is done; a failing goodbye changes nothing.
        let _ = session
            .disconnect(Disconnect::ByApplication, "", "en")
            .await;
        Ok(output)
    }
}

/// Runs `command` on a new session channel and collects what comes back.
async fn run_on(
    session: &Handle<HostKeyCheck>,
    command: &str,
) -> Result<CommandOutput, ClientError> {
    let mut channel = session.channel_open_session().await?;
    channel.exec(true, command).await?;
    let mut output = CommandOutput::default();
    while let Some(message) = channel.wait().await {
        match message {
            ChannelMsg::Data { data } => output.stdout.extend_from_slice(&data),
            ChannelMsg::ExtendedData { data, ext: 1 } => output.stderr.extend_from_slice(&data),
            ChannelMsg::ExitStatus { exit_status } => output.exit_status = Some(exit_status),
            // The status may come before the last data: wait for the close.
            ChannelMsg::Close => break,
            _ => {}
        }
    }
    Ok(output)
}

/// The client's russh handler: its one job is the host key check.
struct HostKeyCheck {
    expected: PublicKey,
}

impl client::Handler for HostKeyCheck {
    type Error = ClientError;

    async fn check_server_key(
        &mut self,
        offered: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let offered = match offered {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            // A host certificate is checked as the key it certifies.
            PublicKeyOrCertificate::Certificate(certificate) => {
                PublicKey::from(certificate.public_key().clone())
            }
        };
        if offered.key_data() == self.expected.key_data() {
            Ok(true)
        } else {
            Err(ClientError::HostKeyMismatch {
                expected: fingerprint(&self.expected),
                offered: fingerprint(&offered),
            })
        }
    }
}

/// Runs `command` on `host:port` as `user` with `key`, trusting only a
/// server holding `host_key`: [`SshClient::new`] and
/// [`run`](SshClient::run) in one call.
pub fn run_command(
    host: &str,
    port: u16,
    user: &str,
    key: PrivateKey,
    host_key: PublicKey,
    command: &str,
) -> Deferred<CommandOutput> {
    SshClient::new(host, port, user, key, host_key).run(command)
}
