//! The in-memory pair behaves as a socket pair would: bytes arrive on a
//! later turn and in order, half-closes read as end of file, drops close,
//! aborts read as errors, and a slow reader holds a writer back.

use std::future::Future;
use std::io;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::stream_pair;
use crate::net::HIGH_WATER_MARK;
use crate::testing::outcome::record;
use crate::{Failure, Reactor};

const LIMIT: Duration = Duration::from_secs(10);

/// Runs `test` on a fresh reactor until it finishes (or `LIMIT` passes)
/// and returns its outcome.
fn run<F, Fut>(test: F) -> Result<(), Failure>
where
    F: FnOnce(Reactor) -> Fut,
    Fut: Future<Output = Result<(), Failure>> + 'static,
{
    let reactor = Reactor::new().expect("reactor");
    let r = reactor.clone();
    let finished = reactor.spawn(test(reactor.clone())).both(move |result| {
        let _ = r.stop();
        result
    });
    let outcome = record(finished);
    let r = reactor.clone();
    drop(reactor.call_later(LIMIT, move || {
        let _ = r.stop();
    }));
    reactor.run().expect("run");
    outcome
        .borrow_mut()
        .take()
        .unwrap_or_else(|| Err(Failure::msg("the test did not finish in time")))
}

#[test]
fn bytes_written_at_one_end_are_read_at_the_other_in_order() {
    run(|_| async move {
        let (mut client, mut server) = stream_pair(&Reactor::current().unwrap());
        client.write_all(b"hello ").await?;
        client.write_all(b"world").await?;
        let mut buf = [0u8; 11];
        server.read_exact(&mut buf).await?;
        assert_eq!(&buf, b"hello world");
        server.write_all(b"back").await?;
        let mut buf = [0u8; 4];
        client.read_exact(&mut buf).await?;
        assert_eq!(&buf, b"back");
        Ok(())
    })
    .unwrap();
}

#[test]
fn nothing_arrives_inside_the_write() {
    run(|reactor| async move {
        let (client, server) = stream_pair(&reactor);
        client.write_all_now(b"later");
        // No turn has run since: the bytes are still the writer's.
        assert_eq!(client.transport().buffered(), 5);
        let mut buf = [0u8; 5];
        server.read_exact(&mut buf).await?;
        assert_eq!(&buf, b"later");
        assert_eq!(client.transport().buffered(), 0);
        Ok(())
    })
    .unwrap();
}

#[test]
fn shutting_down_the_write_side_is_end_of_file_after_the_data() {
    run(|reactor| async move {
        let (mut client, mut server) = stream_pair(&reactor);
        client.write_all(b"last words").await?;
        client.shutdown().await?;
        let mut received = Vec::new();
        server.read_to_end(&mut received).await?;
        assert_eq!(received, b"last words");
        // The other direction is still open.
        server.write_all(b"reply").await?;
        let mut buf = [0u8; 5];
        client.read_exact(&mut buf).await?;
        assert_eq!(&buf, b"reply");
        Ok(())
    })
    .unwrap();
}

#[test]
fn dropping_an_end_closes_the_connection_after_its_data() {
    run(|reactor| async move {
        let (client, mut server) = stream_pair(&reactor);
        client.write_all_now(b"bye");
        drop(client);
        let mut received = Vec::new();
        server.read_to_end(&mut received).await?;
        assert_eq!(received, b"bye");
        Ok(())
    })
    .unwrap();
}

#[test]
fn aborting_an_end_is_an_error_at_the_other() {
    run(|reactor| async move {
        let (client, mut server) = stream_pair(&reactor);
        client.write_all_now(b"dropped on the floor");
        client.transport().abort_connection();
        let mut received = Vec::new();
        let error = server.read_to_end(&mut received).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionReset);
        assert!(received.is_empty());
        Ok(())
    })
    .unwrap();
}

#[test]
fn a_reader_that_falls_behind_holds_the_writer_back() {
    run(|reactor| async move {
        let (mut client, server) = stream_pair(&reactor);
        // Well past what the reader takes ahead and the writer buffers.
        let chunk = vec![7u8; 16 * 1024];
        let chunks = 8 + 4 * HIGH_WATER_MARK / chunk.len();
        let total = chunks * chunk.len();
        let writer = reactor.spawn(async move {
            for _ in 0..chunks {
                client.write_all(&chunk).await?;
            }
            Ok::<_, Failure>(client)
        });
        // Give the writer turns to run ahead while nobody reads.
        crate::time::defer_later(&reactor, Duration::from_millis(50), || Ok::<_, Failure>(()))
            .await?;
        assert!(!writer.is_fired(), "the writer never waited for the reader");
        let mut received = vec![0u8; total];
        server.read_exact(&mut received).await?;
        assert!(received.iter().all(|&byte| byte == 7));
        drop(writer.await?);
        Ok(())
    })
    .unwrap();
}
