//! [`TowerResource`]: any `tower::Service` over `http` requests served as a
//! torsion [`Resource`], so an axum `Router` (or a tonic-free tower stack)
//! runs on the reactor, on hyper over torsion's sockets.
//!
//! The service is called on the reactor thread. Bodies cross in both
//! directions with flow control: the request body is handed to the service
//! as a [`TowerBody`] (`Send`, as axum requires) fed from the connection,
//! and a streamed response body is fed back into the connection as the
//! client takes it. A known-length response body up to 1 MiB is collected
//! first, so it keeps its `content-length`.
//!
//! **No tokio runtime is needed** for services that only compute, await
//! their request body, or await torsion Deferreds: axum's routing,
//! extractors and `Json` do not touch tokio's runtime. A service that uses
//! tokio's *runtime* parts (`tokio::time::sleep`, `tokio::net`,
//! `tokio::spawn`, `spawn_blocking`) panics without one ("there is no
//! reactor running"); such a panic is caught and answered with a 500. Give
//! those services a runtime with [`TowerResource::tokio_handle`]: its
//! context is entered each time the service's futures are polled, and the
//! runtime's own threads drive its timers and sockets, waking the reactor
//! when they fire.

use std::error::Error as StdError;
use std::fmt;
use std::future::{Future, poll_fn};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http_body::{Frame, SizeHint};
use tower_service::Service;

use torsion::{Failure, Reactor};

use crate::request_ext::into_parts_keeping_connection;
use crate::{Body, BodyError, Reply, Request, Resource, Response};

/// A response body of a known length up to this is collected before the
/// response is sent, so that it goes out with a `content-length`.
const COLLECT_LIMIT: u64 = 1024 * 1024;

/// Chunks queued between the connection and the service.
const CHANNEL_CHUNKS: usize = 8;

/// Bytes the response body queues for the connection before the service's
/// body is polled again.
const BODY_CAPACITY: usize = 64 * 1024;

type BoxError = Box<dyn StdError + Send + Sync>;

/// Serves a `tower::Service` (an axum `Router`, a `service_fn`) as a
/// [`Resource`]. See the [module docs](crate::tower) on tokio.
///
/// ```no_run
/// use torsion::Reactor;
/// use torsion::endpoints::server_from_string;
/// use torsion_web::{Server, TowerResource};
///
/// let reactor = Reactor::new()?;
/// let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello from axum\n" }));
/// let endpoint = server_from_string(&reactor, "tcp:8080:interface=127.0.0.1")?;
/// drop(Server::new(TowerResource::new(app)).listen(&reactor, &endpoint));
/// reactor.run()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TowerResource<S> {
    service: S,
    tokio: Option<tokio::runtime::Handle>,
}

impl<S> TowerResource<S> {
    /// Serves `service`; each request is answered by a clone of it.
    pub fn new(service: S) -> TowerResource<S> {
        TowerResource {
            service,
            tokio: None,
        }
    }

    /// Polls the service's futures and bodies inside `handle`'s runtime
    /// context, for services that use tokio's timers, sockets or spawn.
    /// Keep that runtime running (a multi-thread runtime, or a
    /// current-thread one driven by a thread of its own) while serving.
    pub fn tokio_handle(mut self, handle: tokio::runtime::Handle) -> TowerResource<S> {
        self.tokio = Some(handle);
        self
    }
}

impl<S, ResBody> Resource for TowerResource<S>
where
    S: Service<http::Request<TowerBody>, Response = http::Response<ResBody>> + Clone + 'static,
    S::Error: Into<BoxError>,
    S::Future: 'static,
    ResBody: http_body::Body + 'static,
    ResBody::Error: Into<BoxError>,
{
    fn handle(&self, request: Request) -> Reply {
        let Some(reactor) = Reactor::current() else {
            return Reply::failed(Failure::msg(
                "a TowerResource must be called on a reactor thread",
            ));
        };
        let mut service = self.service.clone();
        let tokio = self.tokio.clone();
        let (parts, body) = into_parts_keeping_connection(request);
        let request = http::Request::from_parts(parts, TowerBody::feed(&reactor, body));
        let answer = async move {
            poll_fn(|cx| service.poll_ready(cx))
                .await
                .map_err(|error| Failure::from_boxed(error.into()))?;
            let response = service
                .call(request)
                .await
                .map_err(|error| Failure::from_boxed(error.into()))?;
            into_response(&reactor, response, tokio).await
        };
        Reply::later(Guarded {
            future: Box::pin(answer),
            tokio: self.tokio.clone(),
        })
    }
}

/// The service's response with its body turned into a torsion [`Body`].
async fn into_response<B>(
    reactor: &Reactor,
    response: http::Response<B>,
    tokio: Option<tokio::runtime::Handle>,
) -> Result<Response, Failure>
where
    B: http_body::Body + 'static,
    B::Error: Into<BoxError>,
{
    let (parts, body) = response.into_parts();
    if body.is_end_stream() {
        return Ok(Response::from_parts(parts, Body::empty()));
    }
    let mut body = Box::pin(body);
    if body.size_hint().exact().is_some_and(|n| n <= COLLECT_LIMIT) {
        let mut whole = Vec::new();
        while let Some(frame) = poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
            let frame = frame.map_err(|error| Failure::from_boxed(error.into()))?;
            if let Ok(mut data) = frame.into_data() {
                whole.extend_from_slice(&data.copy_to_bytes(data.remaining()));
            }
        }
        return Ok(Response::from_parts(parts, Body::from(whole)));
    }
    let (sender, streamed) = Body::channel(BODY_CAPACITY);
    let pump = async move {
        loop {
            // A panic must cut the response off, not end it as if complete.
            let frame = poll_fn(|cx| {
                let _entered = tokio.as_ref().map(|handle| handle.enter());
                match std::panic::catch_unwind(AssertUnwindSafe(|| body.as_mut().poll_frame(cx))) {
                    Ok(Poll::Pending) => Poll::Pending,
                    Ok(Poll::Ready(frame)) => Poll::Ready(
                        frame.map(|frame| frame.map_err(|error| error.into().to_string())),
                    ),
                    Err(payload) => {
                        Poll::Ready(Some(Err(Failure::from_panic(payload).to_string())))
                    }
                }
            })
            .await;
            match frame {
                None => break,
                Some(Err(reason)) => {
                    tracing::error!(%reason, "a tower service's response body failed");
                    sender.abort(format!("the service's body failed: {reason}"));
                    break;
                }
                Some(Ok(frame)) => {
                    if let Ok(mut data) = frame.into_data()
                        && sender
                            .send_data(data.copy_to_bytes(data.remaining()))
                            .await
                            .is_err()
                    {
                        break; // the client has gone
                    }
                }
            }
        }
        Ok::<(), Failure>(())
    };
    drop(reactor.spawn(pump));
    Ok(Response::from_parts(parts, streamed))
}

/// The service's future, polled inside the tokio context if one was given,
/// with a panic turned into a failure (a 500) instead of a dead connection.
struct Guarded<F> {
    future: Pin<Box<F>>,
    tokio: Option<tokio::runtime::Handle>,
}

impl<F: Future<Output = Result<Response, Failure>>> Future for Guarded<F> {
    type Output = Result<Response, Failure>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let _entered = this.tokio.as_ref().map(|handle| handle.enter());
        std::panic::catch_unwind(AssertUnwindSafe(|| this.future.as_mut().poll(cx)))
            .unwrap_or_else(|payload| Poll::Ready(Err(Failure::from_panic(payload))))
    }
}

impl<S> fmt::Debug for TowerResource<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TowerResource")
            .field("service", &std::any::type_name::<S>())
            .field("tokio", &self.tokio.is_some())
            .finish()
    }
}

/// The request body a tower service gets: `Send`, fed with flow control
/// from the connection by a task on the reactor.
pub struct TowerBody {
    chunks: Option<tokio::sync::mpsc::Receiver<Result<Bytes, BodyError>>>,
    size: SizeHint,
}

impl TowerBody {
    fn feed(reactor: &Reactor, mut body: Body) -> TowerBody {
        let size = http_body::Body::size_hint(&body);
        if size.exact() == Some(0) {
            return TowerBody { chunks: None, size };
        }
        let (sender, receiver) = tokio::sync::mpsc::channel(CHANNEL_CHUNKS);
        drop(reactor.spawn(async move {
            while let Some(chunk) = body.chunk().await {
                let failed = chunk.is_err();
                // A service that stops reading drops the receiver: stop.
                if sender.send(chunk).await.is_err() || failed {
                    break;
                }
            }
            Ok::<(), Failure>(())
        }));
        TowerBody {
            chunks: Some(receiver),
            size,
        }
    }
}

impl http_body::Body for TowerBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        let Some(chunks) = &mut this.chunks else {
            return Poll::Ready(None);
        };
        match std::task::ready!(chunks.poll_recv(cx)) {
            Some(chunk) => Poll::Ready(Some(chunk.map(Frame::data))),
            None => {
                this.chunks = None;
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        self.size
    }
}

impl fmt::Debug for TowerBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TowerBody")
            .field("finished", &self.chunks.is_none())
            .finish()
    }
}
