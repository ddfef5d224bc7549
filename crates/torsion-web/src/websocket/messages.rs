//! [`Messages`]: a connection's received messages as an async stream, for
//! code that would rather `await` than implement a protocol.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::task::{Poll, Waker};

use torsion::{Failure, Reactor};

use super::{CloseCode, CloseReason, Message, WebSocket, WebSocketProtocol};

#[derive(Default)]
struct Queue {
    items: VecDeque<Message>,
    reason: Option<CloseReason>,
    reader: Option<Waker>,
    ws: Option<WebSocket>,
    /// Messages held before the connection stops reading.
    limit: usize,
    paused: bool,
    receiver_gone: bool,
}

/// The messages a WebSocket receives, in order, as an async stream. When
/// [`WebSocketOptions::max_queued_messages`](super::WebSocketOptions::max_queued_messages)
/// are waiting unread, the connection stops reading from the peer until
/// half of them are taken, so a slow consumer slows the sender down rather
/// than filling memory. Dropping it discards further messages.
pub struct Messages {
    queue: Rc<RefCell<Queue>>,
}

impl Messages {
    /// The next message; `None` once the connection has closed (see
    /// [`close_reason`](Self::close_reason)).
    pub async fn next(&mut self) -> Option<Message> {
        let message = poll_fn(|cx| {
            let mut queue = self.queue.borrow_mut();
            if let Some(message) = queue.items.pop_front() {
                return Poll::Ready(Some(message));
            }
            if queue.reason.is_some() {
                return Poll::Ready(None);
            }
            queue.reader = Some(cx.waker().clone());
            Poll::Pending
        })
        .await;
        let resume = {
            let mut queue = self.queue.borrow_mut();
            let below_half = queue.items.len() <= queue.limit / 2;
            if queue.paused && below_half {
                queue.paused = false;
                queue.ws.clone()
            } else {
                None
            }
        };
        if let Some(ws) = resume {
            ws.resume_reading();
        }
        message
    }

    /// How the connection ended, once it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.queue.borrow().reason.clone()
    }

    /// Messages received and not yet taken.
    pub fn queued(&self) -> usize {
        self.queue.borrow().items.len()
    }
}

impl Drop for Messages {
    fn drop(&mut self) {
        let ws = {
            let mut queue = self.queue.borrow_mut();
            queue.receiver_gone = true;
            queue.items.clear();
            queue.paused = false;
            queue.ws.clone()
        };
        if let Some(ws) = ws {
            ws.resume_reading();
        }
    }
}

impl fmt::Debug for Messages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let queue = self.queue.borrow();
        f.debug_struct("Messages")
            .field("queued", &queue.items.len())
            .field("closed", &queue.reason)
            .finish()
    }
}

type OpenHook = Box<dyn FnOnce(&WebSocket)>;

/// The protocol behind a [`Messages`] stream: it queues what arrives.
pub(crate) struct QueueProtocol {
    queue: Rc<RefCell<Queue>>,
    on_open: Option<OpenHook>,
}

impl QueueProtocol {
    /// A protocol and the stream it feeds, holding up to `limit` messages.
    pub(crate) fn new(limit: usize) -> (QueueProtocol, Messages) {
        let queue = Rc::new(RefCell::new(Queue {
            limit: limit.max(1),
            ..Queue::default()
        }));
        let protocol = QueueProtocol {
            queue: queue.clone(),
            on_open: None,
        };
        (protocol, Messages { queue })
    }

    /// Also runs `f` when the connection opens.
    pub(crate) fn on_open(mut self, f: impl FnOnce(&WebSocket) + 'static) -> QueueProtocol {
        self.on_open = Some(Box::new(f));
        self
    }
}

impl WebSocketProtocol for QueueProtocol {
    fn opened(&mut self, ws: &WebSocket) {
        self.queue.borrow_mut().ws = Some(ws.clone());
        if let Some(on_open) = self.on_open.take() {
            on_open(ws);
        }
    }

    fn message_received(&mut self, message: Message) {
        let mut queue = self.queue.borrow_mut();
        if queue.receiver_gone {
            return;
        }
        queue.items.push_back(message);
        if let Some(reader) = queue.reader.take() {
            reader.wake();
        }
        if queue.items.len() >= queue.limit && !queue.paused {
            queue.paused = true;
            let ws = queue.ws.clone();
            drop(queue);
            if let Some(ws) = ws {
                ws.pause_reading();
            }
        }
    }

    fn closed(&mut self, reason: &CloseReason) {
        let mut queue = self.queue.borrow_mut();
        queue.reason = Some(reason.clone());
        queue.ws = None;
        if let Some(reader) = queue.reader.take() {
            reader.wake();
        }
    }
}

/// Runs an async connection handler on the reactor; when it returns the
/// connection is closed normally, and if it panics, with 1011.
pub(crate) fn spawn_handler(ws: WebSocket, handler: impl Future<Output = ()> + 'static) {
    let Some(reactor) = Reactor::current() else {
        tracing::error!("a WebSocket handler was started off a reactor thread");
        ws.abort();
        return;
    };
    drop(reactor.spawn(async move {
        let mut handler = std::pin::pin!(handler);
        let outcome =
            poll_fn(
                |cx| match catch_unwind(AssertUnwindSafe(|| handler.as_mut().poll(cx))) {
                    Ok(Poll::Pending) => Poll::Pending,
                    Ok(Poll::Ready(())) => Poll::Ready(Ok(())),
                    Err(payload) => Poll::Ready(Err(Failure::from_panic(payload))),
                },
            )
            .await;
        match outcome {
            Ok(()) => ws.close(CloseCode::Normal, ""),
            Err(failure) => {
                tracing::error!(
                    peer = %ws.peer(),
                    %failure,
                    "a WebSocket handler panicked; closing its connection with 1011"
                );
                ws.connection
                    .borrow_mut()
                    .fail(CloseCode::Error, "internal error");
            }
        }
        Ok::<(), Failure>(())
    }));
}
