//! [`ConnectionInfo`]: what the server knows of the connection a request
//! came on.

/// What the server knows of the connection a request came on: Twisted's
/// `request.getClientAddress()`, `getHost()` and `isSecure()`. Read it with
/// [`RequestExt::connection`](crate::RequestExt::connection).
///
/// The server hands it to a request with its body, not in its extensions:
/// the first value in a request's extensions costs three allocations, and
/// most resources never look. A value in the extensions is found first,
/// so a resource can set one (a proxy's client, say) for those it calls.
#[derive(Clone, Debug)]
pub struct ConnectionInfo {
    /// The client's address.
    pub peer: torsion::net::Address,
    /// The server's address the client connected to.
    pub local: torsion::net::Address,
    /// TLS details, when the connection is encrypted.
    pub tls: Option<torsion::net::tls::TlsInfo>,
}
