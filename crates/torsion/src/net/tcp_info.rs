//! The kernel's own byte counts for a TCP connection (`TCP_INFO`), read
//! when someone asks instead of counted beside every read and write.
//!
//! The live view ([`Reactor::snapshot`](crate::Reactor::snapshot)) shows
//! how much each connection moved. Counting that in the transport would
//! cost every connection 16 bytes and every system call an add, whether or
//! not anyone ever looks; the kernel already keeps the figures, so a
//! snapshot asks it, one `getsockopt` per connection. socket2 does not
//! wrap `TCP_INFO`, which makes this the one place the network layer calls
//! `libc` itself.
#![allow(unsafe_code)]

use std::mem::{offset_of, size_of};
use std::os::fd::{AsRawFd, BorrowedFd};

/// What the kernel counted on one TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ByteCounts {
    /// Bytes received from the peer, in order (read or still queued).
    pub(crate) received: u64,
    /// Bytes handed to the socket: sent at least once, or still waiting in
    /// its send queue. Retransmissions count once.
    pub(crate) written: u64,
}

/// The kernel's byte counts for the TCP socket `fd`, or `None` if it is
/// not a TCP socket or the kernel is too old to count them (before 4.19).
pub(crate) fn byte_counts(fd: BorrowedFd<'_>) -> Option<ByteCounts> {
    // SAFETY: an all-zero tcp_info is a valid value (it is plain integers).
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` is a writable tcp_info owned by this frame and `len`
    // holds its size; the kernel writes at most `len` bytes and stores how
    // many it wrote back in `len`.
    let result = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&raw mut info).cast(),
            &mut len,
        )
    };
    // An older kernel fills a shorter prefix; the fields after it stay zero.
    let needed = offset_of!(libc::tcp_info, tcpi_bytes_retrans) + size_of::<u64>();
    if result != 0 || (len as usize) < needed {
        return None;
    }
    let sent_once = info.tcpi_bytes_sent.saturating_sub(info.tcpi_bytes_retrans);
    Some(ByteCounts {
        received: info.tcpi_bytes_received,
        written: sent_once + u64::from(info.tcpi_notsent_bytes),
    })
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    use super::*;

    #[test]
    fn counts_what_a_tcp_connection_moved_each_way() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        assert_eq!(
            byte_counts(server.as_fd()),
            Some(ByteCounts {
                received: 0,
                written: 0
            })
        );
        client.write_all(b"hello").unwrap();
        let mut got = [0u8; 5];
        server.read_exact(&mut got).unwrap();
        server.write_all(&[7u8; 1000]).unwrap();
        assert_eq!(
            byte_counts(server.as_fd()),
            Some(ByteCounts {
                received: 5,
                written: 1000
            })
        );
    }

    #[test]
    fn a_unix_socket_has_no_tcp_counts() {
        let (one, _other) = UnixStream::pair().unwrap();
        assert_eq!(byte_counts(one.as_fd()), None);
    }
}
