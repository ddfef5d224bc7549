//! A klein-style application: routes with typed parameters, JSON in and
//! out, a sub-router mounted under `/api`, and state shared by every
//! handler (an in-memory notes store on the reactor thread, no locks).
//!
//! ```text
//! cargo run -p torsion-web --example klein_app -- --listen tcp:8080:interface=127.0.0.1
//! curl localhost:8080/
//! curl -H 'content-type: application/json' -d '{"text":"buy milk"}' localhost:8080/api/notes
//! curl localhost:8080/api/notes/1
//! curl localhost:8080/hello/world
//! ```

use std::cell::RefCell;
use std::collections::BTreeMap;

use clap::Parser;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use torsion::Reactor;
use torsion::endpoints::server_from_string;
use torsion_web::respond::{ResponseExt, json, request_json, text};
use torsion_web::{HttpError, Reply, Request, RequestExt, Response, Router, Server};

#[derive(Parser)]
struct Args {
    /// Where to listen, as a torsion endpoint string.
    #[arg(long, default_value = "tcp:8080:interface=127.0.0.1")]
    listen: String,
}

/// The application's state: lives on the reactor thread, so a RefCell.
#[derive(Default)]
struct Notes {
    next_id: RefCell<u64>,
    by_id: RefCell<BTreeMap<u64, Note>>,
}

#[derive(Clone, Serialize)]
struct Note {
    id: u64,
    text: String,
}

#[derive(Deserialize)]
struct NewNote {
    text: String,
}

fn create_note(request: Request) -> Reply {
    Reply::later(async move {
        let notes = request.state::<Notes>()?;
        let new: NewNote = request_json(request).await?;
        if new.text.trim().is_empty() {
            return Err(HttpError::bad_request("a note needs some text"));
        }
        let id = {
            let mut next = notes.next_id.borrow_mut();
            *next += 1;
            *next
        };
        let note = Note { id, text: new.text };
        notes.by_id.borrow_mut().insert(id, note.clone());
        Ok(json(&note).with_status(StatusCode::CREATED))
    })
}

fn show_note(request: Request) -> Result<Response, HttpError> {
    let id: u64 = request.param("id")?;
    let notes = request.state::<Notes>()?;
    let note = notes.by_id.borrow().get(&id).cloned();
    note.map(|note| json(&note))
        .ok_or_else(|| HttpError::not_found(format!("no note {id}")))
}

fn list_notes(request: Request) -> Result<Response, HttpError> {
    let notes = request.state::<Notes>()?;
    let all: Vec<Note> = notes.by_id.borrow().values().cloned().collect();
    Ok(json(&all))
}

fn delete_note(request: Request) -> Result<Response, HttpError> {
    let id: u64 = request.param("id")?;
    let notes = request.state::<Notes>()?;
    match notes.by_id.borrow_mut().remove(&id) {
        Some(_) => Ok(torsion_web::respond::status(StatusCode::NO_CONTENT)),
        None => Err(HttpError::not_found(format!("no note {id}"))),
    }
}

fn app() -> Router {
    let api = Router::new()
        .get("/notes", list_notes)
        .post("/notes", create_note)
        .get("/notes/{id:int}", show_note)
        .delete("/notes/{id:int}", delete_note);
    Router::with_state(Notes::default())
        .get("/", |_request: Request| {
            text("torsion klein_app: try /hello/{name} and /api/notes\n")
        })
        .get(
            "/hello/{name}",
            |request: Request| -> Result<Response, HttpError> {
                let name: String = request.param("name")?;
                Ok(text(format!("hello, {name}!\n")))
            },
        )
        .mount("/api", api)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let reactor = Reactor::new()?;
    let endpoint = server_from_string(&reactor, &args.listen)?;
    let listening = Server::new(app())
        .listen(&reactor, &endpoint)
        .map(|listening| {
            println!("klein_app listening on {}", listening.address());
            listening
        });
    reactor.run()?;
    drop(listening);
    Ok(())
}
