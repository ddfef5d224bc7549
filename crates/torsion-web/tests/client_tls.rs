//! torsion's HTTP client over TLS to torsion's own server: verified
//! against the certificate's CA, refused without it.

mod support;

use std::time::Duration;

use torsion_web::client::{Client, ClientError};
use torsion_web::{Body, Request, Response, Server};

use support::{TestCertificate, listen, run, self_signed};

fn hello(_request: Request) -> Response {
    Response::new(Body::from("hello over TLS"))
}

#[test]
fn the_client_verifies_the_server_with_its_ca_and_refuses_it_without() {
    let certificate = TestCertificate::new("client-ca");
    let description = certificate.endpoint();
    let pem = certificate.pem.clone();
    run(Duration::from_secs(20), move |reactor| async move {
        let (address, _listening) = listen(&reactor, &Server::new(hello), &description).await?;
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
