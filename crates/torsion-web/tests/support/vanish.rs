//! How a hostile client leaves: by reset or by a bare close.

use std::net::TcpStream;
use std::time::Duration;

/// How a client goes away without saying goodbye.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vanish {
    /// SO_LINGER 0, then close: the kernel sends RST and drops what was
    /// queued either way.
    Reset,
    /// A plain close: FIN, and nothing the protocol would have sent first.
    Close,
}

impl Vanish {
    /// Every other client resets, the others close.
    pub fn alternating(index: usize) -> Vanish {
        if index.is_multiple_of(2) {
            Vanish::Reset
        } else {
            Vanish::Close
        }
    }

    /// Closes `stream` this way.
    pub fn leave(self, stream: TcpStream) {
        if self == Vanish::Reset {
            socket2::SockRef::from(&stream)
                .set_linger(Some(Duration::ZERO))
                .unwrap();
        }
        drop(stream);
    }
}
