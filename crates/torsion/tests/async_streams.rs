//! Connections used with async/await, and crates written against tokio's
//! and futures-io's traits running over them.

mod common;

use std::future::poll_fn;
use std::io::IoSlice;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use common::turn_until;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use torsion::net::tls::{client_config, root_store, server_config};
use torsion::net::{AsyncListener, ConnectOptions, ListenOptions, factory_fn};
use torsion::{Deferred, Failure, Reactor};

/// Runs `future` on the reactor until it finishes; returns its result.
fn block_on<T: 'static>(reactor: &Reactor, deferred: Deferred<T>) -> Result<T, Failure> {
    let result = std::rc::Rc::new(std::cell::RefCell::new(None));
    let slot = result.clone();
    drop(
        deferred
            .then(move |value| {
                *slot.borrow_mut() = Some(Ok(value));
                Ok::<_, Failure>(())
            })
            .or_else({
                let slot = result.clone();
                move |failure| {
                    *slot.borrow_mut() = Some(Err(failure));
                    Ok::<_, Failure>(())
                }
            }),
    );
    turn_until(reactor, Duration::from_secs(20), || {
        result.borrow().is_some()
    });
    result.borrow_mut().take().unwrap()
}

#[test]
fn tokio_io_ext_round_trip_with_backpressure_and_end_of_file() {
    let reactor = Reactor::new().unwrap();
    let listener = AsyncListener::bind_tcp(&reactor, "127.0.0.1:0".parse().unwrap()).unwrap();
    let address = listener.address();
    let r = reactor.clone();
    let payload: Vec<u8> = (0..8_000_000u32).map(|i| (i % 253) as u8).collect();
    let expected = payload.clone();
    let server = reactor.spawn(async move {
        let (mut stream, _) = listener.accept().await?;
        let mut received = Vec::new();
        stream.read_to_end(&mut received).await?;
        // A vectored write takes every slice at once.
        let count = received.len().to_string();
        let slices = [IoSlice::new(b"bytes: "), IoSlice::new(count.as_bytes())];
        assert!(tokio::io::AsyncWrite::is_write_vectored(&stream));
        let written = stream.write_vectored(&slices).await?;
        assert_eq!(written, 7 + count.len());
        stream.shutdown().await?;
        Ok::<_, Failure>(received)
    });
    let client = reactor.spawn(async move {
        let mut stream = r.connect_stream(address, ConnectOptions::default()).await?;
        // write_all waits whenever the transport's buffer is full.
        stream.write_all(&payload).await?;
        stream.shutdown().await?;
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await?;
        Ok::<_, Failure>(reply)
    });
    let reply = block_on(&reactor, client).unwrap();
    let received = block_on(&reactor, server).unwrap();
    assert_eq!(reply, format!("bytes: {}", expected.len()));
    assert!(received == expected);
}

/// Reads once through the futures-io trait, as a crate written for it would.
async fn read_futures_io<R: futures_io::AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut [u8],
) -> std::io::Result<usize> {
    poll_fn(|cx| Pin::new(&mut *reader).poll_read(cx, buf)).await
}

async fn write_futures_io<W: futures_io::AsyncWrite + Unpin>(
    writer: &mut W,
    data: &[u8],
) -> std::io::Result<usize> {
    poll_fn(|cx| Pin::new(&mut *writer).poll_write(cx, data)).await
}

#[test]
fn futures_io_traits_over_a_unix_socket() {
    let reactor = Reactor::new().unwrap();
    let path = std::env::temp_dir().join(format!("torsion-async-{}.sock", std::process::id()));
    let listener = AsyncListener::bind_unix(&reactor, &path).unwrap();
    let address = listener.address();
    let r = reactor.clone();
    let done = reactor.spawn(async move {
        let mut client = r.connect_stream(address, ConnectOptions::default()).await?;
        let (mut server, _) = listener.accept().await?;
        write_futures_io(&mut client, b"via futures-io").await?;
        let mut buf = [0u8; 64];
        let mut got = Vec::new();
        while got.len() < 14 {
            let n = read_futures_io(&mut server, &mut buf).await?;
            got.extend_from_slice(&buf[..n]);
        }
        Ok::<_, Failure>(got)
    });
    assert_eq!(block_on(&reactor, done).unwrap(), b"via futures-io");
    let _ = std::fs::remove_file(&path);
}

#[test]
fn tokio_rustls_runs_over_a_torsion_stream_against_a_torsion_tls_server() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let dir = std::env::temp_dir();
    let cert = dir.join(format!("torsion-async-tls-{}-cert.pem", std::process::id()));
    let key = dir.join(format!("torsion-async-tls-{}-key.pem", std::process::id()));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();

    let reactor = Reactor::new().unwrap();
    // The server is torsion's own TLS under a plain echo protocol.
    let options = ListenOptions {
        tls: Some(Arc::new(server_config(&cert, &key).unwrap())),
        ..Default::default()
    };
    let port = reactor
        .listen_tcp_with(
            "127.0.0.1:0".parse().unwrap(),
            factory_fn(|_| Some(common::Echo::default())),
            options,
        )
        .unwrap();
    // The client is tokio-rustls over a torsion AsyncStream.
    let connector =
        tokio_rustls::TlsConnector::from(Arc::new(client_config(root_store(&cert).unwrap())));
    let r = reactor.clone();
    let address = port.address();
    let done = reactor.spawn(async move {
        let stream = r.connect_stream(address, ConnectOptions::default()).await?;
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = connector.connect(name, stream).await?;
        tls.write_all(b"encrypted by tokio-rustls").await?;
        let mut reply = [0u8; 25];
        tls.read_exact(&mut reply).await?;
        Ok::<_, Failure>(reply.to_vec())
    });
    let reply = block_on(&reactor, done);
    let _ = std::fs::remove_file(&cert);
    let _ = std::fs::remove_file(&key);
    assert_eq!(reply.unwrap(), b"encrypted by tokio-rustls");
}

/// Reads `stream` to its end, `chunk` bytes at a time at most.
async fn read_to_end_in(
    stream: &torsion::net::AsyncStream,
    chunk: usize,
) -> std::io::Result<Vec<u8>> {
    let mut all = Vec::new();
    let mut buf = vec![0u8; chunk];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(all);
        }
        all.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn a_stream_reads_bytes_and_the_end_that_arrive_together_in_small_reads() {
    // The stream reads the socket itself: a short read usually means the
    // socket is drained, but not once the peer's end has been reported,
    // when no new readiness would come for what is left.
    let reactor = Reactor::new().unwrap();
    let listener = AsyncListener::bind_tcp(&reactor, "127.0.0.1:0".parse().unwrap()).unwrap();
    let torsion::net::Address::Tcp(address) = listener.address() else {
        unreachable!()
    };
    let sent: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let to_send = sent.clone();
    let peer = std::thread::spawn(move || {
        use std::io::Write;
        let mut socket = std::net::TcpStream::connect(address).unwrap();
        socket.write_all(&to_send).unwrap();
        socket.shutdown(std::net::Shutdown::Write).unwrap();
    });
    let done = reactor.spawn(async move {
        let (stream, _) = listener.accept().await?;
        // Let everything, the end included, arrive before the first read.
        let r = Reactor::current().unwrap();
        torsion::time::defer_later(&r, Duration::from_millis(100), || Ok::<_, Failure>(())).await?;
        let received = read_to_end_in(&stream, 7).await?;
        // The end is for good: reading again says so again.
        let mut buf = [0u8; 16];
        assert_eq!(stream.read(&mut buf).await?, 0);
        drop(stream);
        Ok::<_, Failure>(received)
    });
    let received = block_on(&reactor, done).unwrap();
    peer.join().unwrap();
    assert_eq!(received.len(), sent.len());
    assert!(received == sent);
}

#[test]
fn a_reset_fails_a_waiting_read_and_the_stream_ends_after() {
    let reactor = Reactor::new().unwrap();
    let listener = AsyncListener::bind_tcp(&reactor, "127.0.0.1:0".parse().unwrap()).unwrap();
    let torsion::net::Address::Tcp(address) = listener.address() else {
        unreachable!()
    };
    let peer = std::thread::spawn(move || {
        let socket = socket2::Socket::new(
            socket2::Domain::IPV4,
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )
        .unwrap();
        socket.connect(&address.into()).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        // Closing with a zero linger sends a reset, not an end of file.
        socket.set_linger(Some(Duration::ZERO)).unwrap();
        drop(socket);
    });
    let done = reactor.spawn(async move {
        let (stream, _) = listener.accept().await?;
        let mut buf = [0u8; 64];
        let first = stream.read(&mut buf).await;
        let second = stream.read(&mut buf).await;
        Ok::<_, Failure>((first.map_err(|e| e.kind()), second.map_err(|e| e.kind())))
    });
    let (first, second) = block_on(&reactor, done).unwrap();
    peer.join().unwrap();
    assert_eq!(first, Err(std::io::ErrorKind::ConnectionReset));
    assert_eq!(second, Ok(0));
}

#[test]
fn a_stream_closed_by_its_own_side_wakes_its_waiting_reader() {
    let reactor = Reactor::new().unwrap();
    let listener = AsyncListener::bind_tcp(&reactor, "127.0.0.1:0".parse().unwrap()).unwrap();
    let address = listener.address();
    let r = reactor.clone();
    let done = reactor.spawn(async move {
        let _client = r.connect_stream(address, ConnectOptions::default()).await?;
        let (server, _) = listener.accept().await?;
        let transport = server.transport().clone();
        // Nothing comes from the client; the server's own side aborts.
        r.call_later(Duration::from_millis(50), move || {
            transport.abort_connection()
        });
        let mut buf = [0u8; 8];
        let read = server.read(&mut buf).await;
        Ok::<_, Failure>(read.is_err() || read.unwrap() == 0)
    });
    assert!(block_on(&reactor, done).unwrap());
}

#[test]
fn start_tls_on_streams_hands_their_reads_to_the_tls_session() {
    // Both ends read their sockets themselves until STARTTLS; from then on
    // the TLS session reads, and the streams read what it decrypts.
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let dir = std::env::temp_dir();
    let cert = dir.join(format!("torsion-starttls-{}-cert.pem", std::process::id()));
    let key = dir.join(format!("torsion-starttls-{}-key.pem", std::process::id()));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let server_tls = Arc::new(server_config(&cert, &key).unwrap());
    let client_tls = Arc::new(client_config(root_store(&cert).unwrap()));

    let reactor = Reactor::new().unwrap();
    let listener = AsyncListener::bind_tcp(&reactor, "127.0.0.1:0".parse().unwrap()).unwrap();
    let address = listener.address();
    let server = reactor.spawn(async move {
        let (stream, _) = listener.accept().await?;
        let mut command = [0u8; 10];
        stream.read_exact(&mut command).await?;
        assert_eq!(&command, b"STARTTLS\r\n");
        stream.write_all_now(b"220 go\r\n");
        stream.transport().start_tls(server_tls)?;
        let mut secret = [0u8; 6];
        stream.read_exact(&mut secret).await?;
        stream.write_all_now(b"reply:");
        stream.write_all_now(&secret);
        let mut rest = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            rest.extend_from_slice(&buf[..n]);
        }
        Ok::<_, Failure>(rest)
    });
    let r = reactor.clone();
    let client = reactor.spawn(async move {
        let stream = r.connect_stream(address, ConnectOptions::default()).await?;
        stream.write_all_now(b"STARTTLS\r\n");
        let mut go = [0u8; 8];
        stream.read_exact(&mut go).await?;
        assert_eq!(&go, b"220 go\r\n");
        stream
            .transport()
            .start_tls(torsion::net::tls::TlsSetup::client(
                client_tls,
                "localhost",
            )?)?;
        stream.write_all_now(b"secret");
        let mut reply = [0u8; 12];
        stream.read_exact(&mut reply).await?;
        let handshake = stream.tls_handshake().await?;
        stream.write_all_now(b"after the handshake");
        stream.transport().lose_connection();
        Ok::<_, Failure>((reply.to_vec(), handshake.version))
    });
    let (reply, version) = block_on(&reactor, client).unwrap();
    let rest = block_on(&reactor, server).unwrap();
    let _ = std::fs::remove_file(&cert);
    let _ = std::fs::remove_file(&key);
    assert_eq!(reply, b"reply:secret");
    assert!(version.starts_with("TLS"), "{version}");
    assert_eq!(rest, b"after the handshake");
}

#[test]
fn readable_waits_for_bytes_without_taking_them_and_returns_at_the_end() {
    let reactor = Reactor::new().unwrap();
    let listener = AsyncListener::bind_tcp(&reactor, "127.0.0.1:0".parse().unwrap()).unwrap();
    let address = listener.address();
    let r = reactor.clone();
    let woke = std::rc::Rc::new(std::cell::Cell::new(false));
    let seen = woke.clone();
    let server = reactor.spawn(async move {
        let (stream, _) = listener.accept().await?;
        // Twice on the same bytes: readable takes none of them.
        stream.readable().await;
        seen.set(true);
        stream.readable().await;
        let mut buf = [0u8; 5];
        stream.read_exact(&mut buf).await?;
        // Drained: readable waits again, until the client closes.
        stream.readable().await;
        let mut rest = [0u8; 1];
        let end = stream.read(&mut rest).await?;
        Ok::<_, Failure>((buf, end))
    });
    let w = woke.clone();
    let client = reactor.spawn(async move {
        let stream = r.connect_stream(address, ConnectOptions::default()).await?;
        torsion::time::defer_later(&r, Duration::from_millis(50), || Ok::<_, Failure>(())).await?;
        assert!(!w.get(), "readable returned before any byte came");
        stream.write_all_now(b"hello");
        torsion::time::defer_later(&r, Duration::from_millis(50), || Ok::<_, Failure>(())).await?;
        drop(stream);
        Ok::<_, Failure>(())
    });
    block_on(&reactor, client).unwrap();
    let (buf, end) = block_on(&reactor, server).unwrap();
    assert!(woke.get());
    assert_eq!(&buf, b"hello");
    assert_eq!(end, 0);
}
