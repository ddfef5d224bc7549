//! Deciding the answer to one request: find the file (never outside the
//! root), evaluate the conditional headers and the Range, and say what to
//! send. Everything here is blocking file-system work, so it runs on a
//! worker thread and hands back a [`Plan`] the reactor only has to send.

use std::fs::File;
use std::hash::{BuildHasher, RandomState};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use http::StatusCode;
use http::header::{self, HeaderMap, HeaderValue};

use super::Settings;
use super::conditional::{Conditions, Outcome, Validators};
use super::listing;
use super::range::{self, ByteRange, Piece, RangeRequest};
use super::request_path::RequestPath;

/// What the plan needs to know of a request; `Send`, so it can travel to a
/// worker thread.
#[derive(Debug)]
pub(crate) struct Facts {
    pub(crate) path: RequestPath,
    pub(crate) query: Option<String>,
    pub(crate) head: bool,
    pub(crate) conditions: Conditions,
    pub(crate) range: Option<String>,
}

/// The answer, ready to send.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: PlannedBody,
}

/// Where the body comes from.
#[derive(Debug)]
pub(crate) enum PlannedBody {
    Empty,
    Bytes(Bytes),
    /// Pieces streamed from the open file (large bodies only).
    File {
        file: File,
        pieces: Vec<Piece>,
    },
}

impl Plan {
    pub(crate) fn error(status: StatusCode) -> Plan {
        let mut plan = Plan::text(status, format!("{status}\n"));
        if status == StatusCode::METHOD_NOT_ALLOWED {
            plan.headers
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        }
        plan
    }

    fn text(status: StatusCode, text: String) -> Plan {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        Plan {
            status,
            headers,
            body: PlannedBody::Bytes(Bytes::from(text)),
        }
    }
}

/// Plans the answer to `facts` from the directory in `settings`.
pub(crate) fn plan(settings: &Settings, facts: &Facts) -> Plan {
    let mut plan = locate(settings, facts);
    if facts.head {
        // HEAD: the same headers (Content-Length included), no body.
        plan.body = PlannedBody::Empty;
    }
    plan
}

fn locate(settings: &Settings, facts: &Facts) -> Plan {
    let root = match settings.root.canonicalize() {
        Ok(root) => root,
        Err(error) => {
            tracing::warn!(root = %settings.root.display(), %error, "the served directory cannot be opened");
            return Plan::error(StatusCode::NOT_FOUND);
        }
    };
    let found = match inside(&root, &facts.path.under(&root)) {
        Ok(found) => found,
        Err(status) => return Plan::error(status),
    };
    // Checked on the resolved path, so a symlink to a hidden file hides too.
    if !settings.hidden_files && is_hidden(&root, &found) {
        return Plan::error(StatusCode::NOT_FOUND);
    }
    if !found.is_dir() {
        if facts.path.has_trailing_slash() {
            return Plan::error(StatusCode::NOT_FOUND);
        }
        return serve_file(settings, facts, &found);
    }
    if !facts.path.has_trailing_slash() {
        let mut location = facts.path.directory_url();
        if let Some(query) = &facts.query {
            location.push('?');
            location.push_str(query);
        }
        let mut plan = Plan::text(
            StatusCode::MOVED_PERMANENTLY,
            format!("moved to {location}\n"),
        );
        if let Ok(value) = HeaderValue::try_from(location) {
            plan.headers.insert(header::LOCATION, value);
        }
        return plan;
    }
    for index in &settings.index_files {
        if let Ok(index) = inside(&root, &found.join(index))
            && index.is_file()
            && (settings.hidden_files || !is_hidden(&root, &index))
        {
            return serve_file(settings, facts, &index);
        }
    }
    if !settings.listing {
        return Plan::error(StatusCode::FORBIDDEN);
    }
    match listing::render(&found, &facts.path, settings.hidden_files) {
        Ok(page) => {
            let mut plan = Plan::text(StatusCode::OK, page);
            plan.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            plan
        }
        Err(error) => Plan::error(status_of(&error)),
    }
}

/// Resolves `path` (symlinks included) and checks it is still under `root`.
fn inside(root: &Path, path: &Path) -> Result<PathBuf, StatusCode> {
    let real = path.canonicalize().map_err(|error| status_of(&error))?;
    if real.starts_with(root) {
        Ok(real)
    } else {
        tracing::debug!(path = %path.display(), "a symlink leads out of the served directory");
        Err(StatusCode::NOT_FOUND)
    }
}

/// True when a name below `root` on the way to `path` starts with a dot.
fn is_hidden(root: &Path, path: &Path) -> bool {
    path.strip_prefix(root).is_ok_and(|below| {
        below
            .components()
            .any(|part| part.as_os_str().as_encoded_bytes().starts_with(b"."))
    })
}

fn status_of(error: &io::Error) -> StatusCode {
    match error.kind() {
        io::ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
        _ => StatusCode::NOT_FOUND,
    }
}

fn serve_file(settings: &Settings, facts: &Facts, path: &Path) -> Plan {
    let opened = File::open(path).and_then(|file| {
        let metadata = file.metadata()?;
        Ok((file, metadata))
    });
    let (file, metadata) = match opened {
        Ok(opened) => opened,
        Err(error) => return Plan::error(status_of(&error)),
    };
    if !metadata.is_file() {
        // A FIFO, socket or device: never served (reading could block forever).
        return Plan::error(StatusCode::NOT_FOUND);
    }
    let total = metadata.len();
    let validators = Validators::of(&metadata);
    let content_type = mime_guess::from_path(path)
        .first_or_octet_stream()
        .essence_str()
        .to_owned();

    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, header_value(&validators.etag));
    if let Some(date) = validators.last_modified() {
        headers.insert(header::LAST_MODIFIED, header_value(&date));
    }
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));

    match facts.conditions.evaluate(&validators) {
        Outcome::Proceed => {}
        Outcome::NotModified => {
            return Plan {
                status: StatusCode::NOT_MODIFIED,
                headers,
                body: PlannedBody::Empty,
            };
        }
        Outcome::PreconditionFailed => return Plan::error(StatusCode::PRECONDITION_FAILED),
    }

    let asked = match &facts.range {
        // Range applies to GET only (RFC 9110 §14.2); HEAD describes the whole.
        Some(range) if !facts.head && facts.conditions.range_allowed(&validators) => {
            range::parse(range, total)
        }
        _ => RangeRequest::Ignore,
    };
    let (status, pieces, length) = match asked {
        RangeRequest::Ignore => {
            headers.insert(header::CONTENT_TYPE, header_value(&content_type));
            let whole = ByteRange {
                first: 0,
                last: total.saturating_sub(1),
            };
            let pieces = if total == 0 {
                vec![]
            } else {
                vec![Piece::File(whole)]
            };
            (StatusCode::OK, pieces, total)
        }
        RangeRequest::Unsatisfiable => {
            let mut plan = Plan::error(StatusCode::RANGE_NOT_SATISFIABLE);
            plan.headers.insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes */{total}")),
            );
            return plan;
        }
        RangeRequest::Ranges(ranges) if ranges.len() == 1 => {
            headers.insert(header::CONTENT_TYPE, header_value(&content_type));
            headers.insert(
                header::CONTENT_RANGE,
                header_value(&ranges[0].content_range(total)),
            );
            (
                StatusCode::PARTIAL_CONTENT,
                vec![Piece::File(ranges[0])],
                ranges[0].len(),
            )
        }
        RangeRequest::Ranges(ranges) => {
            let boundary = format!("{:016x}", RandomState::new().hash_one(&validators.etag));
            let (pieces, length) = range::multipart(&ranges, total, &content_type, &boundary);
            headers.insert(
                header::CONTENT_TYPE,
                header_value(&format!("multipart/byteranges; boundary={boundary}")),
            );
            (StatusCode::PARTIAL_CONTENT, pieces, length)
        }
    };
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));

    let body = if facts.head || length == 0 {
        PlannedBody::Empty
    } else if length <= settings.chunk_size as u64 {
        // Small enough to read now, on this thread, and send in one piece.
        match read_pieces(&file, &pieces, length) {
            Ok(bytes) => PlannedBody::Bytes(bytes),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "reading a file failed");
                return Plan::error(StatusCode::INTERNAL_SERVER_ERROR);
            }
        }
    } else {
        PlannedBody::File { file, pieces }
    };
    Plan {
        status,
        headers,
        body,
    }
}

fn read_pieces(file: &File, pieces: &[Piece], length: u64) -> io::Result<Bytes> {
    let mut body = BytesMut::with_capacity(length as usize);
    for piece in pieces {
        match piece {
            Piece::Bytes(bytes) => body.extend_from_slice(bytes),
            Piece::File(range) => {
                let start = body.len();
                body.resize(start + range.len() as usize, 0);
                file.read_exact_at(&mut body[start..], range.first)?;
            }
        }
    }
    Ok(body.freeze())
}

/// Reads `len` bytes at `offset`, fewer only at the end of the file.
pub(crate) fn read_chunk(file: &File, offset: u64, len: usize) -> io::Result<Bytes> {
    let mut buffer = vec![0; len];
    let mut filled = 0;
    while filled < len {
        match file.read_at(&mut buffer[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    buffer.truncate(filled);
    Ok(Bytes::from(buffer))
}

/// Our own header values: file names never go into them, so they are valid.
fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}
