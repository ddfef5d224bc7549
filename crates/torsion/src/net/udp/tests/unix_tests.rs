//! UNIX datagram sockets.

use super::*;

#[test]
fn unix_datagrams_both_ways() {
    let dir = temp_dir("unix-datagram");
    let server_path = dir.join("server.sock");
    let client_path = dir.join("client.sock");
    let reactor = Reactor::new().unwrap();
    let server = reactor
        .listen_unix_datagram(&server_path, Echo::default())
        .unwrap();
    assert_eq!(
        server.local_address(),
        Address::Unix(Some(server_path.clone()))
    );
    let (mut client, log) = recorder();
    client.on_start = Some(Box::new(|t: &DatagramTransport| t.write(b"ping").unwrap()));
    let client = reactor
        .connect_unix_datagram(&server_path, client, Some(&client_path))
        .unwrap();
    assert_eq!(
        client.connected_address(),
        Some(Address::Unix(Some(server_path.clone())))
    );
    let error = server.set_ttl(1).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::Unsupported);
    let l = log.clone();
    run_until(&reactor, LIMIT, move || !l.borrow().received.is_empty());
    assert_eq!(
        log.borrow().received,
        vec![(b"ping".to_vec(), Address::Unix(Some(server_path.clone())))]
    );
    assert!(
        !server_path.exists() && !client_path.exists(),
        "socket files are removed"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unix_datagram_listen_replaces_a_stale_file_and_refuses_a_live_one() {
    let dir = temp_dir("unix-datagram-stale");
    let path = dir.join("port.sock");
    drop(std::os::unix::net::UnixDatagram::bind(&path).unwrap());
    assert!(path.exists());
    let reactor = Reactor::new().unwrap();
    let options = UnixDatagramOptions {
        mode: Some(0o600),
        ..UnixDatagramOptions::default()
    };
    let port = reactor
        .listen_unix_datagram_with(&path, recorder().0, options)
        .unwrap();
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let error = reactor
        .listen_unix_datagram(&path, recorder().0)
        .unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
    drop(port.stop_listening());
    assert!(!path.exists());
    let error = reactor
        .connect_unix_datagram(&path, recorder().0, None)
        .unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::NotFound);
    let _ = std::fs::remove_dir_all(&dir);
}
