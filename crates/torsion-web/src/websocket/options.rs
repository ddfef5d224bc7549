//! [`WebSocketOptions`]: the limits and timeouts of a WebSocket connection.

use std::time::Duration;

use tungstenite::protocol::WebSocketConfig;

/// Limits and timeouts of a WebSocket connection, the same on both sides.
///
/// ```
/// use std::time::Duration;
/// use torsion_web::websocket::WebSocketOptions;
///
/// let options = WebSocketOptions::default()
///     .max_message_size(64 * 1024)
///     .close_timeout(Duration::from_secs(2));
/// assert_eq!(options.max_frame_size, 64 * 1024, "a frame is never larger than its message");
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct WebSocketOptions {
    /// The largest message accepted, fragments joined (default 16 MiB).
    /// A larger one closes the connection with 1009 (message too big).
    pub max_message_size: usize,
    /// The largest single frame accepted (default 16 MiB, and never more
    /// than `max_message_size`). A larger one closes with 1009.
    pub max_frame_size: usize,
    /// How long to wait for the peer's part of a close handshake (its
    /// close frame, or the end of the connection) before dropping the
    /// connection (default 5 s). When a server stops, its shutdown timeout
    /// bounds the wait too.
    pub close_timeout: Duration,
    /// For a [`Messages`](crate::websocket::Messages) stream: how many
    /// received messages wait unread before the connection stops reading
    /// (default 64). Reading resumes once half of them are taken.
    pub max_queued_messages: usize,
}

/// 16 MiB.
const DEFAULT_MAX_SIZE: usize = 16 << 20;

impl Default for WebSocketOptions {
    fn default() -> WebSocketOptions {
        WebSocketOptions {
            max_message_size: DEFAULT_MAX_SIZE,
            max_frame_size: DEFAULT_MAX_SIZE,
            close_timeout: Duration::from_secs(5),
            max_queued_messages: 64,
        }
    }
}

impl WebSocketOptions {
    /// Sets [`max_message_size`](Self::max_message_size), lowering
    /// [`max_frame_size`](Self::max_frame_size) to it if larger.
    pub fn max_message_size(mut self, bytes: usize) -> WebSocketOptions {
        self.max_message_size = bytes;
        self.max_frame_size = self.max_frame_size.min(bytes);
        self
    }

    /// Sets [`max_frame_size`](Self::max_frame_size).
    pub fn max_frame_size(mut self, bytes: usize) -> WebSocketOptions {
        self.max_frame_size = bytes;
        self
    }

    /// Sets [`close_timeout`](Self::close_timeout).
    pub fn close_timeout(mut self, timeout: Duration) -> WebSocketOptions {
        self.close_timeout = timeout;
        self
    }

    /// Sets [`max_queued_messages`](Self::max_queued_messages) (at least 1).
    pub fn max_queued_messages(mut self, messages: usize) -> WebSocketOptions {
        self.max_queued_messages = messages.max(1);
        self
    }

    /// tungstenite's configuration for these limits. Frames are written
    /// into an in-memory buffer that is handed to the transport at once,
    /// so tungstenite's own write buffering is off.
    pub(crate) fn tungstenite_config(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            .read_buffer_size(16 * 1024)
            .write_buffer_size(0)
            .max_message_size(Some(self.max_message_size))
            .max_frame_size(Some(self.max_frame_size.min(self.max_message_size)))
    }
}
