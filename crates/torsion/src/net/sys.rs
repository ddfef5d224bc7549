//! Socket creation and options: the one place the network layer talks to
//! the operating system below mio's sockets (through socket2), and names
//! the errno values it tells apart.
//!
//! Everything above this module asks for a ready, non-blocking,
//! close-on-exec socket of a kind (a TCP listener, a UNIX datagram socket
//! bound to a path, a TCP stream connecting from a local address) and gets
//! a mio socket or an [`io::Error`]; a bind failure names its address
//! ([`NetError::Listen`]). Socket options (keep-alive, multicast
//! membership and its settings) are set here too, each behind a function
//! that speaks in std types. So is the process's reserved descriptor, which
//! lets a listener out of descriptors still close the connections it
//! cannot serve ([`with_reserve_released`]). No `unsafe` is needed: socket2
//! and std wrap each call.

use std::fs::File;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use socket2::{Domain, InterfaceIndexOrAddress, SockAddr, SockRef, Socket, Type};

use crate::error::NetError;

/// A non-blocking connect that has started and will finish later.
const EINPROGRESS: i32 = libc::EINPROGRESS;
/// The process is out of descriptors.
const EMFILE: i32 = libc::EMFILE;
/// The system is out of descriptors.
const ENFILE: i32 = libc::ENFILE;
/// The kernel is out of socket buffers.
const ENOBUFS: i32 = libc::ENOBUFS;
/// The kernel is out of memory.
const ENOMEM: i32 = libc::ENOMEM;
/// The kernel refused the request as such.
const EINVAL: i32 = libc::EINVAL;

/// Running out of descriptors or kernel memory: accepting cannot succeed
/// until something is closed, so retrying at once would spin.
pub(crate) fn is_resource_exhaustion(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(EMFILE | ENFILE | ENOBUFS | ENOMEM)
    )
}

/// A request the kernel found invalid (EINVAL): an io_uring multishot
/// accept on a kernel that knows only the plain one (before Linux 5.19),
/// or an accept on a socket that is not listening.
pub(crate) fn is_invalid_argument(error: &io::Error) -> bool {
    error.raw_os_error() == Some(EINVAL)
}

/// Running out of descriptors, the process's or the system's: the one
/// exhaustion that closing the reserved descriptor works around for a
/// moment.
pub(crate) fn is_out_of_descriptors(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(EMFILE | ENFILE))
}

/// The descriptor held back for [`with_reserve_released`]: one for the
/// whole process, shared by every listener of every reactor thread.
///
/// The descriptor limit is the process's, so one spare slot is enough for
/// all its listeners; one per listener would cost a descriptor a port and
/// buy nothing, since the listeners of one process run out together. The
/// lock is taken only when a port opens and when accepting has already
/// failed, never on the path of a successful accept.
static RESERVE: Reserve = Reserve::new();

/// What the reserve holds open: a file every system has, that costs no
/// more than its descriptor.
const RESERVE_PATH: &str = "/dev/null";

/// A descriptor kept open only to be closed when one is needed.
struct Reserve(Mutex<Option<File>>);

impl Reserve {
    const fn new() -> Reserve {
        Reserve(Mutex::new(None))
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<File>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn hold(&self) -> io::Result<()> {
        let mut slot = self.slot();
        if slot.is_none() {
            // std opens with O_CLOEXEC: a spawned process does not inherit it.
            *slot = Some(File::open(RESERVE_PATH)?);
        }
        Ok(())
    }

    #[cfg(test)]
    fn is_held(&self) -> bool {
        self.slot().is_some()
    }

    fn released<R>(&self, work: impl FnOnce() -> R) -> Option<R> {
        let mut slot = self.slot();
        drop(slot.take()?);
        let result = work();
        *slot = File::open(RESERVE_PATH).ok();
        Some(result)
    }
}

/// Holds the reserved descriptor open if it is not already; called when a
/// port starts listening (as Twisted reserves its own in
/// `startListening`) and when accepting works again after running out.
/// Failing to is not fatal: without a reserve a port out of descriptors
/// pauses instead of refusing.
pub(crate) fn reserve_descriptor() -> io::Result<()> {
    RESERVE.hold()
}

/// Closes the reserved descriptor, runs `work` with the slot it freed, and
/// opens the reserve again; `None`, without running `work`, when there is
/// no reserve to release.
///
/// A listener out of descriptors uses the slot to accept the connections
/// waiting for it one at a time and close each at once, so that their
/// clients hear a prompt close rather than wait in the backlog for a
/// descriptor that may never come. If another thread takes the slot in
/// the meantime, the reserve stays closed until [`reserve_descriptor`]
/// succeeds again.
pub(crate) fn with_reserve_released<R>(work: impl FnOnce() -> R) -> Option<R> {
    RESERVE.released(work)
}

/// A socket of `kind` for `domain`, non-blocking and close-on-exec from
/// the start (no window in which a forked child could inherit it).
fn new_socket(domain: Domain, kind: Type) -> io::Result<Socket> {
    Socket::new(domain, kind.nonblocking().cloexec(), None)
}

/// A non-blocking socket of `kind` bound to `address`. IPv6 sockets are
/// IPv6 only, so that `[::]` and `0.0.0.0` on one port do not clash.
pub(crate) fn bind_socket(
    address: SocketAddr,
    kind: Type,
    reuse_address: bool,
    reuse_port: bool,
) -> io::Result<Socket> {
    let socket = new_socket(Domain::for_address(address), kind)?;
    if reuse_address {
        socket.set_reuse_address(true)?;
    }
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    if address.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket
        .bind(&address.into())
        .map_err(|source| listen_error(address.to_string(), source))?;
    Ok(socket)
}

fn listen_error(address: String, source: io::Error) -> io::Error {
    NetError::Listen { address, source }.into()
}

/// A TCP socket listening on `address`.
pub(crate) fn tcp_listener(
    address: SocketAddr,
    backlog: i32,
    reuse_port: bool,
) -> io::Result<mio::net::TcpListener> {
    let socket = bind_socket(address, Type::STREAM, true, reuse_port)?;
    socket.listen(backlog)?;
    Ok(mio::net::TcpListener::from_std(socket.into()))
}

/// A UDP socket bound to `address`.
pub(crate) fn udp_socket(
    address: SocketAddr,
    reuse_address: bool,
    reuse_port: bool,
) -> io::Result<mio::net::UdpSocket> {
    let socket = bind_socket(address, Type::DGRAM, reuse_address, reuse_port)?;
    Ok(mio::net::UdpSocket::from_std(socket.into()))
}

/// A TCP stream whose connect to `address` has started. With `bind`, the
/// local end is bound to it first.
pub(crate) fn connect_tcp(
    address: SocketAddr,
    bind: Option<SocketAddr>,
) -> io::Result<mio::net::TcpStream> {
    let Some(bind) = bind else {
        return mio::net::TcpStream::connect(address);
    };
    let socket = new_socket(Domain::for_address(address), Type::STREAM)?;
    socket.bind(&bind.into())?;
    match socket.connect(&address.into()) {
        Ok(()) => {}
        Err(error) if error.raw_os_error() == Some(EINPROGRESS) => {}
        Err(error) => return Err(error),
    }
    Ok(mio::net::TcpStream::from_std(socket.into()))
}

/// A UNIX stream whose connect to `path` has started.
pub(crate) fn connect_unix(path: &Path) -> io::Result<mio::net::UnixStream> {
    mio::net::UnixStream::connect(path)
}

/// A UNIX stream socket listening at `path`, replacing a stale socket file.
pub(crate) fn unix_listener(
    path: &Path,
    backlog: i32,
    mode: Option<u32>,
) -> io::Result<mio::net::UnixListener> {
    let socket = bind_unix(path, Type::STREAM, mode)?;
    socket.listen(backlog)?;
    Ok(mio::net::UnixListener::from_std(socket.into()))
}

/// A UNIX datagram socket bound to `path`, replacing a stale socket file.
pub(crate) fn unix_datagram(path: &Path, mode: Option<u32>) -> io::Result<mio::net::UnixDatagram> {
    let socket = bind_unix(path, Type::DGRAM, mode)?;
    Ok(mio::net::UnixDatagram::from_std(socket.into()))
}

/// Connects a datagram socket, naming the destination if it fails.
pub(crate) fn connect_unix_datagram(
    socket: &mio::net::UnixDatagram,
    path: &Path,
) -> io::Result<()> {
    socket.connect(path).map_err(|source| {
        NetError::Connect {
            address: path.display().to_string(),
            source,
        }
        .into()
    })
}

fn bind_unix(path: &Path, kind: Type, mode: Option<u32>) -> io::Result<Socket> {
    remove_stale_socket(path, kind)?;
    let socket = new_socket(Domain::UNIX, kind)?;
    socket
        .bind(&SockAddr::unix(path)?)
        .map_err(|source| listen_error(path.display().to_string(), source))?;
    if let Some(mode) = mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(socket)
}

/// Removes a socket file that no live socket of `kind` is behind any more
/// (its server died without cleaning up), as Twisted's `listenUNIX` does.
///
/// A probe connects to it: refused means stale, and the file goes; a
/// connection means someone is serving there, which is an error
/// ([`NetError::SocketFileInUse`]). Any other answer (a socket of another
/// type, no permission) leaves the file alone, and the bind that follows
/// reports the problem.
fn remove_stale_socket(path: &Path, kind: Type) -> io::Result<()> {
    let Ok(metadata) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !metadata.file_type().is_socket() {
        return Ok(());
    }
    let probe = Socket::new(Domain::UNIX, kind.cloexec(), None)?;
    match probe.connect(&SockAddr::unix(path)?) {
        Ok(()) => Err(NetError::SocketFileInUse(path.to_owned()).into()),
        Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => {
            std::fs::remove_file(path)
        }
        Err(_) => Ok(()),
    }
}

/// Turns TCP keep-alive probes on or off.
pub(crate) fn set_keepalive(socket: &mio::net::TcpStream, enabled: bool) -> io::Result<()> {
    SockRef::from(socket).set_keepalive(enabled)
}

/// The IP version of a UDP socket: each multicast setting has one option
/// per version (IP_MULTICAST_TTL and IPV6_MULTICAST_HOPS, say).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IpVersion {
    V4,
    V6,
}

/// The interface an IPv4 multicast membership is on: by address
/// (`0.0.0.0` lets the system choose), or by index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ipv4Interface {
    Address(Ipv4Addr),
    Index(u32),
}

/// Joins the IPv4 multicast `group` on `interface`.
pub(crate) fn join_multicast_v4(
    socket: &mio::net::UdpSocket,
    group: Ipv4Addr,
    interface: Ipv4Interface,
) -> io::Result<()> {
    let socket = SockRef::from(socket);
    match interface {
        Ipv4Interface::Address(address) => socket.join_multicast_v4(&group, &address),
        Ipv4Interface::Index(index) => {
            socket.join_multicast_v4_n(&group, &InterfaceIndexOrAddress::Index(index))
        }
    }
}

/// Leaves an IPv4 group joined with [`join_multicast_v4`].
pub(crate) fn leave_multicast_v4(
    socket: &mio::net::UdpSocket,
    group: Ipv4Addr,
    interface: Ipv4Interface,
) -> io::Result<()> {
    let socket = SockRef::from(socket);
    match interface {
        Ipv4Interface::Address(address) => socket.leave_multicast_v4(&group, &address),
        Ipv4Interface::Index(index) => {
            socket.leave_multicast_v4_n(&group, &InterfaceIndexOrAddress::Index(index))
        }
    }
}

/// Joins the IPv6 multicast `group` on the interface of index
/// `interface` (0: the system chooses).
pub(crate) fn join_multicast_v6(
    socket: &mio::net::UdpSocket,
    group: Ipv6Addr,
    interface: u32,
) -> io::Result<()> {
    SockRef::from(socket).join_multicast_v6(&group, interface)
}

/// Leaves an IPv6 group joined with [`join_multicast_v6`].
pub(crate) fn leave_multicast_v6(
    socket: &mio::net::UdpSocket,
    group: Ipv6Addr,
    interface: u32,
) -> io::Result<()> {
    SockRef::from(socket).leave_multicast_v6(&group, interface)
}

/// Sets how many hops multicast datagrams sent from `socket` may travel.
pub(crate) fn set_multicast_ttl(
    socket: &mio::net::UdpSocket,
    version: IpVersion,
    ttl: u32,
) -> io::Result<()> {
    let socket = SockRef::from(socket);
    match version {
        IpVersion::V4 => socket.set_multicast_ttl_v4(ttl),
        IpVersion::V6 => socket.set_multicast_hops_v6(ttl),
    }
}

/// How many hops multicast datagrams sent from `socket` may travel.
pub(crate) fn multicast_ttl(socket: &mio::net::UdpSocket, version: IpVersion) -> io::Result<u32> {
    let socket = SockRef::from(socket);
    match version {
        IpVersion::V4 => socket.multicast_ttl_v4(),
        IpVersion::V6 => socket.multicast_hops_v6(),
    }
}

/// Whether multicast datagrams sent from `socket` come back to this
/// host's members of the group.
pub(crate) fn set_multicast_loop(
    socket: &mio::net::UdpSocket,
    version: IpVersion,
    enabled: bool,
) -> io::Result<()> {
    let socket = SockRef::from(socket);
    match version {
        IpVersion::V4 => socket.set_multicast_loop_v4(enabled),
        IpVersion::V6 => socket.set_multicast_loop_v6(enabled),
    }
}

/// The multicast loopback setting of `socket`.
pub(crate) fn multicast_loop(socket: &mio::net::UdpSocket, version: IpVersion) -> io::Result<bool> {
    let socket = SockRef::from(socket);
    match version {
        IpVersion::V4 => socket.multicast_loop_v4(),
        IpVersion::V6 => socket.multicast_loop_v6(),
    }
}

/// The interface IPv4 multicast datagrams leave by, by its address
/// (`0.0.0.0`: the system chooses).
pub(crate) fn set_multicast_interface_v4(
    socket: &mio::net::UdpSocket,
    interface: Ipv4Addr,
) -> io::Result<()> {
    SockRef::from(socket).set_multicast_if_v4(&interface)
}

/// The interface IPv6 multicast datagrams leave by, by its index (0: the
/// system chooses).
pub(crate) fn set_multicast_interface_v6(
    socket: &mio::net::UdpSocket,
    interface: u32,
) -> io::Result<()> {
    SockRef::from(socket).set_multicast_if_v6(interface)
}

/// Makes `socket` hear only the multicast groups it joined itself.
///
/// Linux otherwise delivers to a socket bound to the wildcard address the
/// datagrams of every group any socket of the host joined, on its port
/// (IP_MULTICAST_ALL is on by default), so membership would not be the
/// socket's own. Other systems already behave so; there this does
/// nothing. Best effort: a kernel without the option keeps its default.
pub(crate) fn hear_only_joined_groups(socket: &mio::net::UdpSocket, version: IpVersion) {
    #[cfg(target_os = "linux")]
    {
        let socket = SockRef::from(socket);
        let _ = match version {
            IpVersion::V4 => socket.set_multicast_all_v4(false),
            IpVersion::V6 => socket.set_multicast_all_v6(false),
        };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (socket, version);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("torsion-sys-{name}-{}.sock", std::process::id()))
    }

    #[test]
    fn a_bind_failure_names_the_address_it_was_for() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = taken.local_addr().unwrap();
        let error = tcp_listener(address, 8, false).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
        let Some(NetError::Listen { address: named, .. }) = NetError::find(&error) else {
            panic!("not a listen error: {error:?}");
        };
        assert_eq!(*named, address.to_string());
    }

    #[test]
    fn a_live_socket_file_is_reported_in_use_and_kept() {
        let path = temp_path("live");
        let _ = std::fs::remove_file(&path);
        let live = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let error = unix_listener(&path, 8, None).unwrap_err();
        assert!(matches!(
            NetError::find(&error),
            Some(NetError::SocketFileInUse(file)) if *file == path
        ));
        drop(live);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_socket_file_of_the_other_kind_is_left_alone() {
        let path = temp_path("other-kind");
        let _ = std::fs::remove_file(&path);
        let datagram = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        // A stream probe cannot tell whether a datagram socket is live, so
        // the file stays and the bind reports it.
        let error = unix_listener(&path, 8, None).unwrap_err();
        assert!(matches!(
            NetError::find(&error),
            Some(NetError::Listen { .. })
        ));
        assert!(path.exists());
        drop(datagram);
        let _ = std::fs::remove_file(&path);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_socket_made_to_hear_only_its_own_groups_has_multicast_all_off() {
        let socket = udp_socket("0.0.0.0:0".parse().unwrap(), false, false).unwrap();
        assert!(SockRef::from(&socket).multicast_all_v4().unwrap());
        hear_only_joined_groups(&socket, IpVersion::V4);
        assert!(!SockRef::from(&socket).multicast_all_v4().unwrap());
    }

    #[test]
    fn an_ipv4_membership_by_index_joins_and_leaves() {
        let socket = udp_socket("0.0.0.0:0".parse().unwrap(), false, false).unwrap();
        let group = Ipv4Addr::new(239, 255, 42, 7);
        // Index 0 lets the system pick the interface, as the address
        // 0.0.0.0 does; a host without multicast routes refuses both.
        match join_multicast_v4(&socket, group, Ipv4Interface::Index(0)) {
            Ok(()) => {
                leave_multicast_v4(&socket, group, Ipv4Interface::Index(0)).unwrap();
                let again = leave_multicast_v4(&socket, group, Ipv4Interface::Index(0));
                assert!(again.is_err(), "a group left is no longer joined");
            }
            Err(error) => eprintln!("skipped: this host cannot join {group}: {error}"),
        }
    }

    #[test]
    fn a_released_reserve_runs_the_work_and_is_held_again_after() {
        let reserve = Reserve::new();
        reserve.hold().unwrap();
        assert_eq!(reserve.released(|| 7), Some(7));
        assert!(reserve.is_held());
    }

    #[test]
    fn without_a_reserve_the_work_does_not_run() {
        let reserve = Reserve::new();
        let mut ran = false;
        assert_eq!(reserve.released(|| ran = true), None);
        assert!(!ran);
    }

    #[test]
    fn only_running_out_of_descriptors_is_worked_around_by_the_reserve() {
        for errno in [EMFILE, ENFILE] {
            assert!(is_out_of_descriptors(&io::Error::from_raw_os_error(errno)));
        }
        for errno in [ENOBUFS, ENOMEM] {
            assert!(!is_out_of_descriptors(&io::Error::from_raw_os_error(errno)));
        }
    }

    #[test]
    fn only_running_out_of_descriptors_or_memory_is_resource_exhaustion() {
        for errno in [EMFILE, ENFILE, ENOBUFS, ENOMEM] {
            assert!(is_resource_exhaustion(&io::Error::from_raw_os_error(errno)));
        }
        let refused = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert!(!is_resource_exhaustion(&refused));
    }
}
