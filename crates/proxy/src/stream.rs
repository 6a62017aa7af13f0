//! The agent-facing message streams of one session, with the buffering that resumption needs.
//!
//! Every message for the agent goes to exactly one stream: stream 0 is the session's standing
//! stream (the Streamable HTTP GET stream, or the legacy SSE stream); every POST that carries
//! requests gets a stream of its own, which ends once all its responses are out. Each stream keeps
//! a bounded buffer of its events, so an agent that lost the connection can resume with
//! `Last-Event-ID: <stream>-<seq>` (event ids are unique per session). A stream without a live
//! connection keeps buffering (bounded) until one attaches.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use std::future::Future;

use futures::Stream;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;
use tokio_util::sync::CancellationToken;

pub(crate) type StreamId = u64;

/// The standing stream of a session.
pub(crate) const STANDING: StreamId = 0;

/// The reconnection delay Airlock's SSE streams announce (their priming event's `retry`).
const RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// How many finished request streams a session remembers for resumption.
const KEEP_DONE: usize = 32;

/// One item for an SSE body.
#[derive(Debug, Clone)]
pub(crate) enum SseItem {
    Message { id: Option<String>, data: Arc<str> },
    Endpoint(String),
}

struct Buffered {
    seq: u64,
    data: Arc<str>,
}

pub(crate) struct StreamState {
    buffer: VecDeque<Buffered>,
    next_seq: u64,
    /// Highest seq handed to a live connection.
    sent_upto: u64,
    live: Option<mpsc::UnboundedSender<SseItem>>,
    /// Responses still expected; `None` for the standing stream, which never ends by itself.
    expect: Option<usize>,
    /// For a 2025-03-26 batch: the responses collected so far, sent as one array at the end.
    batch: Option<Vec<Value>>,
    /// Fired when the agent drops the connection of this stream before it ended.
    pub(crate) disconnected: CancellationToken,
    /// Whether event ids are written (Streamable HTTP) or not (legacy SSE).
    ids: bool,
    /// The HTTP status of the answer when it goes as a plain JSON body and is not 200 (a
    /// stateless upstream's 400 or 404, relayed as the server sent it); 0 for none.
    status: Arc<AtomicU16>,
}

impl StreamState {
    pub(crate) fn done(&self) -> bool {
        self.expect == Some(0)
    }

    pub(crate) fn is_live(&self) -> bool {
        self.live.as_ref().is_some_and(|l| !l.is_closed())
    }
}

/// All streams of one session.
pub(crate) struct Streams {
    map: BTreeMap<StreamId, StreamState>,
    next_id: StreamId,
    capacity: usize,
}

impl Streams {
    pub(crate) fn new(capacity: usize, ids: bool) -> Self {
        let mut map = BTreeMap::new();
        map.insert(STANDING, StreamState::new(None, ids));
        Self {
            map,
            next_id: 1,
            capacity: capacity.max(1),
        }
    }

    /// Opens a stream for a POST carrying `requests` requests (batch: collect responses).
    pub(crate) fn open(&mut self, requests: usize, batch: bool) -> StreamId {
        let id = self.next_id;
        self.next_id += 1;
        let ids = self.map.get(&STANDING).is_none_or(|s| s.ids);
        let mut s = StreamState::new(Some(requests), ids);
        if batch {
            s.batch = Some(Vec::with_capacity(requests));
        }
        self.map.insert(id, s);
        self.evict();
        id
    }

    pub(crate) fn get(&self, id: StreamId) -> Option<&StreamState> {
        self.map.get(&id)
    }

    /// True while the agent holds any stream of the session open (the standing GET stream, or a
    /// request still being answered).
    pub(crate) fn any_live(&self) -> bool {
        self.map.values().any(StreamState::is_live)
    }

    /// The newest request stream that is still open and connected, if any.
    pub(crate) fn newest_open(&self) -> Option<StreamId> {
        self.map
            .iter()
            .rev()
            .find(|(id, s)| **id != STANDING && !s.done() && s.is_live())
            .map(|(id, _)| *id)
    }

    /// Connects an SSE body to a stream, replaying what the agent has not seen: events after
    /// `after` when resuming, else everything not yet handed to a connection.
    pub(crate) fn attach(&mut self, id: StreamId, after: Option<u64>) -> Option<SseBody> {
        let s = self.map.get_mut(&id)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let from = after.unwrap_or(s.sent_upto);
        for b in s.buffer.iter().filter(|b| b.seq > from) {
            let _ = tx.send(s.item(id, b.seq, b.data.clone()));
            s.sent_upto = s.sent_upto.max(b.seq);
        }
        s.live = if s.done() { None } else { Some(tx) };
        Some(SseBody {
            rx,
            ahead: VecDeque::new(),
            ended: false,
            on_drop: s.disconnected.clone(),
            on_close: None,
            status: s.status.clone(),
            priming: s.ids.then(|| format!("{id}-{from}")),
        })
    }

    /// Sends a first item (the legacy `endpoint` event) on a live stream.
    pub(crate) fn send_raw(&mut self, id: StreamId, item: SseItem) {
        if let Some(live) = self.map.get(&id).and_then(|s| s.live.as_ref()) {
            let _ = live.send(item);
        }
    }

    /// Delivers one message. A response counts towards the stream's end.
    pub(crate) fn deliver(&mut self, id: StreamId, msg: &Value, is_response: bool) {
        let capacity = self.capacity;
        let Some(s) = self.map.get_mut(&id) else {
            tracing::debug!(stream = id, "message for a forgotten stream dropped");
            return;
        };
        if s.done() {
            tracing::debug!(stream = id, "message for a finished stream dropped");
            return;
        }
        if is_response && let Some(batch) = s.batch.as_mut() {
            batch.push(msg.clone());
            if let Some(n) = s.expect.as_mut() {
                *n = n.saturating_sub(1);
            }
            if s.done() {
                let all = Value::Array(s.batch.take().unwrap_or_default());
                s.push(id, &all, capacity);
                s.live = None;
            }
            return;
        }
        s.push(id, msg, capacity);
        if is_response {
            s.response_done();
        }
    }

    /// The HTTP status the stream's answer should carry when it is a plain JSON body (set before
    /// delivering the response it belongs to).
    pub(crate) fn set_status(&mut self, id: StreamId, status: u16) {
        if let Some(s) = self.map.get(&id) {
            s.status.store(status, Ordering::Relaxed);
        }
    }

    /// Ends one expected response of a stream without sending anything (a withdrawn call).
    pub(crate) fn skip_response(&mut self, id: StreamId) {
        if let Some(s) = self.map.get_mut(&id) {
            s.response_done();
        }
    }

    /// Ends every stream (the session is over).
    pub(crate) fn close_all(&mut self) {
        for s in self.map.values_mut() {
            s.live = None;
        }
    }

    fn evict(&mut self) {
        let done: Vec<StreamId> = self
            .map
            .iter()
            .filter(|(id, s)| **id != STANDING && s.done())
            .map(|(id, _)| *id)
            .collect();
        if done.len() > KEEP_DONE {
            for id in &done[..done.len() - KEEP_DONE] {
                self.map.remove(id);
            }
        }
    }
}

impl StreamState {
    fn new(expect: Option<usize>, ids: bool) -> Self {
        Self {
            buffer: VecDeque::new(),
            next_seq: 1,
            sent_upto: 0,
            live: None,
            expect,
            batch: None,
            disconnected: CancellationToken::new(),
            ids,
            status: Arc::new(AtomicU16::new(0)),
        }
    }

    fn item(&self, stream: StreamId, seq: u64, data: Arc<str>) -> SseItem {
        SseItem::Message {
            id: self.ids.then(|| format!("{stream}-{seq}")),
            data,
        }
    }

    fn push(&mut self, stream: StreamId, msg: &Value, capacity: usize) {
        let data: Arc<str> = Arc::from(msg.to_string());
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some(live) = &self.live {
            if live.send(self.item(stream, seq, data.clone())).is_ok() {
                self.sent_upto = seq;
            } else {
                self.live = None;
            }
        }
        self.buffer.push_back(Buffered { seq, data });
        while self.buffer.len() > capacity {
            if let Some(old) = self.buffer.pop_front()
                && old.seq > self.sent_upto
            {
                tracing::warn!(
                    stream,
                    "buffer full: dropped a message no agent has received"
                );
            }
        }
    }

    fn response_done(&mut self) {
        if let Some(n) = self.expect.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                // Ends the SSE body once the receiver has drained.
                self.live = None;
            }
        }
    }
}

/// An SSE body fed by a stream. Dropped before the stream ended (the agent went away), it fires
/// the stream's `disconnected` token.
pub(crate) struct SseBody {
    rx: mpsc::UnboundedReceiver<SseItem>,
    /// Items taken from `rx` by [`SseBody::single`] that the stream still has to send.
    ahead: VecDeque<SseItem>,
    ended: bool,
    on_drop: CancellationToken,
    on_close: Option<Box<dyn FnOnce(bool) + Send>>,
    status: Arc<AtomicU16>,
    /// The priming event (SEP-1699) the stream starts with when it is sent as SSE: an event
    /// id to resume from, and the reconnection delay. Not sent when the answer goes as one JSON
    /// body.
    priming: Option<String>,
}

impl SseBody {
    /// Runs `f` when the body is dropped, with `true` if the stream had ended normally.
    pub(crate) fn on_close(mut self, f: impl FnOnce(bool) + Send + 'static) -> Self {
        self.on_close = Some(Box::new(f));
        self
    }

    /// Waits for the stream's first item. When that item is a message and the stream ended
    /// with it (one response, nothing before it), returns its JSON text: the POST can be
    /// answered with a plain `application/json` body instead of an SSE stream, and the body
    /// counts as ended. Otherwise returns `None` and the items taken stay in front of the
    /// stream. Cancel safe: dropped while waiting, nothing is lost.
    ///
    /// With the text comes the HTTP status it should go with, when that is not 200 (see
    /// [`Streams::set_status`]).
    pub(crate) async fn single(&mut self) -> Option<(Arc<str>, Option<u16>)> {
        if !self.ahead.is_empty() {
            return None;
        }
        let first = self.rx.recv().await?;
        match (first, self.rx.try_recv()) {
            (SseItem::Message { data, .. }, Err(TryRecvError::Disconnected)) => {
                self.ended = true;
                let status = self.status.load(Ordering::Relaxed);
                Some((data, (status != 0).then_some(status)))
            }
            (first, Ok(next)) => {
                self.ahead.push_back(first);
                self.ahead.push_back(next);
                None
            }
            (first, Err(_)) => {
                self.ahead.push_back(first);
                None
            }
        }
    }
}

/// One SSE event as it goes on the wire. Written here rather than with axum's `Event`, which
/// cannot write the empty `data:` line a priming event needs. Data is one line: message JSON as
/// serde writes it has no raw newlines, and an endpoint path none either.
fn frame(item: SseItem) -> Bytes {
    match item {
        SseItem::Message { id, data } => {
            let mut out = String::with_capacity(data.len() + 48);
            out.push_str("event: message\ndata: ");
            out.push_str(&data);
            out.push('\n');
            if let Some(id) = id {
                out.push_str("id: ");
                out.push_str(&id);
                out.push('\n');
            }
            out.push('\n');
            Bytes::from(out)
        }
        SseItem::Endpoint(path) => Bytes::from(format!("event: endpoint\ndata: {path}\n\n")),
    }
}

/// The priming event (SEP-1699): the point to resume from, the reconnection delay, and an empty
/// `data:` line, which clients skip as a message but whose id they keep for `Last-Event-ID`.
fn priming(id: &str) -> Bytes {
    Bytes::from(format!(
        "id: {id}\nretry: {}\ndata: \n\n",
        RETRY.as_millis()
    ))
}

impl Stream for SseBody {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(id) = self.priming.take() {
            return Poll::Ready(Some(Ok(priming(&id))));
        }
        if let Some(item) = self.ahead.pop_front() {
            return Poll::Ready(Some(Ok(frame(item))));
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(item)) => Poll::Ready(Some(Ok(frame(item)))),
            Poll::Ready(None) => {
                self.ended = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// An SSE body with a comment (`: keep-alive`) written whenever `every` passes without an event,
/// so proxies and clients do not take a quiet stream for a dead one.
pub(crate) struct KeepAlive {
    body: SseBody,
    every: std::time::Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl KeepAlive {
    pub(crate) fn new(body: SseBody, every: std::time::Duration) -> Self {
        KeepAlive {
            body,
            every,
            timer: Box::pin(tokio::time::sleep(every)),
        }
    }
}

impl Stream for KeepAlive {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match Pin::new(&mut this.body).poll_next(cx) {
            Poll::Ready(item) => {
                let next = tokio::time::Instant::now() + this.every;
                this.timer.as_mut().reset(next);
                Poll::Ready(item)
            }
            Poll::Pending => match this.timer.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    let next = tokio::time::Instant::now() + this.every;
                    this.timer.as_mut().reset(next);
                    Poll::Ready(Some(Ok(Bytes::from_static(b": keep-alive\n\n"))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl Drop for SseBody {
    fn drop(&mut self) {
        if !self.ended {
            self.on_drop.cancel();
        }
        if let Some(f) = self.on_close.take() {
            f(self.ended);
        }
    }
}
