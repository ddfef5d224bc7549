//! [`BlockingApp`]: a plain blocking function of a request to a response,
//! served from a thread pool (Twisted's `WSGIResource`).
//!
//! The reactor reads the request body (bounded), hands the request to a
//! worker thread, and goes on serving everyone else. The function's
//! response head comes back to the reactor as soon as the function
//! returns; a streamed body ([`BlockingBody::chunks`],
//! [`BlockingBody::writer`]) is then produced on the same worker thread and
//! crosses to the reactor through a small bounded channel:
//!
//! ```text
//!   worker thread                         reactor thread
//!   app(request) -> head  --oneshot-->   response head to hyper
//!   chunk / write()       --channel--->  BodySender::send_data (flow control)
//!   blocks while the channel is full     waits while the client is slow
//! ```
//!
//! So a slow client slows the worker, never the reactor, and a client that
//! goes away stops the worker at its next chunk (`write` fails with
//! `BrokenPipe`; an iterator is dropped). A panic in the function before
//! the head is a 500; after it, the response is cut off. Either way it is
//! logged and the pool keeps its thread.

use std::fmt;
use std::io;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use bytes::Bytes;
use torsion::threads::{ThreadPool, defer_to_thread_pool_result};
use torsion::{Deferred, Failure, Reactor};

use crate::request_ext::into_parts_keeping_connection;
use crate::respond::{DEFAULT_BODY_LIMIT, read_limited};
use crate::{Body, Reply, Request, Resource, Response};

/// A request as a blocking function sees it: the whole body read.
pub type BlockingRequest = http::Request<Bytes>;

/// What a blocking function answers.
pub type BlockingResponse = http::Response<BlockingBody>;

/// How many chunks may wait between a worker and the reactor before the
/// worker blocks.
const CHANNEL_CHUNKS: usize = 8;

/// How many bytes the response body queues for the connection before the
/// reactor side stops taking chunks from the worker.
const BODY_CAPACITY: usize = 64 * 1024;

type Chunk = Result<Bytes, String>;

/// The body of a [`BlockingResponse`]: whole, or produced on the worker
/// thread after the head has been sent.
///
/// ```
/// use std::io::Write;
/// use torsion_web::{BlockingBody, BlockingResponse};
///
/// let whole = BlockingResponse::new(BlockingBody::from("hello\n"));
/// let counted = BlockingResponse::new(BlockingBody::chunks(
///     (1..=3).map(|n| format!("line {n}\n")),
/// ));
/// let written = BlockingResponse::new(BlockingBody::writer(|out| {
///     for n in 1..=3 {
///         writeln!(out, "line {n}")?;
///     }
///     Ok(())
/// }));
/// # let _ = (whole, counted, written);
/// ```
pub struct BlockingBody {
    kind: Kind,
}

type WriteFn = Box<dyn FnOnce(&mut BodyWriter) -> io::Result<()> + Send>;

enum Kind {
    Full(Bytes),
    Chunks(Box<dyn Iterator<Item = Bytes> + Send>),
    Writer(WriteFn),
}

impl BlockingBody {
    /// A body with nothing in it.
    pub fn empty() -> BlockingBody {
        BlockingBody::from(Bytes::new())
    }

    /// A body streamed from an iterator run on the worker thread, one chunk
    /// at a time (WSGI's iterable). The iterator is dropped when the client
    /// goes away.
    pub fn chunks<I>(chunks: I) -> BlockingBody
    where
        I: IntoIterator + 'static,
        I::Item: Into<Bytes>,
        I::IntoIter: Send,
    {
        BlockingBody {
            kind: Kind::Chunks(Box::new(chunks.into_iter().map(Into::into))),
        }
    }

    /// A body written by `write` on the worker thread through a
    /// [`BodyWriter`] (`std::io::Write`; wrap it in a `BufWriter` for many
    /// small writes). An `Err` from `write` cuts the response off.
    pub fn writer(
        write: impl FnOnce(&mut BodyWriter) -> io::Result<()> + Send + 'static,
    ) -> BlockingBody {
        BlockingBody {
            kind: Kind::Writer(Box::new(write)),
        }
    }
}

impl From<Bytes> for BlockingBody {
    fn from(bytes: Bytes) -> BlockingBody {
        BlockingBody {
            kind: Kind::Full(bytes),
        }
    }
}

impl From<Vec<u8>> for BlockingBody {
    fn from(bytes: Vec<u8>) -> BlockingBody {
        BlockingBody::from(Bytes::from(bytes))
    }
}

impl From<String> for BlockingBody {
    fn from(text: String) -> BlockingBody {
        BlockingBody::from(Bytes::from(text))
    }
}

impl From<&'static str> for BlockingBody {
    fn from(text: &'static str) -> BlockingBody {
        BlockingBody::from(Bytes::from_static(text.as_bytes()))
    }
}

impl fmt::Debug for BlockingBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Full(bytes) => return f.debug_tuple("BlockingBody").field(&bytes.len()).finish(),
            Kind::Chunks(_) => "chunks",
            Kind::Writer(_) => "writer",
        };
        f.debug_tuple("BlockingBody").field(&kind).finish()
    }
}

/// Writes a streamed response body from a worker thread. `write` blocks
/// while the response is backed up (the client reads slowly), and fails
/// with [`io::ErrorKind::BrokenPipe`] once the client has gone.
pub struct BodyWriter {
    chunks: tokio::sync::mpsc::Sender<Chunk>,
}

impl io::Write for BodyWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.chunks
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client has gone"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl fmt::Debug for BodyWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyWriter")
            .field("closed", &self.chunks.is_closed())
            .finish()
    }
}

type App = dyn Fn(BlockingRequest) -> BlockingResponse + Send + Sync;

/// A blocking function served as a [`Resource`]: each request runs on a
/// thread of a pool, never on the reactor. See the [module docs](crate::blocking_app).
///
/// ```no_run
/// use std::time::Duration;
/// use torsion::Reactor;
/// use torsion::endpoints::server_from_string;
/// use torsion_web::{BlockingApp, BlockingRequest, BlockingResponse, Server};
///
/// let reactor = Reactor::new()?;
/// let app = BlockingApp::new(|request: BlockingRequest| {
///     std::thread::sleep(Duration::from_millis(50)); // a blocking database call, say
///     BlockingResponse::new(format!("{} bytes received\n", request.body().len()).into())
/// });
/// let endpoint = server_from_string(&reactor, "tcp:8080:interface=127.0.0.1")?;
/// drop(Server::new(app).listen(&reactor, &endpoint));
/// reactor.run()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct BlockingApp {
    app: Arc<App>,
    pool: Option<ThreadPool>,
    body_limit: u64,
}

impl BlockingApp {
    /// Serves `app` on the reactor's thread pool
    /// ([`Reactor::thread_pool`], up to 10 threads unless adjusted), with
    /// request bodies up to [`DEFAULT_BODY_LIMIT`] bytes (larger is a 413).
    pub fn new(
        app: impl Fn(BlockingRequest) -> BlockingResponse + Send + Sync + 'static,
    ) -> BlockingApp {
        BlockingApp {
            app: Arc::new(app),
            pool: None,
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }

    /// Runs the function on `pool` instead of the reactor's pool.
    pub fn pool(mut self, pool: ThreadPool) -> BlockingApp {
        self.pool = Some(pool);
        self
    }

    /// Accepts request bodies up to `limit` bytes.
    pub fn body_limit(mut self, limit: u64) -> BlockingApp {
        self.body_limit = limit;
        self
    }

    async fn serve(self, reactor: Reactor, request: Request) -> Result<Response, Failure> {
        let limit = self.body_limit;
        let (parts, body) = into_parts_keeping_connection(request);
        let bytes = match read_limited(&parts.headers, body, limit).await {
            Ok(bytes) => bytes,
            Err(error) => return Ok(error.into_response()),
        };
        let request = http::Request::from_parts(parts, bytes);

        let (head_tx, head_rx) = tokio::sync::oneshot::channel();
        let pool = self.pool.unwrap_or_else(|| reactor.thread_pool());
        let app = self.app;
        let done = defer_to_thread_pool_result(&reactor, &pool, move || {
            run_on_worker(&*app, request, head_tx)
        });
        // Until the head arrives, a client that goes away (hyper drops this
        // future) cancels the job if no worker has started it yet.
        let mut pending = CancelOnDrop(Some(done));
        let Ok((parts, body)) = head_rx.await else {
            let done = pending.0.take().expect("still pending");
            done.await?;
            return Err(Failure::msg("the blocking function returned no response"));
        };
        let done = pending.0.take().expect("still pending");
        let body = match body {
            Head::Full(bytes) => Body::from(bytes),
            Head::Streamed(chunks) => {
                let (sender, body) = Body::channel(BODY_CAPACITY);
                drop(reactor.spawn(pump(chunks, sender, done)));
                body
            }
        };
        Ok(Response::from_parts(parts, body))
    }
}

struct CancelOnDrop(Option<Deferred<()>>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(deferred) = self.0.take() {
            deferred.cancel();
        }
    }
}

/// The body as the reactor gets it with the head.
enum Head {
    Full(Bytes),
    Streamed(tokio::sync::mpsc::Receiver<Chunk>),
}

type HeadSender = tokio::sync::oneshot::Sender<(http::response::Parts, Head)>;

/// On the worker: calls the app, sends the head, then produces a streamed
/// body. A panic before the head fails the job (a 500); a panic while
/// streaming aborts the body and fails the job too, so it is logged.
fn run_on_worker(app: &App, request: BlockingRequest, head: HeadSender) -> Result<(), Failure> {
    let (parts, body) = app(request).into_parts();
    let produce: WriteFn = match body.kind {
        Kind::Full(bytes) => {
            let _ = head.send((parts, Head::Full(bytes)));
            return Ok(());
        }
        Kind::Chunks(chunks) => Box::new(move |writer: &mut BodyWriter| {
            for chunk in chunks {
                if chunk.is_empty() {
                    continue;
                }
                if writer.chunks.blocking_send(Ok(chunk)).is_err() {
                    break; // the client has gone: stop iterating
                }
            }
            Ok(())
        }),
        Kind::Writer(write) => write,
    };
    let (sender, receiver) = tokio::sync::mpsc::channel(CHANNEL_CHUNKS);
    if head.send((parts, Head::Streamed(receiver))).is_err() {
        return Ok(()); // the client went away before the head
    }
    let mut writer = BodyWriter { chunks: sender };
    match std::panic::catch_unwind(AssertUnwindSafe(|| produce(&mut writer))) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Ok(Err(error)) => {
            let _ = writer.chunks.blocking_send(Err(error.to_string()));
            Err(Failure::new(error))
        }
        Err(payload) => {
            let failure = Failure::from_panic(payload);
            let _ = writer.chunks.blocking_send(Err(failure.to_string()));
            Err(failure)
        }
    }
}

/// On the reactor: moves chunks from the worker into the response body,
/// taking the next only when the connection has room for it.
async fn pump(
    mut chunks: tokio::sync::mpsc::Receiver<Chunk>,
    sender: crate::BodySender,
    done: Deferred<()>,
) -> Result<(), Failure> {
    while let Some(chunk) = chunks.recv().await {
        match chunk {
            Ok(bytes) => {
                if sender.send_data(bytes).await.is_err() {
                    // Dropping the receiver makes the worker's next send
                    // fail, so it stops producing.
                    drop(chunks);
                    break;
                }
            }
            Err(reason) => {
                sender.abort(format!("the blocking function failed: {reason}"));
                break;
            }
        }
    }
    if let Err(failure) = done.await {
        tracing::error!(%failure, "a blocking function failed while streaming its response");
    }
    Ok(())
}

impl Resource for BlockingApp {
    fn handle(&self, request: Request) -> Reply {
        let Some(reactor) = Reactor::current() else {
            return Reply::failed(Failure::msg(
                "a BlockingApp must be called on a reactor thread",
            ));
        };
        Reply::later(self.clone().serve(reactor, request))
    }
}

impl fmt::Debug for BlockingApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingApp")
            .field("pool", &self.pool)
            .field("body_limit", &self.body_limit)
            .finish_non_exhaustive()
    }
}
