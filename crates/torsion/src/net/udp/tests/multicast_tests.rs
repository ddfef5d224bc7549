//! Multicast on loopback, its options, and sharing a port.

use super::*;

/// Whether a multicast datagram sent on loopback comes back to a member
/// joined on 127.0.0.1, tried with plain sockets; why not if it does not.
fn loopback_multicast_works(group: Ipv4Addr) -> Result<(), String> {
    let receiver = UdpSocket::bind("0.0.0.0:0").map_err(|e| format!("bind: {e}"))?;
    receiver
        .join_multicast_v4(&group, &Ipv4Addr::LOCALHOST)
        .map_err(|e| format!("join_multicast_v4({group}, 127.0.0.1): {e}"))?;
    receiver
        .set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    let port = receiver.local_addr().map_err(|e| e.to_string())?.port();
    let sender = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)
        .map_err(|e| e.to_string())?;
    sender
        .set_multicast_if_v4(&Ipv4Addr::LOCALHOST)
        .map_err(|e| format!("set_multicast_if_v4(127.0.0.1): {e}"))?;
    sender
        .set_multicast_loop_v4(true)
        .map_err(|e| e.to_string())?;
    let to = SocketAddr::from((group, port));
    sender
        .send_to(b"probe", &to.into())
        .map_err(|e| format!("sending to {to}: {e}"))?;
    let mut buffer = [0u8; 16];
    receiver
        .recv_from(&mut buffer)
        .map(drop)
        .map_err(|e| format!("no multicast datagram came back on loopback: {e}"))
}

#[test]
fn multicast_reaches_two_sockets_on_one_port_until_one_leaves() {
    let group = Ipv4Addr::new(239, 255, 97, 13);
    if let Err(why) = loopback_multicast_works(group) {
        eprintln!("skipped: multicast over the loopback interface does not work here: {why}");
        return;
    }
    let reactor = Reactor::new().unwrap();
    let (first, first_log) = recorder();
    let first = reactor
        .listen_multicast("0.0.0.0:0".parse().unwrap(), first, true)
        .unwrap();
    let port = first.udp_address().unwrap().port();
    let (second, second_log) = recorder();
    let second = reactor
        .listen_multicast(
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
            second,
            true,
        )
        .unwrap();
    for member in [&first, &second] {
        member
            .join_group(group.into(), Ipv4Addr::LOCALHOST)
            .unwrap();
    }
    let (sender, _) = recorder();
    let sender = reactor.listen_udp(loopback(), sender).unwrap();
    sender.set_outgoing_interface(Ipv4Addr::LOCALHOST).unwrap();
    sender.set_loopback_mode(true).unwrap();
    assert!(sender.loopback_mode().unwrap());
    let to = SocketAddr::from((group, port));
    sender.write_to(b"to all", to).unwrap();

    // Once both have the first datagram, the second leaves and another is
    // sent; the first member's copy of it shows that it went out.
    let (l1, l2) = (first_log.clone(), second_log.clone());
    let left = Rc::new(RefCell::new(None::<Instant>));
    let left_at = left.clone();
    run_until(&reactor, LIMIT, move || {
        let (n1, n2) = (l1.borrow().received.len(), l2.borrow().received.len());
        match *left_at.borrow() {
            None if n1 == 1 && n2 == 1 => {}
            None => return false,
            Some(when) => return n1 == 2 && when.elapsed() > Duration::from_millis(100),
        }
        second
            .leave_group(group.into(), Ipv4Addr::LOCALHOST)
            .unwrap();
        sender.write_to(b"after leaving", to).unwrap();
        *left_at.borrow_mut() = Some(Instant::now());
        false
    });
    assert!(
        left.borrow().is_some(),
        "both members got the first datagram"
    );
    assert_eq!(
        first_log.borrow().payloads(),
        vec![b"to all".to_vec(), b"after leaving".to_vec()]
    );
    assert_eq!(second_log.borrow().payloads(), vec![b"to all".to_vec()]);
    let from = &second_log.borrow().received[0].1;
    assert!(matches!(from, Address::Tcp(a) if a.ip() == IpAddr::V4(Ipv4Addr::LOCALHOST)));
}

#[test]
fn multicast_options_round_trip_through_socket2() {
    let reactor = Reactor::new().unwrap();
    let (protocol, _log) = recorder();
    let port = reactor
        .listen_multicast("0.0.0.0:0".parse().unwrap(), protocol, false)
        .unwrap();
    port.set_ttl(7).unwrap();
    assert_eq!(port.ttl().unwrap(), 7);
    let seen = port
        .source
        .with_udp(|socket, _| socket2::SockRef::from(socket).multicast_ttl_v4())
        .unwrap();
    assert_eq!(seen, 7);
    port.set_loopback_mode(false).unwrap();
    let seen = port
        .source
        .with_udp(|socket, _| socket2::SockRef::from(socket).multicast_loop_v4())
        .unwrap();
    assert!(!seen);
    port.set_outgoing_interface(Ipv4Addr::LOCALHOST).unwrap();
    let seen = port
        .source
        .with_udp(|socket, _| socket2::SockRef::from(socket).multicast_if_v4())
        .unwrap();
    assert_eq!(seen, Ipv4Addr::LOCALHOST);
    let error = port
        .join_group("ff02::1".parse().unwrap(), Ipv4Addr::LOCALHOST)
        .unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    assert_eq!(MulticastInterface::from(3u32), MulticastInterface::Index(3));

    // An IPv6 socket sets the hop limit instead.
    let any6: SocketAddr = "[::1]:0".parse().unwrap();
    match reactor.listen_udp(any6, recorder().0) {
        Ok(port6) => {
            port6.set_ttl(9).unwrap();
            let seen = port6
                .source
                .with_udp(|socket, _| socket2::SockRef::from(socket).multicast_hops_v6())
                .unwrap();
            assert_eq!(seen, 9);
            assert_eq!(port6.ttl().unwrap(), 9);
        }
        Err(error) => eprintln!("IPv6 part skipped: cannot bind a UDP socket on ::1 ({error})"),
    }
}

#[test]
fn two_sockets_bind_one_port_only_with_listen_multiple() {
    let reactor = Reactor::new().unwrap();
    let first = reactor
        .listen_multicast("0.0.0.0:0".parse().unwrap(), recorder().0, true)
        .unwrap();
    let address = SocketAddr::from((Ipv4Addr::UNSPECIFIED, first.udp_address().unwrap().port()));
    let second = reactor.listen_multicast(address, recorder().0, true);
    assert!(second.is_ok());
    let single = reactor
        .listen_multicast("0.0.0.0:0".parse().unwrap(), recorder().0, false)
        .unwrap();
    let again = SocketAddr::from((Ipv4Addr::UNSPECIFIED, single.udp_address().unwrap().port()));
    let error = reactor
        .listen_multicast(again, recorder().0, false)
        .unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
}
