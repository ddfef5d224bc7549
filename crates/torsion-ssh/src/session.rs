//! One SSH connection to the door, as russh's server `Handler`: public-key
//! authentication against the authorized keys, then session channels
//! that run one command (`exec`) or an interactive shell (`shell`, with
//! or without a pseudo-terminal).
//!
//! Runs on the tokio thread; the only thing it asks of the reactor is a
//! [`Snapshot`], through a `TorsionHandle`, bounded by the answer timeout.
//! Nothing a client sends reaches the reactor's thread.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use russh::server::{self, Auth, ChannelOpenHandle, Msg, PublicKeyOffer, VerifiedPublicKey};
use russh::{Channel, ChannelId, Pty};
use torsion::Failure;
use torsion::reactor::Snapshot;
use torsion_tokio::TorsionHandle;

use crate::commands::{self, Command, Output};
use crate::keys::{AuthorizedKeys, fingerprint};
use crate::line_editor::{Action, LineEditor};

/// What every session of one server shares.
pub(crate) struct Settings {
    pub(crate) authorized_keys: AuthorizedKeys,
    pub(crate) answer_timeout: Duration,
    pub(crate) prompt: String,
    pub(crate) torsion: TorsionHandle,
}

/// Makes one [`Session`] per connection.
pub(crate) struct Door {
    settings: Arc<Settings>,
}

impl Door {
    pub(crate) fn new(settings: Arc<Settings>) -> Door {
        Door { settings }
    }
}

impl server::Server for Door {
    type Handler = Session;

    fn new_client(&mut self, peer: Option<SocketAddr>) -> Session {
        Session {
            settings: self.settings.clone(),
            peer,
            channels: HashMap::new(),
        }
    }

    fn handle_session_error(&mut self, error: russh::Error) {
        // A client that sent garbage or vanished: its connection is gone,
        // nothing else is touched.
        tracing::debug!("SSH session ended: {error}");
    }
}

/// One connection.
pub(crate) struct Session {
    settings: Arc<Settings>,
    peer: Option<SocketAddr>,
    channels: HashMap<ChannelId, ChannelState>,
}

#[derive(Default)]
struct ChannelState {
    pty: bool,
    shell: Option<Shell>,
    /// A command ran, or the shell ended: the channel is closing.
    done: bool,
}

struct Shell {
    editor: LineEditor,
    last_status: u32,
}

impl Session {
    fn allows(&self, user: &str, key: &russh::keys::PublicKey, verified: bool) -> Auth {
        if self.settings.authorized_keys.allows(key) {
            if verified {
                tracing::info!(
                    "SSH login: user {user:?} from {:?} with key {}",
                    self.peer,
                    fingerprint(key)
                );
            }
            Auth::Accept
        } else {
            if verified {
                tracing::info!(
                    "SSH login refused: user {user:?} from {:?}, key {} is not authorized",
                    self.peer,
                    fingerprint(key)
                );
            }
            Auth::reject()
        }
    }
}

impl server::Handler for Session {
    type Error = russh::Error;

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(self.allows(user, offer.public_key, false))
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(self.allows(user, key.public_key, true))
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut server::Session,
    ) -> Result<(), Self::Error> {
        self.channels.insert(channel.id(), ChannelState::default());
        reply.accept().await;
        // The handler's callbacks carry everything; the channel's own
        // message stream is not read, so it is dropped (russh then skips
        // it instead of waiting for a reader).
        drop(channel);
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(Pty, u32)],
        session: &mut server::Session,
    ) -> Result<(), Self::Error> {
        match self.channels.get_mut(&channel) {
            Some(state) if state.shell.is_none() && !state.done => {
                state.pty = true;
                session.channel_success(channel)
            }
            _ => session.channel_failure(channel),
        }
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut server::Session,
    ) -> Result<(), Self::Error> {
        let Some(state) = self.channels.get_mut(&channel) else {
            return session.channel_failure(channel);
        };
        if state.shell.is_some() || state.done {
            return session.channel_failure(channel);
        }
        session.channel_success(channel)?;
        state.shell = Some(Shell {
            editor: LineEditor::new(state.pty),
            last_status: commands::OK,
        });
        if state.pty {
            let banner = format!(
                "torsion manhole, process {}: `help` lists the commands, `exit` leaves.\n",
                std::process::id()
            );
            send(
                session,
                channel,
                true,
                &Output {
                    stdout: banner,
                    ..Output::default()
                },
            )?;
            session.data(channel, self.settings.prompt.clone().into_bytes())?;
        }
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut server::Session,
    ) -> Result<(), Self::Error> {
        let pty = match self.channels.get_mut(&channel) {
            Some(state) if state.shell.is_none() && !state.done => {
                state.done = true;
                state.pty
            }
            _ => return session.channel_failure(channel),
        };
        session.channel_success(channel)?;
        let command = Command::parse(&String::from_utf8_lossy(data));
        let output = answer(&self.settings, &command).await;
        send(session, channel, pty, &output)?;
        let status = match command {
            Command::Exit(Some(status)) => status,
            _ => output.status,
        };
        finish(session, channel, status)
    }

    async fn data(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut server::Session,
    ) -> Result<(), Self::Error> {
        let settings = self.settings.clone();
        let Some(state) = self.channels.get_mut(&channel) else {
            return Ok(());
        };
        let pty = state.pty;
        // Input on a channel with no shell (during an exec) is dropped.
        let Some(shell) = state.shell.as_mut() else {
            return Ok(());
        };
        for action in shell.editor.feed(data) {
            match action {
                Action::Echo(bytes) => session.data(channel, bytes)?,
                Action::Interrupt => {
                    shell.last_status = 130;
                    session.data(channel, settings.prompt.clone().into_bytes())?;
                }
                Action::EndOfInput => {
                    let status = shell.last_status;
                    state.shell = None;
                    state.done = true;
                    return finish(session, channel, status);
                }
                Action::Line(line) => {
                    let command = Command::parse(&line);
                    if let Command::Exit(status) = command {
                        let status = status.unwrap_or(shell.last_status);
                        state.shell = None;
                        state.done = true;
                        return finish(session, channel, status);
                    }
                    let output = answer(&settings, &command).await;
                    if command != Command::Empty {
                        shell.last_status = output.status;
                    }
                    send(session, channel, pty, &output)?;
                    if pty {
                        session.data(channel, settings.prompt.clone().into_bytes())?;
                    }
                }
            }
        }
        Ok(())
    }

    async fn channel_eof(
        &mut self,
        channel: ChannelId,
        session: &mut server::Session,
    ) -> Result<(), Self::Error> {
        // The client's input ended: a shell ends as at Ctrl-D.
        if let Some(state) = self.channels.get_mut(&channel)
            && let Some(shell) = state.shell.take()
        {
            state.done = true;
            return finish(session, channel, shell.last_status);
        }
        Ok(())
    }

    async fn channel_close(
        &mut self,
        channel: ChannelId,
        _session: &mut server::Session,
    ) -> Result<(), Self::Error> {
        self.channels.remove(&channel);
        Ok(())
    }
}

/// Runs `command`, asking the reactor for its figures when it needs them.
async fn answer(settings: &Settings, command: &Command) -> Output {
    if !command.needs_snapshot() {
        return commands::run(command, None);
    }
    match snapshot(settings).await {
        Ok(snapshot) => commands::run(command, Some(&snapshot)),
        Err(message) => Output::error(message, commands::UNAVAILABLE),
    }
}

/// The reactor's snapshot, taken on its thread.
async fn snapshot(settings: &Settings) -> Result<Snapshot, String> {
    let asked = settings
        .torsion
        .spawn(|reactor| Ok::<_, Failure>(reactor.snapshot()));
    // Dropping the JoinHandle on a timeout cancels the request.
    match tokio::time::timeout(settings.answer_timeout, asked).await {
        Ok(Ok(snapshot)) => Ok(snapshot),
        Ok(Err(failure)) => Err(format!("the reactor did not answer: {failure}")),
        Err(_) => Err(format!(
            "the reactor did not answer within {} (busy?)",
            commands::duration(settings.answer_timeout)
        )),
    }
}

/// Sends a command's output: standard error as extended data, except on a
/// terminal, where both go to the screen as a tty would merge them, with
/// `\r\n` line endings.
fn send(
    session: &mut server::Session,
    channel: ChannelId,
    pty: bool,
    output: &Output,
) -> Result<(), russh::Error> {
    if pty {
        let text = format!("{}{}", output.stdout, output.stderr).replace('\n', "\r\n");
        if !text.is_empty() {
            session.data(channel, text.into_bytes())?;
        }
        return Ok(());
    }
    if !output.stdout.is_empty() {
        session.data(channel, output.stdout.clone().into_bytes())?;
    }
    if !output.stderr.is_empty() {
        session.extended_data(channel, 1, output.stderr.clone().into_bytes())?;
    }
    Ok(())
}

/// Ends a channel as a finished program does: exit status, EOF, close.
fn finish(
    session: &mut server::Session,
    channel: ChannelId,
    status: u32,
) -> Result<(), russh::Error> {
    session.exit_status_request(channel, status)?;
    session.eof(channel)?;
    session.close(channel)
}
