//! What the integration tests share: a server put up on loopback in the
//! shape a test needs, the real clients driven against it (curl, Python,
//! raw sockets), certificates, a tree to serve files from, and the
//! resources and WebSocket protocol the tests are served.

#![allow(dead_code)] // each test binary uses its own part of this

mod browser;
mod clients;
mod peer;
mod python;
mod resources;
mod server;
mod tls;
mod tree;
mod usage;
mod vanish;
mod websocket;

// Flat, so that a test names what it uses, not where it lives; each test
// binary uses its own part.
#[allow(unused_imports)]
pub use self::{
    browser::*, clients::*, peer::*, python::*, resources::*, server::*, tls::*, tree::*, usage::*,
    vanish::*, websocket::*,
};
