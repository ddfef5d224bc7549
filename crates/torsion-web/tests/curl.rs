//! The server answers a real HTTP client (curl) over loopback.

use std::process::Command;

use torsion::endpoints::server_from_string;
use torsion::net::Address;
use torsion::{Failure, Reactor};
use torsion_web::{Body, ConnectionInfo, Reply, Request, Response, Server};

#[test]
fn curl_gets_answers_from_a_plain_and_a_deferred_resource_on_one_connection() {
    let reactor = Reactor::new().unwrap();
    let server = Server::new(|request: Request| -> Reply {
        let peer = request
            .extensions()
            .get::<ConnectionInfo>()
            .map(|info| info.peer.clone());
        assert!(matches!(peer, Some(Address::Tcp(_))));
        match request.uri().path() {
            "/now" => Response::new(Body::from("now\n")).into(),
            _ => Reply::later(async { Ok::<_, Failure>(Response::new(Body::from("later\n"))) }),
        }
    });
    let endpoint = server_from_string(&reactor, "tcp:0:interface=127.0.0.1").unwrap();
    let listening = server.listen(&reactor, &endpoint);
    let handle = reactor.handle();
    let r = reactor.clone();
    drop(reactor.spawn(async move {
        let listening = listening.await?;
        let Address::Tcp(address) = listening.address().clone() else {
            panic!("a TCP address");
        };
        let output = r
            .defer_to_thread(move || {
                Command::new("curl")
                    .args(["-sS", "--max-time", "10"])
                    .arg(format!("http://{address}/now"))
                    .arg(format!("http://{address}/later"))
                    .output()
            })
            .await??;
        assert!(output.status.success(), "{output:?}");
        assert_eq!(String::from_utf8_lossy(&output.stdout), "now\nlater\n");
        handle.stop().unwrap();
        Ok::<(), Failure>(())
    }));
    reactor.run().unwrap();
}
