//! [`ResolverConfig`]: which servers to ask and how patiently, read from
//! `resolv.conf` as the C library reads it (Twisted's
//! `client.Resolver(resolv=...)`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use crate::DnsError;

/// Where the system's resolver configuration is.
pub const SYSTEM_RESOLV_CONF: &str = "/etc/resolv.conf";

/// The name servers a [`DnsResolver`](crate::DnsResolver) asks, and how.
///
/// Each round asks every server in turn, each for `timeout`; there are
/// `attempts` rounds. A truncated UDP answer is asked again over TCP from
/// the same server.
///
/// ```
/// use std::time::Duration;
/// use torsion_dns::ResolverConfig;
///
/// let config = ResolverConfig::parse(
///     "# written by hand
///      nameserver 192.0.2.53
///      nameserver 2001:db8::53
///      options timeout:2 attempts:3 rotate",
/// );
/// assert_eq!(config.nameservers.len(), 2);
/// assert_eq!(config.nameservers[0], "192.0.2.53:53".parse().unwrap());
/// assert_eq!(config.timeout, Duration::from_secs(2));
/// assert_eq!(config.attempts, 3);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolverConfig {
    /// The servers, in the order they are asked.
    pub nameservers: Vec<SocketAddr>,
    /// How long one query to one server waits (`options timeout:N`; 5 s
    /// by default, as in the C library).
    pub timeout: Duration,
    /// How many rounds over the servers (`options attempts:N`; 2 by
    /// default).
    pub attempts: u32,
    /// The UDP payload size offered with EDNS(0), or `None` to send
    /// classic queries whose answers stop at 512 bytes. 1232 by default.
    pub edns_payload: Option<u16>,
}

/// The C library's defaults and bounds (resolv.conf(5)).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_TIMEOUT_SECONDS: u64 = 30;
const DEFAULT_ATTEMPTS: u32 = 2;
const MAX_ATTEMPTS: u32 = 5;
const DNS_PORT: u16 = 53;

impl Default for ResolverConfig {
    /// The local server (127.0.0.1:53), as the C library assumes when no
    /// `nameserver` line is given.
    fn default() -> Self {
        ResolverConfig::with_nameservers(vec![SocketAddr::new(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            DNS_PORT,
        )])
    }
}

impl ResolverConfig {
    /// These servers, with the default timeout, attempts and EDNS size.
    pub fn with_nameservers(nameservers: Vec<SocketAddr>) -> ResolverConfig {
        ResolverConfig {
            nameservers,
            timeout: DEFAULT_TIMEOUT,
            attempts: DEFAULT_ATTEMPTS,
            edns_payload: Some(crate::server::handler::MAX_UDP_PAYLOAD),
        }
    }

    /// Reads `resolv.conf` at `path` (see [`parse`](ResolverConfig::parse)).
    pub fn load(path: impl AsRef<Path>) -> Result<ResolverConfig, DnsError> {
        let path = path.as_ref();
        std::fs::read_to_string(path)
            .map(|text| ResolverConfig::parse(&text))
            .map_err(|source| DnsError::Config {
                path: path.to_path_buf(),
                source,
            })
    }

    /// The system's configuration, from [`SYSTEM_RESOLV_CONF`]; the
    /// defaults when there is no such file, as the C library does.
    pub fn system() -> Result<ResolverConfig, DnsError> {
        match ResolverConfig::load(SYSTEM_RESOLV_CONF) {
            Err(DnsError::Config { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Ok(ResolverConfig::default())
            }
            other => other,
        }
    }

    /// Reads the text of a `resolv.conf`: `nameserver ADDRESS` lines, and
    /// `timeout:N` and `attempts:N` among the `options` (bounded at 30 s
    /// and 5, as the C library bounds them). A nameserver may carry a port,
    /// `ADDRESS:PORT` or `[IPv6]:PORT`, which the C library would not
    /// read, so that a test can point at a server on a free port. Comments
    /// start with `#` or `;`; other keywords (`search`, `domain`, `sortlist`)
    /// and other options are ignored, and so is a line that cannot be read.
    /// Without a nameserver the local one is asked.
    pub fn parse(text: &str) -> ResolverConfig {
        let mut config = ResolverConfig::default();
        let mut nameservers = Vec::new();
        for line in text.lines() {
            let line = line.split(['#', ';']).next().unwrap_or_default();
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => {
                    if let Some(address) = words.next().and_then(nameserver) {
                        nameservers.push(address);
                    }
                }
                Some("options") => {
                    for option in words {
                        config.apply_option(option);
                    }
                }
                _ => {}
            }
        }
        if !nameservers.is_empty() {
            config.nameservers = nameservers;
        }
        config
    }

    fn apply_option(&mut self, option: &str) {
        let Some((name, value)) = option.split_once(':') else {
            return;
        };
        match (name, value.parse::<u64>()) {
            ("timeout", Ok(seconds)) => {
                self.timeout = Duration::from_secs(seconds.clamp(1, MAX_TIMEOUT_SECONDS));
            }
            ("attempts", Ok(attempts)) => {
                self.attempts = u32::try_from(attempts)
                    .unwrap_or(MAX_ATTEMPTS)
                    .clamp(1, MAX_ATTEMPTS);
            }
            _ => {}
        }
    }
}

/// A nameserver's address: an IP (port 53), or an IP with a port.
fn nameserver(word: &str) -> Option<SocketAddr> {
    if let Ok(ip) = word.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, DNS_PORT));
    }
    // An IPv6 address with a zone (fe80::1%eth0) names no port either.
    if let Some((ip, _zone)) = word.split_once('%')
        && let Ok(ip) = ip.parse::<IpAddr>()
    {
        return Some(SocketAddr::new(ip, DNS_PORT));
    }
    word.parse::<SocketAddr>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameservers_options_and_comments() {
        let config = ResolverConfig::parse(
            "; generated\n\
             search example.test\n\
             nameserver 192.0.2.1 # the first\n\
             nameserver ::1\n\
             nameserver 127.0.0.1:5353\n\
             nameserver [::1]:5354\n\
             nameserver not-an-address\n\
             options ndots:2 timeout:1 attempts:4\n",
        );
        assert_eq!(
            config.nameservers,
            [
                "192.0.2.1:53".parse().unwrap(),
                "[::1]:53".parse().unwrap(),
                "127.0.0.1:5353".parse().unwrap(),
                "[::1]:5354".parse().unwrap(),
            ]
        );
        assert_eq!(config.timeout, Duration::from_secs(1));
        assert_eq!(config.attempts, 4);
    }

    #[test]
    fn without_nameservers_the_local_server_is_asked_with_the_c_librarys_defaults() {
        let config = ResolverConfig::parse("search example.test\n");
        assert_eq!(config.nameservers, ["127.0.0.1:53".parse().unwrap()]);
        assert_eq!(config.timeout, Duration::from_secs(5));
        assert_eq!(config.attempts, 2);
    }

    #[test]
    fn timeout_and_attempts_are_bounded_as_the_c_library_bounds_them() {
        let config = ResolverConfig::parse("options timeout:600 attempts:99\n");
        assert_eq!(config.timeout, Duration::from_secs(30));
        assert_eq!(config.attempts, 5);
        let config = ResolverConfig::parse("options timeout:0 attempts:0\n");
        assert_eq!(config.timeout, Duration::from_secs(1));
        assert_eq!(config.attempts, 1);
        let config = ResolverConfig::parse("options timeout:x attempts:\n");
        assert_eq!(config, ResolverConfig::default());
    }

    #[test]
    fn a_missing_file_is_a_config_error_naming_it() {
        let error = ResolverConfig::load("no/such/resolv.conf").unwrap_err();
        assert!(matches!(&error, DnsError::Config { .. }), "{error}");
        assert!(error.to_string().contains("no/such/resolv.conf"));
    }

    #[test]
    fn a_scoped_ipv6_nameserver_is_asked_on_port_53() {
        let config = ResolverConfig::parse("nameserver fe80::1%eth0\n");
        assert_eq!(config.nameservers[0].port(), 53);
    }
}
