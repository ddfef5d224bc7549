//! torsion's HTTP client over TLS to torsion's own server: verified
//! against the certificate's CA, refused without it.

mod client_support;

use std::path::PathBuf;
use std::time::Duration;

use torsion::endpoints::server_from_string;
use torsion::net::Address;
use torsion_web::client::{Client, ClientError};
use torsion_web::{Body, Request, Response, Server};

use client_support::{run, self_signed};

/// The certificate and key written where a `tls:` endpoint reads them.
struct Files {
    certificate: PathBuf,
    key: PathBuf,
    pem: String,
}

impl Files {
    fn new(tag: &str) -> Files {
        let (pem, key_pem) = self_signed();
        let stem = format!("torsion-web-client-{tag}-{}", std::process::id());
        let certificate = std::env::temp_dir().join(format!("{stem}-cert.pem"));
        let key = std::env::temp_dir().join(format!("{stem}-key.pem"));
        std::fs::write(&certificate, &pem).unwrap();
        std::fs::write(&key, key_pem).unwrap();
        Files {
            certificate,
            key,
            pem,
        }
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.certificate);
        let _ = std::fs::remove_file(&self.key);
    }
}

fn hello(_request: Request) -> Response {
    Response::new(Body::from("hello over TLS"))
}

#[test]
fn the_client_verifies_the_server_with_its_ca_and_refuses_it_without() {
    let files = Files::new("ca");
    let description = format!(
        "tls:0:interface=127.0.0.1:privateKey={}:certKey={}",
        files.key.display(),
        files.certificate.display()
    );
    let pem = files.pem.clone();
    run(Duration::from_secs(20), move |reactor| async move {
        let endpoint = server_from_string(&reactor, &description)?;
        let listening = Server::new(hello).listen(&reactor, &endpoint).await?;
        let Address::Tcp(address) = listening.address().clone() else {
            panic!("a TCP address");
        };
        let url = format!("https://localhost:{}/", address.port());

        let trusting = Client::builder()
            .add_root_certificate_pem(&pem)?
            .build(&reactor);
        let response = trusting.get(&url).fetch().await?;
        assert_eq!(response.text(), "hello over TLS");
        // Verified by IP address too (the certificate names 127.0.0.1).
        let by_address = format!("https://127.0.0.1:{}/", address.port());
        assert_eq!(trusting.get(&by_address).fetch().await?.status(), 200);

        let failure = Client::new(&reactor).get(&url).send().await.unwrap_err();
        let error = failure
            .downcast_ref::<ClientError>()
            .expect("a client error");
        assert!(error.is_tls(), "{error}");
        assert!(
            error.to_string().contains("invalid peer certificate"),
            "{error}"
        );

        // Trusting no built-in root, and a certificate for another name.
        let (other, _) = self_signed();
        let only_other = Client::builder()
            .without_builtin_roots()
            .add_root_certificate_pem(&other)?
            .build(&reactor);
        let failure = only_other.get(&url).send().await.unwrap_err();
        assert!(failure.downcast_ref::<ClientError>().unwrap().is_tls());
        Ok(())
    });
}

#[test]
fn pem_text_without_a_certificate_is_refused_when_building() {
    let error = Client::builder()
        .add_root_certificate_pem("not a certificate")
        .unwrap_err();
    assert!(error.to_string().contains("no certificate"), "{error}");
}
