//! [`WebSocketResource`]: the server side, a [`Resource`] that upgrades a
//! request to a WebSocket and serves it with a protocol of its own.

use std::fmt;
use std::future::Future;
use std::rc::Rc;

use http::StatusCode;
use torsion::{Failure, Reactor};
use tungstenite::protocol::Role;

use super::handle::Details;
use super::handshake::{accept, refusal};
use super::messages::{Messages, QueueProtocol, spawn_handler};
use super::{WebSocket, WebSocketOptions, WebSocketProtocol};
use crate::{Reply, Request, Resource, upgrade};

type Factory = dyn Fn(&WebSocketOptions) -> Box<dyn WebSocketProtocol>;

/// Serves WebSockets: answers a valid upgrade request with
/// `101 Switching Protocols` and serves the connection with a protocol
/// made for it by the factory (Twisted's `Factory.buildProtocol`).
///
/// A request that is not a valid upgrade is refused with a plain-text body
/// naming the problem: 405 for a method other than GET, 426 (Upgrade
/// Required) without `Upgrade: websocket` or with a WebSocket version other
/// than 13, and 400 for a missing `Connection: Upgrade` or a missing or
/// malformed `Sec-WebSocket-Key`.
///
/// ```
/// use torsion_web::websocket::{Message, WebSocket, WebSocketOptions, WebSocketProtocol, WebSocketResource};
///
/// struct Shout(Option<WebSocket>);
///
/// impl WebSocketProtocol for Shout {
///     fn opened(&mut self, ws: &WebSocket) {
///         self.0 = Some(ws.clone());
///     }
///     fn message_received(&mut self, message: Message) {
///         if let (Some(ws), Some(text)) = (&self.0, message.as_text()) {
///             let _ = ws.send_text(text.to_uppercase());
///         }
///     }
/// }
///
/// let resource = WebSocketResource::new(|| Shout(None))
///     .subprotocols(["shout.v1"])
///     .options(WebSocketOptions::default().max_message_size(64 * 1024));
/// # drop(resource);
/// ```
pub struct WebSocketResource {
    factory: Rc<Factory>,
    subprotocols: Vec<String>,
    options: WebSocketOptions,
}

impl WebSocketResource {
    /// Serves each connection with a protocol made by `factory`.
    pub fn new<P, F>(factory: F) -> WebSocketResource
    where
        P: WebSocketProtocol,
        F: Fn() -> P + 'static,
    {
        WebSocketResource {
            factory: Rc::new(move |_: &WebSocketOptions| {
                Box::new(factory()) as Box<dyn WebSocketProtocol>
            }),
            subprotocols: Vec::new(),
            options: WebSocketOptions::default(),
        }
    }

    /// Serves each connection with an async function of its handle and its
    /// stream of messages. When the function returns, the connection is
    /// closed (1000) if it is still open; if it panics, closed with 1011.
    ///
    /// ```
    /// use torsion_web::websocket::{Message, WebSocketResource};
    ///
    /// let echo = WebSocketResource::from_async(|ws, mut messages| async move {
    ///     while let Some(message) = messages.next().await {
    ///         if ws.ready().await.is_err() || ws.send(message).is_err() {
    ///             break;
    ///         }
    ///     }
    /// });
    /// # drop(echo);
    /// ```
    pub fn from_async<F, Fut>(handler: F) -> WebSocketResource
    where
        F: Fn(WebSocket, Messages) -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        WebSocketResource {
            factory: async_factory(handler),
            subprotocols: Vec::new(),
            options: WebSocketOptions::default(),
        }
    }

    /// The subprotocols this resource speaks, most preferred first. The
    /// first one the client also offers is chosen; when none matches, the
    /// connection is accepted with no subprotocol (as RFC 6455 allows; the
    /// client may then close).
    pub fn subprotocols<I, S>(mut self, subprotocols: I) -> WebSocketResource
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.subprotocols = subprotocols.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the connections' limits and timeouts.
    pub fn options(mut self, options: WebSocketOptions) -> WebSocketResource {
        self.options = options;
        self
    }
}

/// The factory of an async resource: each protocol queues messages and, once
/// open, runs the handler on the reactor.
fn async_factory<F, Fut>(handler: F) -> Rc<Factory>
where
    F: Fn(WebSocket, Messages) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let handler = Rc::new(handler);
    Rc::new(move |options: &WebSocketOptions| {
        let handler = handler.clone();
        let (protocol, messages) = QueueProtocol::new(options.max_queued_messages);
        let protocol = protocol.on_open(move |ws: &WebSocket| {
            spawn_handler(ws.clone(), handler(ws.clone(), messages));
        });
        Box::new(protocol) as Box<dyn WebSocketProtocol>
    })
}

impl Resource for WebSocketResource {
    fn handle(&self, mut request: Request) -> Reply {
        let accepted = match accept(&request, &self.subprotocols) {
            Ok(accepted) => accepted,
            Err(refused) => return (*refused).into(),
        };
        let Some(reactor) = Reactor::current() else {
            return Reply::failed(Failure::msg(
                "a WebSocket was accepted off a reactor thread",
            ));
        };
        if !upgrade::is_switchable(&request) {
            tracing::error!("a WebSocket upgrade arrived on a connection that cannot be upgraded");
            return refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "this connection cannot be upgraded to a WebSocket",
            )
            .into();
        }
        let switched = match upgrade::switched(&request) {
            Some(switched) => Switch::Native(switched),
            None => Switch::Hyper(hyper::upgrade::on(&mut request)),
        };
        let (parts, _body) = request.into_parts();
        let details = Details {
            uri: parts.uri,
            headers: parts.headers,
            subprotocol: accepted.subprotocol,
        };
        let protocol = (self.factory)(&self.options);
        let options = self.options.clone();
        let r = reactor.clone();
        drop(reactor.spawn(async move {
            let stream = match switched {
                Switch::Native(switched) => match switched.await {
                    Ok(handover) => handover,
                    Err(failure) => {
                        // The client went away before the switch.
                        tracing::debug!(%failure, "a WebSocket upgrade did not complete");
                        return Ok(());
                    }
                },
                Switch::Hyper(on_upgrade) => {
                    let upgraded = match on_upgrade.await {
                        Ok(upgraded) => upgraded,
                        Err(error) => {
                            tracing::debug!(%error, "a WebSocket upgrade did not complete");
                            return Ok(());
                        }
                    };
                    let Some(stream) = upgrade::hand_over(upgraded) else {
                        return Err(Failure::msg(
                            "the upgraded connection was not served through an UpgradableStream",
                        ));
                    };
                    stream
                }
            };
            WebSocket::start(&r, stream, Role::Server, options, details, protocol);
            Ok::<(), Failure>(())
        }));
        accepted.response.into()
    }
}

impl fmt::Debug for WebSocketResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketResource")
            .field("subprotocols", &self.subprotocols)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// How an accepted upgrade's connection comes: from the server's own
/// HTTP/1 connection, or from hyper's.
enum Switch {
    Native(torsion::Deferred<upgrade::Handover>),
    Hyper(hyper::upgrade::OnUpgrade),
}
