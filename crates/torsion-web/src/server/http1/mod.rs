//! HTTP/1.1 served by torsion-web itself, without hyper: the checker's
//! parse of each request, the response encoder, and the connection that
//! drives them.

mod connection;
mod encode;
mod head;

pub(super) use connection::{Ended, Http1Connection};

/// Whether HTTP/1 is served by [`Http1Connection`] rather than hyper:
/// `TORSION_WEB_HTTP1=native`, while the native connection is completed.
pub(super) fn native() -> bool {
    static NATIVE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *NATIVE.get_or_init(|| std::env::var("TORSION_WEB_HTTP1").is_ok_and(|value| value == "native"))
}
