//! [`AmpProtocol`]: boxes in, dispatched (Twisted's `BoxDispatcher`):
//! answers and errors to the calls waiting for them, commands to their
//! responders, whose outcome goes back as an answer or error box.

use std::fmt;

use bytes::Bytes;
use torsion::net::{HalfClose, Protocol, Transport};
use torsion::protocols::{FrameContext, FrameHandler, FramedProtocol};
use torsion::{Deferred, Failure, Reactor};

use super::responders::{BadArguments, Declared};
use super::{Amp, Reply};
use crate::{AmpBox, AmpError, BoxCodec, UNHANDLED_ERROR_CODE, UNKNOWN_ERROR_CODE};

/// The [`Protocol`] of one AMP connection, made with its [`Amp`] handle
/// by [`Amp::new`]: a [`FramedProtocol`] over a [`BoxCodec`], so it runs
/// over any torsion transport (TCP, UNIX, TLS, a pipe).
///
/// A box it cannot parse (a key over 255 bytes), a box that is neither a
/// command, an answer nor an error, or an answer to a question never
/// asked is logged and closes this connection, and only it; the calls
/// waiting on it fail with [`AmpError::ConnectionLost`] holding the
/// protocol error.
pub struct AmpProtocol {
    framed: FramedProtocol<BoxCodec, Dispatcher>,
}

impl AmpProtocol {
    pub(super) fn new(amp: Amp) -> AmpProtocol {
        AmpProtocol {
            framed: FramedProtocol::new(BoxCodec::new(), Dispatcher { amp }),
        }
    }

    /// The connection's handle.
    pub fn amp(&self) -> &Amp {
        &self.framed.handler().amp
    }
}

struct Dispatcher {
    amp: Amp,
}

type Context<'a> = FrameContext<'a, BoxCodec>;

impl Dispatcher {
    /// A protocol error: logged, and the connection closed with it as the
    /// reason the waiting calls get.
    fn broken(&self, ctx: &Context<'_>, error: AmpError) {
        tracing::warn!(%error, "AMP protocol error; closing the connection");
        let mut state = self.amp.state().borrow_mut();
        if state.broken.is_none() {
            state.broken = Some(Failure::new(error));
        }
        state.lose_connection();
        drop(state);
        ctx.lose_connection();
    }

    /// An `_answer` or `_error` box for the call tagged `tag`.
    fn reply(&self, ctx: &Context<'_>, tag: &Bytes, reply: Reply) {
        let number = std::str::from_utf8(tag)
            .ok()
            .and_then(|tag| u64::from_str_radix(tag, 16).ok());
        let mut state = self.amp.state().borrow_mut();
        let pending = number.and_then(|number| state.outstanding.remove(&number));
        let asked = number.is_some_and(|number| number >= 1 && number <= state.counter);
        drop(state);
        match pending {
            // Out of the borrow: the callbacks may call again.
            Some(pending) => pending(reply),
            // A cancelled call's answer.
            None if asked => tracing::debug!(?tag, "dropped the answer to a cancelled AMP call"),
            None => self.broken(
                ctx,
                AmpError::Malformed(format!("an answer to {tag:?}, which was never asked")),
            ),
        }
    }

    /// A `_command` box: its responder's outcome is answered if asked.
    fn command(&self, name: Bytes, amp_box: AmpBox) {
        let ask = amp_box.get("_ask").cloned();
        let responder = self.amp.state().borrow().responders.get(&name);
        let outcome = match responder {
            Some(responder) => responder(&self.amp, amp_box),
            None => Deferred::fail(Declared {
                code: Bytes::from_static(UNHANDLED_ERROR_CODE),
                description: format!("Unhandled Command: {}", python_bytes(&name)),
                fatal: false,
            }),
        };
        let amp = self.amp.clone();
        drop(outcome.both(move |outcome| {
            answer(&amp, &name, ask, outcome);
            Ok::<(), Failure>(())
        }));
    }
}

/// Sends the outcome of a command as its answer or error box; closes the
/// connection after a fatal or unexpected error, as Twisted's `QuitBox`.
fn answer(amp: &Amp, name: &Bytes, ask: Option<Bytes>, outcome: Result<AmpBox, Failure>) {
    let mut state = amp.state().borrow_mut();
    let (mut reply, close) = match outcome {
        Ok(mut amp_box) => {
            let Some(tag) = ask.clone() else { return };
            amp_box.insert("_answer", tag);
            match state.send(&amp_box) {
                Ok(()) => return,
                Err(error) => {
                    tracing::error!(command = ?name, %error, "an AMP response cannot be sent");
                    (unknown_error(), true)
                }
            }
        }
        Err(failure) => match failure.downcast_ref::<Declared>() {
            Some(declared) => {
                let mut amp_box = AmpBox::new();
                amp_box.insert("_error_code", declared.code.clone());
                amp_box.insert("_error_description", declared.description.clone());
                (amp_box, declared.fatal)
            }
            None => {
                if let Some(bad) = failure.downcast_ref::<BadArguments>() {
                    tracing::warn!(command = ?name, error = %bad.error, "AMP command with bad arguments");
                } else {
                    tracing::error!(command = ?name, %failure, "AMP responder failed");
                }
                (unknown_error(), true)
            }
        },
    };
    if let Some(ask) = ask {
        reply.insert("_error", ask);
        if let Err(error) = state.send(&reply) {
            tracing::error!(command = ?name, %error, "an AMP error box cannot be sent");
        }
    }
    if close {
        state.lose_connection();
    }
}

fn unknown_error() -> AmpBox {
    let mut amp_box = AmpBox::new();
    amp_box.insert("_error_code", Bytes::from_static(UNKNOWN_ERROR_CODE));
    amp_box.insert("_error_description", "Unknown Error");
    amp_box
}

/// `bytes` as Python's `repr(bytes)` writes it (`b'Sum'`), for Twisted's
/// "Unhandled Command" description.
fn python_bytes(bytes: &[u8]) -> String {
    let quote = if bytes.contains(&b'\'') && !bytes.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut text = format!("b{quote}");
    for &byte in bytes {
        match byte {
            b'\\' => text.push_str("\\\\"),
            b'\t' => text.push_str("\\t"),
            b'\n' => text.push_str("\\n"),
            b'\r' => text.push_str("\\r"),
            _ if char::from(byte) == quote => {
                text.push('\\');
                text.push(quote);
            }
            0x20..=0x7e => text.push(char::from(byte)),
            _ => text.push_str(&format!("\\x{byte:02x}")),
        }
    }
    text.push(quote);
    text
}

impl FrameHandler<BoxCodec> for Dispatcher {
    fn connection_made(&mut self, ctx: &mut Context<'_>) {
        let mut state = self.amp.state().borrow_mut();
        state.transport = ctx.transport().cloned();
        state.reactor = Reactor::current();
        let unsent = state.unsent.split();
        drop(state);
        if !unsent.is_empty() {
            ctx.write(&unsent);
        }
    }

    fn frame_received(&mut self, ctx: &mut Context<'_>, mut amp_box: AmpBox) {
        if let Some(tag) = amp_box.get("_answer").cloned() {
            self.reply(ctx, &tag, Reply::Answer(amp_box));
        } else if let Some(tag) = amp_box.get("_error").cloned() {
            let Some(code) = amp_box.remove("_error_code") else {
                return self.broken(
                    ctx,
                    AmpError::Malformed("an error box without _error_code".into()),
                );
            };
            let description = amp_box
                .get("_error_description")
                .map(|text| String::from_utf8_lossy(text).into_owned())
                .unwrap_or_default();
            self.reply(ctx, &tag, Reply::Error { code, description });
        } else if let Some(name) = amp_box.get("_command").cloned() {
            self.command(name, amp_box);
        } else {
            self.broken(ctx, AmpError::NoEmptyBoxes(format!("{amp_box:?}")));
        }
    }

    fn decode_error(&mut self, ctx: &mut Context<'_>, error: AmpError) {
        self.broken(ctx, error);
    }

    fn connection_lost(&mut self, _: &mut Context<'_>, reason: Failure) {
        let mut state = self.amp.state().borrow_mut();
        let reason = state.broken.take().unwrap_or(reason);
        state.closed = Some(reason.clone());
        state.transport = None;
        state.reactor = None;
        state.unsent.clear();
        state.outgoing.clear();
        // Responders may hold handles to this connection: letting them go
        // breaks the cycle.
        state.responders = Default::default();
        let mut outstanding: Vec<_> = state.outstanding.drain().collect();
        drop(state);
        outstanding.sort_by_key(|(tag, _)| *tag);
        for (_, pending) in outstanding {
            pending(Reply::Lost(reason.clone()));
        }
    }

    fn read_connection_lost(&mut self, _: &mut Context<'_>) -> HalfClose {
        HalfClose::Close
    }
}

impl Protocol for AmpProtocol {
    fn connection_made(&mut self, transport: &Transport) {
        self.framed.connection_made(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        self.framed.data_received(data);
    }

    fn connection_lost(&mut self, reason: Failure) {
        self.framed.connection_lost(reason);
    }

    fn read_connection_lost(&mut self) -> HalfClose {
        self.framed.read_connection_lost()
    }

    fn reading_resumed(&mut self) {
        self.framed.reading_resumed();
    }

    fn protocol_name(&self) -> &'static str {
        "AMP"
    }
}

impl fmt::Debug for AmpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmpProtocol")
            .field("amp", self.amp())
            .field("buffered", &self.framed.buffered())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::python_bytes;

    #[test]
    fn command_names_are_shown_as_python_shows_bytes() {
        assert_eq!(python_bytes(b"Sum"), "b'Sum'");
        assert_eq!(python_bytes(b"it's"), "b\"it's\"");
        assert_eq!(python_bytes(b"a'\"\n\xff"), "b'a\\'\"\\n\\xff'");
    }
}
