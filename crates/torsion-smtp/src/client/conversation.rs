//! The client's side of one conversation, step by step, as an `async`
//! function over the queue of replies.

use std::time::Duration;

use torsion::defer::DeferredQueue;
use torsion::net::Transport;
use torsion::{Failure, Reactor};

use super::{OutgoingMail, SendError, SendOptions, SendReport};
use crate::command::{Body, Command, MailParams};
use crate::data::dot_stuff;
use crate::reply::Reply;

pub(super) struct Conversation {
    pub(super) transport: Transport,
    pub(super) replies: DeferredQueue<Result<Reply, Failure>>,
    pub(super) reactor: Reactor,
    pub(super) timeout: Duration,
    pub(super) tls: bool,
}

/// What the server said it offers, from its EHLO reply.
#[derive(Default)]
struct Extensions {
    keywords: Vec<String>,
}

impl Extensions {
    fn from_reply(reply: &Reply) -> Extensions {
        let keywords = reply
            .lines
            .iter()
            .skip(1)
            .filter_map(|line| line.split(' ').next())
            .map(str::to_ascii_uppercase)
            .collect();
        Extensions { keywords }
    }

    fn has(&self, keyword: &str) -> bool {
        self.keywords.iter().any(|offered| offered == keyword)
    }
}

fn refused(command: &'static str, reply: Reply) -> Failure {
    Failure::new(SendError::Refused { command, reply })
}

impl Conversation {
    /// The next reply, within the timeout.
    async fn reply(&self) -> Result<Reply, Failure> {
        let next = self
            .replies
            .get()
            .map_err(Failure::new)?
            .add_timeout(self.timeout, &self.reactor);
        next.await?
    }

    fn write(&self, command: &Command) {
        let mut line = command.to_string().into_bytes();
        line.extend_from_slice(b"\r\n");
        self.transport.write(&line);
    }

    async fn command(&self, command: &Command) -> Result<Reply, Failure> {
        self.write(command);
        self.reply().await
    }

    /// EHLO, or HELO for a server that refuses EHLO.
    async fn greet(&self, helo: &str) -> Result<Extensions, Failure> {
        let reply = self.command(&Command::Ehlo(helo.to_owned())).await?;
        if reply.is_positive() {
            return Ok(Extensions::from_reply(&reply));
        }
        let reply = self.command(&Command::Helo(helo.to_owned())).await?;
        if reply.is_positive() {
            Ok(Extensions::default())
        } else {
            Err(refused("EHLO", reply))
        }
    }

    pub(super) async fn send(
        &mut self,
        mail: OutgoingMail,
        options: SendOptions,
    ) -> Result<SendReport, Failure> {
        let greeting = self.reply().await?;
        if !greeting.is_positive() {
            return Err(refused("greeting", greeting));
        }
        let mut extensions = self.greet(&options.helo).await?;
        match &options.tls {
            Some(setup) if extensions.has("STARTTLS") => {
                let reply = self.command(&Command::StartTls).await?;
                if reply.code == 220 {
                    self.transport
                        .start_tls(setup.clone())
                        .map_err(Failure::new)?;
                    self.tls = true;
                    extensions = self.greet(&options.helo).await?;
                } else if options.require_tls {
                    return Err(Failure::new(SendError::TlsUnavailable));
                }
            }
            _ if options.require_tls => return Err(Failure::new(SendError::TlsUnavailable)),
            _ => {}
        }
        let report = self.transaction(mail, &extensions).await;
        // Polite whatever happened; the reply does not matter.
        self.write(&Command::Quit);
        report
    }

    async fn transaction(
        &self,
        mail: OutgoingMail,
        extensions: &Extensions,
    ) -> Result<SendReport, Failure> {
        let eight_bit = mail.data.iter().any(|&byte| byte > 127);
        let params = MailParams {
            size: extensions.has("SIZE").then_some(mail.data.len() as u64),
            body: (eight_bit && extensions.has("8BITMIME")).then_some(Body::EightBitMime),
        };
        let mut commands = vec![Command::Mail {
            from: mail.from.clone(),
            params,
        }];
        commands.extend(mail.to.iter().cloned().map(Command::Rcpt));
        commands.push(Command::Data);
        // With PIPELINING the envelope goes in one write and the replies
        // are read after; without, each command waits for its reply.
        let pipelining = extensions.has("PIPELINING");
        if pipelining {
            let mut batch = Vec::new();
            for command in &commands {
                batch.extend_from_slice(command.to_string().as_bytes());
                batch.extend_from_slice(b"\r\n");
            }
            self.transport.write(&batch);
        }
        // Without pipelining, DATA waits to see whether a recipient was
        // accepted.
        let asked = if pipelining {
            &commands[..]
        } else {
            &commands[..commands.len() - 1]
        };
        let mut replies = Vec::with_capacity(commands.len());
        for command in asked {
            let reply = if pipelining {
                self.reply().await?
            } else {
                self.command(command).await?
            };
            let refused_mail = replies.is_empty() && !reply.is_positive();
            replies.push(reply);
            if refused_mail && !pipelining {
                break;
            }
        }
        let mut replies = replies.into_iter();
        let mail_reply = replies.next().expect("MAIL was answered");
        if !mail_reply.is_positive() {
            return Err(refused("MAIL", mail_reply));
        }
        let mut accepted = Vec::new();
        let mut refused_recipients = Vec::new();
        for (to, reply) in mail.to.into_iter().zip(replies.by_ref()) {
            if reply.is_positive() {
                accepted.push(to);
            } else {
                refused_recipients.push((to, reply));
            }
        }
        let data_reply = match replies.next() {
            Some(reply) => reply,
            // Without pipelining DATA is sent only now.
            None if !accepted.is_empty() => self.command(&Command::Data).await?,
            None => return Err(Failure::new(SendError::NoRecipients(refused_recipients))),
        };
        if accepted.is_empty() {
            if data_reply.code == 354 {
                // RFC 2920 §3.1: a server that took DATA with no
                // recipient gets an empty message, which it must refuse.
                self.transport.write(b".\r\n");
                let _ = self.reply().await?;
            }
            return Err(Failure::new(SendError::NoRecipients(refused_recipients)));
        }
        if data_reply.code != 354 {
            return Err(refused("DATA", data_reply));
        }
        self.transport.write(&dot_stuff(&mail.data));
        let reply = self.reply().await?;
        if !reply.is_positive() {
            return Err(refused("message", reply));
        }
        Ok(SendReport {
            accepted,
            refused: refused_recipients,
            reply,
            tls: self.tls,
        })
    }
}
