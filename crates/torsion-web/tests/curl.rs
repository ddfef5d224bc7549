//! The server answers a real HTTP client (curl) over loopback.

mod support;

use std::process::Command;

use torsion::Failure;
use torsion::net::Address;
use torsion_web::{Body, Reply, Request, RequestExt, Response};

use support::with_server;

#[test]
fn curl_gets_answers_from_a_plain_and_a_deferred_resource_on_one_connection() {
    let resource = |request: Request| -> Reply {
        let peer = request.connection().map(|info| info.peer.clone());
        assert!(matches!(peer, Some(Address::Tcp(_))));
        match request.uri().path() {
            "/now" => Response::new(Body::from("now\n")).into(),
            _ => Reply::later(async { Ok::<_, Failure>(Response::new(Body::from("later\n"))) }),
        }
    };
    with_server(resource, |reactor, port| async move {
        let output = reactor
            .defer_to_thread(move || {
                Command::new("curl")
                    .args(["-sS", "--max-time", "10"])
                    .arg(format!("http://127.0.0.1:{port}/now"))
                    .arg(format!("http://127.0.0.1:{port}/later"))
                    .output()
            })
            .await??;
        assert!(output.status.success(), "{output:?}");
        assert_eq!(String::from_utf8_lossy(&output.stdout), "now\nlater\n");
        Ok(())
    });
}
