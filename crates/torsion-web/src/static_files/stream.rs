//! Streaming a file through a flow-controlled [`Body::channel`]: chunks are
//! read on the reactor's thread pool (file reads block), one read ahead of
//! the network, and reading stops as soon as the client goes away.

use std::fs::File;
use std::sync::Arc;

use torsion::{Deferred, Failure, Reactor};

use super::plan::read_chunk;
use super::range::Piece;
use crate::{Body, BodySender};

/// A body that sends `pieces` of `file`, reading `chunk_size` bytes at a
/// time.
pub(crate) fn file_body(
    reactor: &Reactor,
    file: File,
    pieces: Vec<Piece>,
    chunk_size: usize,
) -> Body {
    // Two chunks queued keep the socket busy while the next one is read.
    let (sender, body) = Body::channel(2 * chunk_size);
    let pump = Pump {
        reactor: reactor.clone(),
        file: Arc::new(file),
        chunk_size,
    };
    drop(reactor.spawn(async move {
        pump.send(pieces, sender).await;
        Ok::<(), Failure>(())
    }));
    body
}

struct Pump {
    reactor: Reactor,
    file: Arc<File>,
    chunk_size: usize,
}

impl Pump {
    async fn send(&self, pieces: Vec<Piece>, sender: BodySender) {
        for piece in pieces {
            let sent = match piece {
                Piece::Bytes(bytes) => sender.send_data(bytes).await.map_err(|_| Stop::ClientGone),
                Piece::File(range) => self.send_range(range.first, range.len(), &sender).await,
            };
            match sent {
                Ok(()) => {}
                Err(Stop::ClientGone) => return,
                Err(Stop::ReadFailed(reason)) => {
                    tracing::warn!(%reason, "reading a file being sent failed; cutting the response");
                    sender.abort(reason);
                    return;
                }
            }
        }
        sender.finish();
    }

    async fn send_range(&self, first: u64, len: u64, sender: &BodySender) -> Result<(), Stop> {
        let end = first + len;
        let mut offset = first;
        let mut next = Some(self.read(offset, end));
        while let Some(reading) = next.take() {
            let data = reading
                .await
                .map_err(|failure| Stop::ReadFailed(failure.to_string()))?;
            if data.is_empty() {
                return Err(Stop::ReadFailed("the file shrank while being sent".into()));
            }
            offset += data.len() as u64;
            if offset < end {
                next = Some(self.read(offset, end));
            }
            // An unneeded read ahead is simply dropped when the client left.
            sender.send_data(data).await.map_err(|_| Stop::ClientGone)?;
        }
        Ok(())
    }

    fn read(&self, offset: u64, end: u64) -> Deferred<bytes::Bytes> {
        let file = self.file.clone();
        let len = (end - offset).min(self.chunk_size as u64) as usize;
        self.reactor
            .defer_to_thread_result(move || read_chunk(&file, offset, len))
    }
}

enum Stop {
    ClientGone,
    ReadFailed(String),
}
