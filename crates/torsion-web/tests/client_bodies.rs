//! Bodies the client decodes or encodes: gzip and deflate responses (from
//! Python's http.server and from a torsion-web server streaming them), a
//! gzip bomb stopped by the size limit, text in the Content-Type's
//! charset, and multipart/form-data uploads read by Python's email parser
//! and by a torsion-web server parsing with `multer`.

mod support;

use std::convert::Infallible;
use std::io::Write;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};
use torsion::Failure;
use torsion_web::client::{Client, ClientError, Multipart};
use torsion_web::http::HeaderValue;
use torsion_web::{Body, BodyError, Reply, Request, Response};

use support::{PythonPeer, json_response, run, serve_local};

const LIMIT: Duration = Duration::from_secs(30);
const TEXT: &str = "zlib and gzip, decoded by the client\n";

fn body_error(failure: &Failure) -> Option<&BodyError> {
    match failure.find::<ClientError>()? {
        ClientError::Body(error) => Some(error),
        _ => None,
    }
}

#[test]
fn gzip_and_deflate_bodies_from_python_are_decoded_and_can_be_left_alone() {
    let peer = PythonPeer::start();
    let url = move |path: &str| peer.url(path);
    let urls: Vec<String> = ["/coded/gzip", "/coded/deflate", "/coded/raw-deflate"]
        .iter()
        .map(|path| url(path))
        .collect();
    run(LIMIT, move |reactor| async move {
        let client = Client::new(&reactor);
        for url in &urls {
            let response = client.get(url).send().await?;
            let headers = response.headers().clone();
            assert_eq!(headers["x-accept-encoding"], "gzip, deflate", "{url}");
            assert!(headers.get("content-encoding").is_none(), "{url}");
            assert!(response.content_length().is_none(), "{url}");
            assert_eq!(response.text().await?, TEXT.repeat(200), "{url}");
        }
        let raw = client.get(&urls[0]).decode(false).fetch().await?;
        assert_eq!(raw.headers()["content-encoding"], "gzip");
        assert_eq!(raw.headers()["x-accept-encoding"], "", "not offered");
        assert_eq!(&raw.bytes()[..2], b"\x1f\x8b", "the gzip magic, undecoded");
        let undecoding = Client::builder().decode(false).build(&reactor);
        let raw = undecoding.get(&urls[1]).fetch().await?;
        assert_eq!(raw.headers()["content-encoding"], "deflate");
        assert!(raw.bytes().len() < TEXT.len() * 200);
        Ok(())
    });
}

#[test]
fn a_gzip_bomb_fails_at_the_limit_on_its_decoded_size() {
    let peer = PythonPeer::start();
    // 64 MiB of zeros, about 64 KiB gzipped.
    let bomb = peer.url(&format!("/coded/bomb?size={}", 64 << 20));
    let small = peer.url("/coded/gzip");
    run(LIMIT, move |reactor| async move {
        let limit = 1 << 20;
        let client = Client::builder().max_body_size(limit).build(&reactor);
        let failure = client.get(&bomb).fetch().await.unwrap_err();
        assert!(
            matches!(
                body_error(&failure),
                Some(BodyError::TooLarge { limit: 1048576 })
            ),
            "{failure}"
        );
        assert!(failure.to_string().contains("1048576"), "{failure}");

        // Read piece by piece, the reader gets at most the limit and
        // pieces of bounded size before the error.
        let mut response = client.get(&bomb).send().await?;
        let mut read = 0;
        let error = loop {
            match response.chunk().await {
                Some(Ok(piece)) => {
                    assert!(piece.len() <= 256 * 1024, "{}", piece.len());
                    read += piece.len() as u64;
                }
                Some(Err(error)) => break error,
                None => panic!("the bomb ended after {read} bytes"),
            }
        };
        assert!(read <= limit, "{read}");
        assert!(body_error(&error).is_some(), "{error}");

        // Small bodies are fine under the same limit; a request may raise it.
        assert_eq!(client.get(&small).fetch().await?.text(), TEXT.repeat(200));
        let whole = client.get(&bomb).max_body_size(65 << 20).fetch().await?;
        assert_eq!(whole.bytes().len(), 64 << 20);
        assert!(whole.bytes().iter().all(|byte| *byte == 0));
        Ok(())
    });
}

/// Streams `TEXT` x 2000, gzipped, in small chunks with the right headers.
fn gzip_streamer(_request: Request) -> Reply {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(TEXT.repeat(2000).as_bytes()).unwrap();
    let compressed = Bytes::from(encoder.finish().unwrap());
    let (sender, body) = Body::channel(64 * 1024);
    for chunk in compressed.chunks(100) {
        sender.send(Bytes::copy_from_slice(chunk)).unwrap();
    }
    sender.finish();
    let mut response = Response::new(body);
    response
        .headers_mut()
        .insert("content-encoding", HeaderValue::from_static("gzip"));
    Reply::from(response)
}

#[test]
fn a_gzip_body_streamed_by_a_torsion_server_decodes_and_passes_on_as_a_body() {
    run(LIMIT, |reactor| async move {
        let (base, _server) = serve_local(&reactor, gzip_streamer).await?;
        let client = Client::new(&reactor);
        let text = client.get(&base).fetch().await?.text();
        assert_eq!(text, TEXT.repeat(2000));
        let body = client.get(&base).send().await?.into_body();
        assert_eq!(body.bytes().await?, TEXT.repeat(2000).as_bytes());
        Ok(())
    });
}

#[test]
fn text_follows_the_charset_of_the_content_type() {
    let peer = PythonPeer::start();
    let url = |name: &str| peer.url(&format!("/charset/{name}"));
    let urls: Vec<(String, &str)> = vec![
        (url("iso-8859-1"), "café €"),
        (url("windows-1252"), "café €"),
        (url("utf-8"), "café €"),
        (url("none"), "café €"),
    ];
    let none = url("none");
    run(LIMIT, move |reactor| async move {
        let client = Client::new(&reactor);
        for (url, expected) in &urls {
            assert_eq!(
                client.get(url).send().await?.text().await?,
                *expected,
                "{url}"
            );
            assert_eq!(client.get(url).fetch().await?.text(), *expected, "{url}");
        }
        let latin = client.get(&urls[0].0).fetch().await?;
        assert_eq!(latin.bytes().as_ref(), b"caf\xe9 \x80");
        // No charset named: the default given is used (treq's
        // text_content(response, encoding)).
        let full = client.get(&none).fetch().await?;
        assert_eq!(full.text_with_default("iso-8859-1"), "cafÃ© â‚¬");
        let streamed = client.get(&none).send().await?;
        assert_eq!(streamed.text_with_default("latin1").await?, "cafÃ© â‚¬");
        Ok(())
    });
}

/// Every byte value, and lines that look like a boundary.
fn binary_content() -> Vec<u8> {
    let mut content: Vec<u8> = (0..=255).collect();
    content.extend_from_slice(b"\r\n--\r\n--boundary\r\n\r\nend\n");
    content
}

fn upload_form() -> Multipart {
    Multipart::new()
        .text("title", "holiday snaps")
        .text("caption", "café, \"quoted\"")
        .file(
            "photo",
            "beach.bin",
            "application/octet-stream",
            binary_content(),
        )
        .file(
            "notes",
            "notes.txt",
            "text/plain",
            "line 1\r\nline 2\nline 3",
        )
}

fn expected_parts() -> Value {
    let b64 = |data: &[u8]| base64::engine::general_purpose::STANDARD.encode(data);
    json!([
        {"name": "title", "filename": null, "base64": b64(b"holiday snaps")},
        {"name": "caption", "filename": null, "base64": b64("café, \"quoted\"".as_bytes())},
        {"name": "photo", "filename": "beach.bin", "content_type": "application/octet-stream",
         "base64": b64(&binary_content())},
        {"name": "notes", "filename": "notes.txt", "content_type": "text/plain",
         "base64": b64(b"line 1\r\nline 2\nline 3")},
    ])
}

/// The parts as the tests compare them: name, file name, content type
/// (files only) and content.
fn comparable(parts: &Value) -> Value {
    Value::Array(
        parts
            .as_array()
            .unwrap()
            .iter()
            .map(|part| {
                let mut kept = json!({
                    "name": part["name"],
                    "filename": part["filename"],
                    "base64": part["base64"],
                });
                if !part["filename"].is_null() {
                    kept["content_type"] = part["content_type"].clone();
                }
                kept
            })
            .collect(),
    )
}

#[test]
fn a_multipart_upload_reaches_python_intact() {
    let peer = PythonPeer::start();
    let upload = peer.url("/upload");
    run(LIMIT, move |reactor| async move {
        let client = Client::new(&reactor);
        let reply: Value = client
            .post(&upload)
            .multipart(upload_form())
            .fetch()
            .await?
            .json()?;
        assert_eq!(reply["multipart"], true, "{reply}");
        assert_eq!(reply["defects"], json!([]), "{reply}");
        assert_eq!(comparable(&reply["parts"]), expected_parts());
        Ok(())
    });
}

/// Parses a multipart/form-data request with `multer` and answers with its
/// parts as JSON.
fn multer_receiver(request: Request) -> Reply {
    Reply::later(async move {
        let content_type = request.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let body = request.into_body().bytes().await?;
        let boundary = multer::parse_boundary(&content_type).map_err(Failure::new)?;
        let stream = futures_util::stream::once(async move { Ok::<Bytes, Infallible>(body) });
        let mut form = multer::Multipart::new(stream, boundary);
        let mut parts = Vec::new();
        while let Some(field) = form.next_field().await.map_err(Failure::new)? {
            let name = field.name().map(str::to_owned);
            let file_name = field.file_name().map(str::to_owned);
            let content_type = field.content_type().map(|mime| mime.to_string());
            let content = field.bytes().await.map_err(Failure::new)?;
            parts.push(json!({
                "name": name,
                "filename": file_name,
                "content_type": content_type,
                "base64": base64::engine::general_purpose::STANDARD.encode(&content),
            }));
        }
        Ok::<_, Failure>(json_response(
            torsion_web::http::StatusCode::OK,
            &Value::Array(parts),
        ))
    })
}

#[test]
fn a_multipart_upload_reaches_a_torsion_server_intact_and_survives_a_307() {
    run(LIMIT, |reactor| async move {
        let receiver = |request: Request| -> Reply {
            if request.uri().path() == "/old" {
                return Reply::from(support::redirect(307, "/new"));
            }
            multer_receiver(request)
        };
        let (base, _server) = serve_local(&reactor, receiver).await?;
        let client = Client::new(&reactor);
        let parts: Value = client
            .post(&format!("{base}/new"))
            .multipart(upload_form())
            .fetch()
            .await?
            .json()?;
        assert_eq!(comparable(&parts), expected_parts());
        let moved = client
            .post(&format!("{base}/old"))
            .multipart(upload_form())
            .fetch()
            .await?;
        assert_eq!(moved.history().len(), 1);
        assert_eq!(comparable(&moved.json()?), expected_parts(), "sent again");
        Ok(())
    });
}
