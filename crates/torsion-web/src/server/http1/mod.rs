//! HTTP/1.1 served by torsion-web itself, without hyper: the checker's
//! parse of each request, the response encoder, and the connection that
//! drives them.

mod connection;
mod encode;
mod head;

pub(super) use connection::{Ended, Http1Connection};
