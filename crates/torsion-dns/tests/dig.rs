//! BIND's `dig` (Debian's dnsutils) asks torsion's server, over UDP and
//! over TCP, for every kind of answer the zone gives; an answer too big
//! for UDP comes back truncated, and dig gets it whole over TCP.

mod support;

use std::process::Command;

use support::{blocking, run, serve};
use torsion::Failure;

/// What dig printed, read into the parts the tests look at.
#[derive(Debug, Default)]
struct Dig {
    text: String,
    status: String,
    flags: Vec<String>,
    answer: Vec<String>,
    authority: Vec<String>,
    additional: Vec<String>,
}

impl Dig {
    fn parse(text: String) -> Dig {
        let mut dig = Dig::default();
        let mut section: Option<&mut Vec<String>> = None;
        for line in text.lines() {
            if let Some(rest) = line.split("status: ").nth(1) {
                dig.status = rest.split(',').next().unwrap().to_owned();
            } else if let Some(rest) = line.strip_prefix(";; flags: ") {
                let flags = rest.split(';').next().unwrap();
                dig.flags = flags.split_whitespace().map(str::to_owned).collect();
            } else if line.starts_with(";; ANSWER SECTION") {
                section = Some(&mut dig.answer);
            } else if line.starts_with(";; AUTHORITY SECTION") {
                section = Some(&mut dig.authority);
            } else if line.starts_with(";; ADDITIONAL SECTION") {
                section = Some(&mut dig.additional);
            } else if line.trim().is_empty() || line.starts_with(';') {
                section = None;
            } else if let Some(records) = section.as_mut() {
                // One space between fields, whatever dig aligned them with.
                records.push(line.split_whitespace().collect::<Vec<_>>().join(" "));
            }
        }
        dig.text = text;
        dig
    }

    fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
}

/// Runs dig against 127.0.0.1:`port` with `args`, one try, off the
/// reactor thread.
async fn dig(reactor: &torsion::Reactor, port: u16, args: &[&str]) -> Result<Dig, Failure> {
    let mut command = Command::new("dig");
    command.args(["@127.0.0.1", "-p", &port.to_string(), "+tries=1", "+time=5"]);
    command.args(args);
    let output = blocking(reactor, move || command.output())
        .await?
        .map_err(|error| {
            Failure::new(std::io::Error::other(format!(
                "cannot run dig ({error}): install dnsutils, as scripts/test does"
            )))
        })?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "dig failed: {text}");
    Ok(Dig::parse(text))
}

#[test]
fn dig_gets_addresses_over_udp_and_tcp() {
    run(20, |reactor| async move {
        let port = serve(&reactor).address().port();
        for transport in ["+notcp", "+tcp"] {
            let a = dig(&reactor, port, &[transport, "www.example.test", "A"]).await?;
            assert_eq!(a.status, "NOERROR", "{}", a.text);
            assert!(a.has_flag("qr") && a.has_flag("aa"), "{}", a.text);
            assert!(!a.has_flag("tc"));
            assert_eq!(a.answer, ["www.example.test. 300 IN A 192.0.2.80"]);
            let expected = if transport == "+tcp" {
                "(TCP)"
            } else {
                "(UDP)"
            };
            assert!(a.text.contains(expected), "{}", a.text);

            let aaaa = dig(&reactor, port, &[transport, "WWW.EXAMPLE.TEST", "AAAA"]).await?;
            assert_eq!(aaaa.answer, ["WWW.EXAMPLE.TEST. 3600 IN AAAA 2001:db8::80"]);
        }
        Ok(())
    });
}

#[test]
fn dig_gets_mail_exchanges_with_their_addresses() {
    run(20, |reactor| async move {
        let port = serve(&reactor).address().port();
        for transport in ["+notcp", "+tcp"] {
            let mx = dig(&reactor, port, &[transport, "example.test", "MX"]).await?;
            assert_eq!(mx.status, "NOERROR");
            assert_eq!(
                mx.answer,
                [
                    "example.test. 3600 IN MX 10 mail.example.test.",
                    "example.test. 3600 IN MX 20 mail.example.net.",
                ]
            );
            assert_eq!(
                mx.additional,
                [
                    "mail.example.test. 3600 IN A 192.0.2.25",
                    "mail.example.test. 3600 IN AAAA 2001:db8::25",
                ]
            );
        }
        Ok(())
    });
}

#[test]
fn dig_follows_a_cname_chain_to_the_address() {
    run(20, |reactor| async move {
        let port = serve(&reactor).address().port();
        for transport in ["+notcp", "+tcp"] {
            let chain = dig(&reactor, port, &[transport, "chain.example.test", "A"]).await?;
            assert_eq!(chain.status, "NOERROR");
            assert_eq!(
                chain.answer,
                [
                    "chain.example.test. 3600 IN CNAME alias.example.test.",
                    "alias.example.test. 3600 IN CNAME www.example.test.",
                    "www.example.test. 300 IN A 192.0.2.80",
                ]
            );
        }
        Ok(())
    });
}

#[test]
fn dig_gets_nxdomain_with_the_soa_in_authority() {
    run(20, |reactor| async move {
        let port = serve(&reactor).address().port();
        for transport in ["+notcp", "+tcp"] {
            let missing = dig(&reactor, port, &[transport, "nowhere.example.test", "A"]).await?;
            assert_eq!(missing.status, "NXDOMAIN", "{}", missing.text);
            assert!(missing.has_flag("aa"));
            assert!(missing.answer.is_empty());
            assert_eq!(
                missing.authority,
                [
                    "example.test. 300 IN SOA ns1.example.test. hostmaster.example.test. \
                  2024010101 7200 900 1209600 300"
                ]
            );
        }
        Ok(())
    });
}

#[test]
fn dig_is_refused_a_name_outside_the_zone() {
    run(20, |reactor| async move {
        let port = serve(&reactor).address().port();
        for transport in ["+notcp", "+tcp"] {
            let outside = dig(&reactor, port, &[transport, "www.example.net", "A"]).await?;
            assert_eq!(outside.status, "REFUSED", "{}", outside.text);
            assert!(!outside.has_flag("aa"));
            assert!(outside.answer.is_empty());
        }
        Ok(())
    });
}

#[test]
fn an_answer_over_512_bytes_is_truncated_and_dig_gets_it_over_tcp() {
    run(20, |reactor| async move {
        let port = serve(&reactor).address().port();
        // Without EDNS, 512 bytes: told to ignore TC, dig shows the
        // truncated answer as it came.
        let cut = dig(
            &reactor,
            port,
            &["+noedns", "+ignore", "medium.example.test", "TXT"],
        )
        .await?;
        assert!(cut.has_flag("tc"), "{}", cut.text);
        assert!(cut.answer.is_empty());
        // Left to itself, dig asks again over TCP and gets the three TXT.
        let whole = dig(&reactor, port, &["+noedns", "medium.example.test", "TXT"]).await?;
        assert!(
            whole.text.contains("Truncated, retrying in TCP mode"),
            "{}",
            whole.text
        );
        assert!(!whole.has_flag("tc"));
        assert_eq!(whole.answer.len(), 3, "{}", whole.text);
        assert!(whole.text.contains("(TCP)"));
        // With EDNS (dig offers 1232 bytes) the same answer fits in UDP...
        let fits = dig(&reactor, port, &["medium.example.test", "TXT"]).await?;
        assert!(!fits.text.contains("Truncated"), "{}", fits.text);
        assert_eq!(fits.answer.len(), 3);
        // ...and one past the EDNS size is truncated and fetched over TCP.
        let big = dig(&reactor, port, &["big.example.test", "TXT"]).await?;
        assert!(
            big.text.contains("Truncated, retrying in TCP mode"),
            "{}",
            big.text
        );
        assert_eq!(big.answer.len(), 8, "{}", big.text);
        Ok(())
    });
}
