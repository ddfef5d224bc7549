//! [`ClientProtocol`]: a client connection, an [`IrcCodec`] on the core's
//! framing layer with a handler that dispatches each message.

use std::fmt;

use torsion::Failure;
use torsion::net::{HalfClose, Protocol, Transport};
use torsion::protocols::{FrameContext, FrameHandler, FramedProtocol};

use super::{ClientHandler, IrcClient, dispatch};
use crate::{IrcCodec, IrcError};

/// The protocol an IRC client connection runs, made by
/// [`IrcClient::new`]: give it to an endpoint's `connect`, or to
/// [`StringTransport::make_connection`](torsion::testing::StringTransport::make_connection)
/// in a test.
pub struct ClientProtocol<H> {
    framed: FramedProtocol<IrcCodec, Frames<H>>,
}

/// The framing layer's handler: the client handle and the user's handler.
struct Frames<H> {
    client: IrcClient,
    handler: H,
}

impl<H: ClientHandler> ClientProtocol<H> {
    pub(super) fn new(client: IrcClient, handler: H) -> ClientProtocol<H> {
        ClientProtocol {
            framed: FramedProtocol::new(IrcCodec::new(), Frames { client, handler }),
        }
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.framed.handler().handler
    }

    /// The handler, mutably.
    pub fn handler_mut(&mut self) -> &mut H {
        &mut self.framed.handler_mut().handler
    }

    /// The client handle.
    pub fn client(&self) -> &IrcClient {
        &self.framed.handler().client
    }
}

impl<H: ClientHandler> FrameHandler<IrcCodec> for Frames<H> {
    fn connection_made(&mut self, ctx: &mut FrameContext<'_, IrcCodec>) {
        if let Some(transport) = ctx.transport() {
            self.client.connected(transport.clone());
        }
    }

    fn frame_received(&mut self, ctx: &mut FrameContext<'_, IrcCodec>, message: crate::Message) {
        if !dispatch::dispatch(&self.client, &mut self.handler, &message) {
            ctx.lose_connection();
        }
    }

    /// A line too long or malformed is the server's mistake, not worth the
    /// connection: it is logged and skipped, as Twisted's client does.
    fn decode_error(&mut self, ctx: &mut FrameContext<'_, IrcCodec>, error: IrcError) {
        match error {
            IrcError::Io(_) => ctx.lose_connection(),
            error => tracing::warn!(%error, "skipped a line from the IRC server"),
        }
    }

    fn connection_lost(&mut self, _ctx: &mut FrameContext<'_, IrcCodec>, reason: Failure) {
        self.client.disconnected();
        self.handler.connection_lost(&self.client, &reason);
    }
}

impl<H: ClientHandler> Protocol for ClientProtocol<H> {
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
        "irc client"
    }
}

impl<H> fmt::Debug for ClientProtocol<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientProtocol")
            .field("client", &self.framed.handler().client)
            .finish()
    }
}
