//! [`StaticFiles`]: serves a directory, like `twistd web --path` (twisted.web's
//! `File` resource).
//!
//! A request goes through three steps:
//!
//! ```text
//!   reactor thread          worker thread (the reactor's pool)        reactor thread
//!   check the URL path  ->  resolve under the root, open, stat,   ->  send the plan:
//!   (no `..`, `%2f`, ...)   ETag / conditions / Range -> Plan         bytes, or a file
//!                                                                      streamed by chunks
//! ```
//!
//! All file-system calls block, so none of them runs on the reactor thread.
//! Large files are never read whole: they stream through a flow-controlled
//! [`Body::channel`](crate::Body::channel), 64 KiB reads on the thread pool,
//! one read ahead of the socket, and stop when the client goes away.

mod conditional;
mod listing;
mod plan;
pub(crate) mod range;
pub(crate) mod request_path;
mod stream;

use std::fmt;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use http::{Method, StatusCode};
use torsion::{Failure, Reactor};

use crate::{Body, Reply, Request, Resource, Response};
use conditional::Conditions;
use plan::{Facts, Plan, PlannedBody};
use range::Piece;
use request_path::RequestPath;

/// How many bytes a streamed file is read at a time, by default.
pub const DEFAULT_CHUNK_SIZE: usize = 64 * 1024;

/// Serves the files under a directory: content types from the file name,
/// ETag and Last-Modified with conditional requests (304, 412), byte ranges
/// (206, `multipart/byteranges`, 416), HEAD, `index.html` for directories,
/// and an optional HTML listing. No request reaches outside the directory:
/// `..` and its encodings, encoded slashes, backslashes, NUL and invalid
/// UTF-8 are refused (404), and a symlink leading out of the directory is
/// treated as missing. Hidden files, whose name or one of whose directories'
/// names starts with a dot (`.git/config`, `.env`), are treated as missing
/// and left out of listings unless [`with_hidden_files`](Self::with_hidden_files)
/// says otherwise.
///
/// ```no_run
/// use torsion::Reactor;
/// use torsion::endpoints::server_from_string;
/// use torsion_web::{Server, StaticFiles};
///
/// let reactor = Reactor::new()?;
/// let files = StaticFiles::new("public").with_listing(true);
/// let endpoint = server_from_string(&reactor, "tcp:8080:interface=127.0.0.1")?;
/// drop(Server::new(files).listen(&reactor, &endpoint));
/// reactor.run()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct StaticFiles {
    settings: Arc<Settings>,
}

/// What a [`StaticFiles`] was set up with; shared with worker threads.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) root: PathBuf,
    pub(crate) listing: bool,
    pub(crate) index_files: Vec<String>,
    pub(crate) chunk_size: usize,
    pub(crate) hidden_files: bool,
}

impl StaticFiles {
    /// Serves the directory `root` (which need not exist yet: until it does,
    /// every request gets 404). Directory listings are off; `index.html` is
    /// the index file.
    pub fn new(root: impl Into<PathBuf>) -> StaticFiles {
        StaticFiles {
            settings: Arc::new(Settings {
                root: root.into(),
                listing: false,
                index_files: vec!["index.html".to_owned()],
                chunk_size: DEFAULT_CHUNK_SIZE,
                hidden_files: false,
            }),
        }
    }

    /// Lists a directory that has no index file (otherwise: 403).
    pub fn with_listing(self, listing: bool) -> StaticFiles {
        self.configure(|settings| settings.listing = listing)
    }

    /// Serves hidden files (dot files, and what dot directories hold) and
    /// lists them. Off by default: a served working copy would otherwise
    /// give away `.git/` and `.env`.
    pub fn with_hidden_files(self, shown: bool) -> StaticFiles {
        self.configure(|settings| settings.hidden_files = shown)
    }

    /// The file names tried, in order, when a directory is asked for
    /// (default `["index.html"]`; empty for none).
    pub fn with_index_files<I, S>(self, names: I) -> StaticFiles
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let names = names.into_iter().map(Into::into).collect();
        self.configure(|settings| settings.index_files = names)
    }

    /// How many bytes are read at a time when a file is streamed (default
    /// [`DEFAULT_CHUNK_SIZE`]); files up to this size are sent in one piece.
    pub fn with_chunk_size(self, bytes: usize) -> StaticFiles {
        self.configure(|settings| settings.chunk_size = bytes.max(1))
    }

    /// The directory served.
    pub fn root(&self) -> &std::path::Path {
        &self.settings.root
    }

    fn configure(self, change: impl FnOnce(&mut Settings)) -> StaticFiles {
        let mut settings = Settings {
            root: self.settings.root.clone(),
            listing: self.settings.listing,
            index_files: self.settings.index_files.clone(),
            chunk_size: self.settings.chunk_size,
            hidden_files: self.settings.hidden_files,
        };
        change(&mut settings);
        StaticFiles {
            settings: Arc::new(settings),
        }
    }
}

impl Resource for StaticFiles {
    fn handle(&self, request: Request) -> Reply {
        let head = match *request.method() {
            Method::GET => false,
            Method::HEAD => true,
            _ => return respond_now(Plan::error(StatusCode::METHOD_NOT_ALLOWED)),
        };
        let path = match RequestPath::parse(request.uri().path()) {
            Ok(path) => path,
            Err(rejected) => {
                tracing::debug!(
                    path = request.uri().path(),
                    ?rejected,
                    "refused a request path"
                );
                return respond_now(Plan::error(StatusCode::NOT_FOUND));
            }
        };
        let Some(reactor) = Reactor::current() else {
            return Reply::failed(Failure::msg("StaticFiles needs a running reactor"));
        };
        let facts = Facts {
            path,
            query: request.uri().query().map(str::to_owned),
            head,
            conditions: Conditions::from_headers(request.headers()),
            range: request
                .headers()
                .get(http::header::RANGE)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned),
        };
        let settings = self.settings.clone();
        let chunk_size = settings.chunk_size;
        let planned = reactor.defer_to_thread(move || plan::plan(&settings, &facts));
        Reply::later(async move {
            let plan = planned.await?;
            Ok::<_, Failure>(into_response(plan, |file, pieces| {
                stream::file_body(&reactor, file, pieces, chunk_size)
            }))
        })
    }
}

/// A plan made without the file system (a refused method or path).
fn respond_now(plan: Plan) -> Reply {
    Reply::from(into_response(plan, |_, _| Body::empty()))
}

fn into_response(plan: Plan, file_body: impl FnOnce(File, Vec<Piece>) -> Body) -> Response {
    let body = match plan.body {
        PlannedBody::Empty => Body::empty(),
        PlannedBody::Bytes(bytes) => Body::from(bytes),
        PlannedBody::File { file, pieces } => file_body(file, pieces),
    };
    let mut response = Response::new(body);
    *response.status_mut() = plan.status;
    *response.headers_mut() = plan.headers;
    response
}

impl fmt::Debug for StaticFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticFiles")
            .field("root", &self.settings.root)
            .field("listing", &self.settings.listing)
            .field("index_files", &self.settings.index_files)
            .finish_non_exhaustive()
    }
}
