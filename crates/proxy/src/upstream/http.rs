//! The Streamable HTTP upstream: an MCP server reached at an `http://` endpoint, turned into an
//! [`UpstreamLink`].
//!
//! Every message the relay sends becomes one POST (`Accept: application/json, text/event-stream`,
//! the configured headers such as the upstream's own `Authorization`, and after `initialize` the
//! `Mcp-Session-Id` and `MCP-Protocol-Version` the server gave us). The answer is 202 (nothing to
//! read), a JSON body (one message or a batch) or an SSE stream whose `message` events go to
//! `from_server` as they arrive. Each POST runs in its own task, so a slow `tools/call` never holds
//! up a `ping` or a second call; only `initialize` and `notifications/initialized` are sent in
//! order, because everything after them needs the session they set up.
//!
//! After `notifications/initialized` the link opens the GET stream for server-initiated messages
//! (a 405 means the server has none) and keeps it open, reconnecting with `Last-Event-ID` after the
//! server's `retry` delay. A POST stream that ends before its response arrived is resumed the same
//! way (GET + `Last-Event-ID`, SEP-1699 polling).
//!
//! Failures: an HTTP error on a request becomes a JSON-RPC error response for that request id, so
//! the agent is always answered. A 404 on a request that carried a session id means the server
//! forgot the session: the link closes and the relay re-initializes. A refused connection closes
//! the link too. When the relay drops the link, the session is ended with DELETE.
//!
//! A stateless 2026-07-28 message (a `_meta` protocol version, or `server/discover`) also carries
//! its standard headers: `Mcp-Method`, `Mcp-Name`, `MCP-Protocol-Version` from `_meta`, and for a
//! `tools/call` the `Mcp-Param-*` headers of the tool's `x-mcp-header` annotations, which the
//! link learns from the stateless `tools/list` results it carries (`crate::standard_headers`).
//!
//! `https://` upstreams use the system's TLS (native-tls: OpenSSL on Linux) and its trusted roots.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::{Stream, StreamExt};
use http::{HeaderName, HeaderValue, Method, StatusCode, header};
use reqwest::Url;
use serde_json::{Value, json};
use sse_stream::SseByteStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{UpstreamError, UpstreamLink};
use crate::jsonrpc;
use crate::standard_headers::{self, ToolHeaders};

/// Capacity of both channels of a link: enough for bursts, small enough to apply back-pressure.
pub(crate) const CHANNEL_CAPACITY: usize = 64;
/// Wait before reconnecting a stream when the server did not send `retry`.
const DEFAULT_RETRY: Duration = Duration::from_secs(1);
/// Upper bound on a server-sent `retry`, so a typo on the server cannot park a stream for hours.
const MAX_RETRY: Duration = Duration::from_secs(60);
/// Consecutive failed reconnects after which a stream is given up.
const MAX_RECONNECT_FAILURES: u32 = 5;
/// How long forwarding waits for the GET stream to open after `notifications/initialized`.
const GET_READY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the closing DELETE may take; the link is gone either way.
const DELETE_TIMEOUT: Duration = Duration::from_secs(5);

const SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");
const PROTOCOL_VERSION: HeaderName = HeaderName::from_static("mcp-protocol-version");
const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");
const ACCEPT_POST: &str = "application/json, text/event-stream";
const ACCEPT_SSE: &str = "text/event-stream";

/// JSON-RPC "internal error": used when the upstream could not answer a request itself.
const INTERNAL_ERROR: i64 = -32603;

/// The header map the connect functions take (re-exported so `upstream::http::HeaderMap` names
/// the same type as the `http` crate's).
pub use ::http::HeaderMap;

/// Connects to a Streamable HTTP MCP endpoint such as `http://127.0.0.1:3001/mcp`.
///
/// `headers` are sent with every request (e.g. the upstream's own `Authorization`). No request is
/// made until the relay sends the first message (normally the agent's `initialize`); the returned
/// link is live at once. Must be called within a tokio runtime.
pub async fn connect(url: &str, headers: &HeaderMap) -> Result<UpstreamLink, UpstreamError> {
    open(url, headers, false).await
}

/// [`connect`] for a client of Airlock itself (`airlock connect`, `airlock call`): in addition,
/// when the gate refuses a notification (an HTTP error whose body is a JSON-RPC error, such as a
/// `tools/call` sent without an id), that error is handed to the client, which has no other way
/// to learn of it. (A relay must not do this: an error without an id would be taken for the
/// answer to some request in flight.) End the link with [`UpstreamLink::close`], so the session
/// is ended with DELETE before the process exits.
pub async fn connect_agent(url: &str, headers: &HeaderMap) -> Result<UpstreamLink, UpstreamError> {
    open(url, headers, true).await
}

async fn open(
    url: &str,
    headers: &HeaderMap,
    relay_refusals: bool,
) -> Result<UpstreamLink, UpstreamError> {
    let url = parse_http_url(url)?;
    let client = build_client(&url)?;
    let (to_server, rx) = mpsc::channel(CHANNEL_CAPACITY);
    let (tx, from_server) = mpsc::channel(CHANNEL_CAPACITY);
    let span = tracing::info_span!("upstream_http", url = %display_url(&url));
    let shared = Arc::new(Shared {
        client,
        url,
        headers: headers.clone(),
        session: Mutex::new(Session::default()),
        tools: ToolHeaders::default(),
        listening: AtomicBool::new(false),
        relay_refusals,
        tx,
        closed: CancellationToken::new(),
    });
    tokio::spawn(drive(shared, rx).instrument(span));
    Ok(UpstreamLink {
        to_server,
        from_server,
    })
}

/// Parses `url` and accepts only `http` and `https`.
pub(crate) fn parse_http_url(url: &str) -> Result<Url, UpstreamError> {
    let parsed = Url::parse(url).map_err(|e| UpstreamError::Http {
        url: url.to_owned(),
        reason: format!("invalid url: {e}"),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(UpstreamError::Http {
            url: url.to_owned(),
            reason: format!(
                "scheme `{}` is not supported; use `http` or `https`",
                parsed.scheme()
            ),
        });
    }
    Ok(parsed)
}

pub(crate) fn build_client(url: &Url) -> Result<reqwest::Client, UpstreamError> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| UpstreamError::Http {
            url: display_url(url),
            reason: format!("cannot create the http client: {e}"),
        })
}

/// The URL without query and credentials, for logs.
pub(crate) fn display_url(url: &Url) -> String {
    format!("{}{}", url.origin().ascii_serialization(), url.path())
}

/// What the server told us about the session.
#[derive(Default)]
struct Session {
    id: Option<HeaderValue>,
    protocol_version: Option<HeaderValue>,
}

struct Shared {
    client: reqwest::Client,
    url: Url,
    headers: HeaderMap,
    session: Mutex<Session>,
    /// The `x-mcp-header` annotations of the stateless `tools/list` results this link carried.
    tools: ToolHeaders,
    /// Set once the GET stream task has started.
    listening: AtomicBool,
    /// See [`connect_agent`].
    relay_refusals: bool,
    tx: mpsc::Sender<Value>,
    /// Cancelled when the link fails for good or the relay dropped it: every task ends.
    closed: CancellationToken,
}

impl Shared {
    /// A request with the configured headers, the session headers, and then `standard` (the
    /// 2026-07-28 headers of one message, whose `MCP-Protocol-Version` replaces the session's).
    /// Returns whether a session id was sent.
    fn request(
        &self,
        method: Method,
        accept: &'static str,
        standard: Option<HeaderMap>,
    ) -> (reqwest::RequestBuilder, bool) {
        let mut builder = self
            .client
            .request(method, self.url.clone())
            .headers(self.headers.clone())
            .header(header::ACCEPT, accept);
        let session = self.session.lock().unwrap_or_else(PoisonError::into_inner);
        let mut sent_session = false;
        if let Some(id) = &session.id {
            builder = builder.header(SESSION_ID, id.clone());
            sent_session = true;
        }
        if let Some(version) = &session.protocol_version {
            builder = builder.header(PROTOCOL_VERSION, version.clone());
        }
        if let Some(standard) = standard {
            // `headers` replaces same-named ones: one `MCP-Protocol-Version`, never two.
            builder = builder.headers(standard);
        }
        (builder, sent_session)
    }

    /// Hands one message to the relay. False when the relay is gone.
    async fn deliver(&self, msg: Value) -> bool {
        if self.tx.send(msg).await.is_err() {
            self.closed.cancel();
            return false;
        }
        true
    }

    /// Hands a message or a batch (split into its elements) to the relay, noting answered ids,
    /// the negotiated protocol version of an `initialize` result and the `x-mcp-header`
    /// annotations of a stateless `tools/list` result.
    async fn deliver_all(&self, msg: Value, pending: &mut Vec<Value>, answers: Answers) -> bool {
        let messages = match msg {
            Value::Array(items) => items,
            other => vec![other],
        };
        for mut msg in messages {
            if response_id(&msg).is_some_and(Value::is_null)
                && let [only] = pending.as_slice()
            {
                // An error without an id (a server that could not read its own input, say) on
                // the stream of a POST that carried one request: it is that request's answer.
                tracing::warn!("upstream answered with `id: null`; it is the answer to {only}");
                msg["id"] = only.clone();
            }
            if let Some(id) = response_id(&msg) {
                pending.retain(|p| p != id);
                match answers {
                    Answers::Initialize => self.note_protocol_version(&msg),
                    Answers::StatelessToolsList => {
                        if let Some(result) = msg.get("result") {
                            self.tools.learn(result);
                        }
                    }
                    Answers::Other => {}
                }
            }
            if !self.deliver(msg).await {
                return false;
            }
        }
        true
    }

    fn note_protocol_version(&self, response: &Value) {
        let Some(version) = response
            .pointer("/result/protocolVersion")
            .and_then(Value::as_str)
        else {
            return;
        };
        match HeaderValue::from_str(version) {
            Ok(value) => {
                let mut session = self.session.lock().unwrap_or_else(PoisonError::into_inner);
                session.protocol_version = Some(value);
            }
            Err(_) => tracing::warn!(version, "upstream negotiated an unusable protocol version"),
        }
    }

    /// Answers every request in `ids` with a JSON-RPC error.
    async fn answer_with_error(&self, ids: &[Value], message: &str, data: Option<&Value>) {
        for id in ids {
            let mut error = json!({"code": INTERNAL_ERROR, "message": message});
            if let Some(data) = data {
                error["data"] = data.clone();
            }
            let response = json!({"jsonrpc": "2.0", "id": id, "error": error});
            if !self.deliver(response).await {
                return;
            }
        }
    }

    /// A 404 on a request that carried our session id: the server ended or forgot the session.
    fn session_expired(&self) {
        tracing::warn!(
            "upstream session expired (http 404); closing the link so the relay re-initializes"
        );
        self.closed.cancel();
    }
}

/// Reads the relay's messages and sends each one; ends the session when the relay lets go.
async fn drive(shared: Arc<Shared>, mut rx: mpsc::Receiver<Value>) {
    loop {
        let next = tokio::select! {
            () = shared.closed.cancelled() => break,
            () = shared.tx.closed() => None,
            msg = rx.recv() => msg,
        };
        let Some(msg) = next else {
            end_session(&shared).await;
            break;
        };
        match msg.get("method").and_then(Value::as_str) {
            Some("initialize") if msg.get("id").is_some() => {
                // A fresh handshake: forget any earlier session, and let nothing overtake it.
                *shared
                    .session
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Session::default();
                post(Arc::clone(&shared), msg).await;
            }
            Some("notifications/initialized") => {
                post(Arc::clone(&shared), msg).await;
                if !shared.listening.swap(true, Ordering::SeqCst) {
                    // The link is ready once the GET stream is: a request forwarded before the
                    // server has registered it may make the server send a request of its own
                    // (sampling, elicitation) on a stream that does not exist yet, and lose it.
                    // So nothing goes on until the GET's response headers (or its refusal)
                    // arrived, within a bound.
                    let (ready, opened) = tokio::sync::oneshot::channel();
                    tokio::spawn(listen(Arc::clone(&shared), Some(ready)).in_current_span());
                    if tokio::time::timeout(GET_READY_TIMEOUT, opened)
                        .await
                        .is_err()
                    {
                        tracing::warn!(
                            "the upstream's GET stream did not open within {GET_READY_TIMEOUT:?}; going on without waiting"
                        );
                    }
                }
            }
            _ => {
                tokio::spawn(post(Arc::clone(&shared), msg).in_current_span());
            }
        }
    }
    shared.closed.cancel();
    tracing::debug!("upstream link closed");
}

/// DELETE the session, if there is one. A 405 (the server does not let clients end sessions) is
/// fine.
async fn end_session(shared: &Shared) {
    let has_session = shared
        .session
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .id
        .is_some();
    if !has_session {
        return;
    }
    let (request, _) = shared.request(Method::DELETE, ACCEPT_POST, None);
    match request.timeout(DELETE_TIMEOUT).send().await {
        Ok(resp) => tracing::debug!(status = resp.status().as_u16(), "upstream session ended"),
        Err(e) => tracing::debug!(error = %e, "could not end the upstream session"),
    }
}

/// The ids of the requests in a message or batch (those need an answer).
pub(crate) fn request_ids(msg: &Value) -> Vec<Value> {
    fn id_of(msg: &Value) -> Option<Value> {
        msg.get("method")?;
        msg.get("id").cloned()
    }
    match msg {
        Value::Array(items) => items.iter().filter_map(id_of).collect(),
        other => id_of(other).into_iter().collect(),
    }
}

/// The id of a JSON-RPC response, or None for requests and notifications.
pub(crate) fn response_id(msg: &Value) -> Option<&Value> {
    if msg.get("method").is_some() || (msg.get("result").is_none() && msg.get("error").is_none()) {
        return None;
    }
    msg.get("id")
}

fn content_type_is(resp: &reqwest::Response, expected: &str) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(expected))
}

/// Sends one message (or batch) as a POST and relays whatever comes back.
async fn post(shared: Arc<Shared>, msg: Value) {
    let mut pending = request_ids(&msg);
    let stateless = jsonrpc::is_stateless(&msg);
    let answers = match msg.get("method").and_then(Value::as_str) {
        Some("initialize") => Answers::Initialize,
        Some("tools/list") if stateless => Answers::StatelessToolsList,
        _ => Answers::Other,
    };
    let is_initialize = answers == Answers::Initialize;
    // A 2026-07-28 server refuses a stateless request whose headers do not repeat its body.
    let standard =
        stateless.then(|| standard_headers::outgoing(&msg, shared.tools.for_call(&msg).as_deref()));
    let body = match serde_json::to_vec(&msg) {
        Ok(body) => body,
        Err(e) => {
            let text = format!("cannot encode the message for the upstream: {e}");
            shared.answer_with_error(&pending, &text, None).await;
            return;
        }
    };
    drop(msg);
    let (request, sent_session) = shared.request(Method::POST, ACCEPT_POST, standard);
    let request = request
        .header(header::CONTENT_TYPE, "application/json")
        .body(body);
    let resp = tokio::select! {
        () = shared.closed.cancelled() => return,
        resp = request.send() => resp,
    };
    let resp = match resp {
        Ok(resp) => resp,
        Err(e) => {
            let text = format!(
                "upstream `{}` is unreachable: {e}",
                display_url(&shared.url)
            );
            tracing::warn!(error = %e, "post to upstream failed");
            shared.answer_with_error(&pending, &text, None).await;
            if e.is_connect() {
                shared.closed.cancel();
            }
            return;
        }
    };
    let status = resp.status();
    if status == StatusCode::NOT_FOUND && sent_session {
        shared.session_expired();
        return;
    }
    if !status.is_success() {
        answer_http_error(&shared, resp, &pending).await;
        return;
    }
    if is_initialize && let Some(id) = resp.headers().get(SESSION_ID) {
        let mut session = shared
            .session
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        session.id = Some(id.clone());
    }
    if content_type_is(&resp, ACCEPT_SSE) {
        let mut cursor = Cursor::default();
        let ended = read_events(&shared, resp, &mut pending, answers, &mut cursor).await;
        if ended == StreamEnd::Eof && !pending.is_empty() {
            resume(&shared, &mut pending, answers, cursor).await;
        }
        return;
    }
    let body = tokio::select! {
        () = shared.closed.cancelled() => return,
        body = resp.bytes() => body,
    };
    let body = match body {
        Ok(body) => body,
        Err(e) => {
            let text = format!("upstream response could not be read: {e}");
            shared.answer_with_error(&pending, &text, None).await;
            return;
        }
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        if !pending.is_empty() {
            // 202 to a request: the answer may come on the GET stream; nothing to read here.
            tracing::debug!(
                status = status.as_u16(),
                "upstream sent no body for a request"
            );
        }
        return;
    }
    // One message, a batch, or several messages on separate lines.
    let replies = super::exchange::json_messages(&body);
    if replies.is_empty() {
        tracing::warn!("upstream sent a body that is not JSON");
        let text = "upstream sent a response that is not JSON";
        shared.answer_with_error(&pending, text, None).await;
        return;
    }
    for reply in replies {
        if !shared.deliver_all(reply, &mut pending, answers).await {
            return;
        }
    }
    if !pending.is_empty() {
        tracing::debug!("upstream's JSON body left requests unanswered");
    }
}

/// Turns an HTTP error status into JSON-RPC errors for the requests of the POST. When the body is
/// itself a JSON-RPC error (as MCP servers send with 400 and 403), its code and message are kept.
async fn answer_http_error(shared: &Shared, resp: reqwest::Response, pending: &[Value]) {
    let status = resp.status();
    let body = resp.bytes().await.unwrap_or_default();
    tracing::warn!(
        status = status.as_u16(),
        "upstream answered with an http error"
    );
    let upstream_error = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("error").filter(|e| e.is_object()).cloned());
    if pending.is_empty() {
        if shared.relay_refusals
            && let Some(error) = upstream_error
        {
            let _ = shared
                .deliver(json!({"jsonrpc": "2.0", "id": null, "error": error}))
                .await;
        }
        return;
    }
    let data = json!({"httpStatus": status.as_u16()});
    match upstream_error {
        Some(error) => {
            for id in pending {
                let mut error = error.clone();
                if error.get("data").is_none() {
                    error["data"] = data.clone();
                }
                let response = json!({"jsonrpc": "2.0", "id": id, "error": error});
                if !shared.deliver(response).await {
                    return;
                }
            }
        }
        None => {
            let text = format!("upstream answered http {}", status.as_u16());
            shared.answer_with_error(pending, &text, Some(&data)).await;
        }
    }
}

/// What the responses to a POST are, for what the link notes from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answers {
    Initialize,
    /// A 2026-07-28 `tools/list`: the annotations decide later calls' `Mcp-Param-*` headers.
    StatelessToolsList,
    Other,
}

/// Where an SSE stream stopped, for resumption.
#[derive(Debug, Default)]
pub(crate) struct Cursor {
    last_event_id: Option<String>,
    retry: Option<Duration>,
}

impl Cursor {
    pub(crate) fn retry(&self) -> Duration {
        self.retry.unwrap_or(DEFAULT_RETRY).min(MAX_RETRY)
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum StreamEnd {
    /// The server closed the stream (or the connection broke).
    Eof,
    /// The link is closing.
    Closed,
}

/// Relays the `message` events of an SSE response, keeping the cursor up to date.
async fn read_events(
    shared: &Shared,
    resp: reqwest::Response,
    pending: &mut Vec<Value>,
    answers: Answers,
    cursor: &mut Cursor,
) -> StreamEnd {
    let mut events = Box::pin(SseByteStream::new(resp.bytes_stream()));
    loop {
        match next_message(&mut events, &shared.closed, cursor).await {
            Ok(msg) => {
                if !shared.deliver_all(msg, pending, answers).await {
                    return StreamEnd::Closed;
                }
            }
            Err(end) => return end,
        }
    }
}

/// The SSE reading shared by both HTTP transports: the next `message` event (or event without a
/// type) whose data is JSON. Events of other types and priming events (an id, no data) only move
/// the cursor; data that is not JSON is logged and skipped.
pub(crate) async fn next_message<S, E>(
    events: &mut std::pin::Pin<Box<SseByteStream<S>>>,
    closed: &CancellationToken,
    cursor: &mut Cursor,
) -> Result<Value, StreamEnd>
where
    S: Stream<Item = Result<bytes::Bytes, E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    loop {
        let next = tokio::select! {
            () = closed.cancelled() => return Err(StreamEnd::Closed),
            next = events.next() => next,
        };
        let event = match next {
            None => return Err(StreamEnd::Eof),
            Some(Err(e)) => {
                tracing::debug!(error = %e, "upstream event stream broke");
                return Err(StreamEnd::Eof);
            }
            Some(Ok(event)) => event,
        };
        if let Some(id) = event.id {
            cursor.last_event_id = (!id.is_empty()).then_some(id);
        }
        if let Some(retry) = event.retry {
            cursor.retry = Some(Duration::from_millis(retry));
        }
        if !matches!(event.event.as_deref(), None | Some("message")) {
            continue;
        }
        let Some(data) = event.data.filter(|d| !d.trim().is_empty()) else {
            continue;
        };
        match serde_json::from_str::<Value>(&data) {
            Ok(msg) => return Ok(msg),
            Err(e) => {
                tracing::warn!(error = %e, "upstream sent an event that is not JSON; skipped")
            }
        }
    }
}

/// A GET request for an SSE stream, resuming after `cursor` when it has an event id.
fn get_stream(shared: &Shared, cursor: &Cursor) -> (reqwest::RequestBuilder, bool) {
    let (mut request, sent_session) = shared.request(Method::GET, ACCEPT_SSE, None);
    if let Some(id) = &cursor.last_event_id {
        request = request.header(LAST_EVENT_ID, id.as_str());
    }
    (request, sent_session)
}

/// Waits `delay` unless the link closes first. False when it closed.
async fn pause(shared: &Shared, delay: Duration) -> bool {
    tokio::select! {
        () = shared.closed.cancelled() => false,
        () = tokio::time::sleep(delay) => true,
    }
}

/// A POST stream ended before the response: poll with GET + `Last-Event-ID` until the response
/// arrives, the server refuses, or reconnecting keeps failing.
async fn resume(shared: &Shared, pending: &mut Vec<Value>, answers: Answers, mut cursor: Cursor) {
    let mut failures = 0;
    while !pending.is_empty() {
        if cursor.last_event_id.is_none() {
            let text = "upstream closed the stream before answering, and it cannot be resumed";
            shared.answer_with_error(pending, text, None).await;
            return;
        }
        if !pause(shared, cursor.retry()).await {
            return;
        }
        let (request, sent_session) = get_stream(shared, &cursor);
        let resp = tokio::select! {
            () = shared.closed.cancelled() => return,
            resp = request.send() => resp,
        };
        match resp {
            Err(e) => {
                failures += 1;
                tracing::debug!(error = %e, failures, "resuming an upstream stream failed");
                if failures >= MAX_RECONNECT_FAILURES {
                    let text = format!("upstream stream was lost before the answer: {e}");
                    shared.answer_with_error(pending, &text, None).await;
                    return;
                }
            }
            Ok(resp) if resp.status() == StatusCode::NOT_FOUND && sent_session => {
                shared.session_expired();
                return;
            }
            Ok(resp) if resp.status().is_success() && content_type_is(&resp, ACCEPT_SSE) => {
                failures = 0;
                let ended = read_events(shared, resp, pending, answers, &mut cursor).await;
                if ended == StreamEnd::Closed {
                    return;
                }
            }
            Ok(resp) => {
                let text = format!(
                    "upstream closed the stream before answering and refused to resume it (http {})",
                    resp.status().as_u16()
                );
                shared.answer_with_error(pending, &text, None).await;
                return;
            }
        }
    }
}

/// The GET stream for server-initiated messages, kept open for the life of the link. `ready`
/// hears when the first attempt has an answer (the stream's headers, a refusal or a failure).
async fn listen(shared: Arc<Shared>, mut ready: Option<tokio::sync::oneshot::Sender<()>>) {
    let mut cursor = Cursor::default();
    let mut failures = 0;
    let mut no_pending = Vec::new();
    loop {
        let (request, sent_session) = get_stream(&shared, &cursor);
        let resp = tokio::select! {
            () = shared.closed.cancelled() => return,
            resp = request.send() => resp,
        };
        if let Some(ready) = ready.take() {
            let _ = ready.send(());
        }
        match resp {
            Err(e) => {
                failures += 1;
                if failures >= MAX_RECONNECT_FAILURES {
                    tracing::warn!(error = %e, "upstream GET stream keeps failing; giving it up");
                    return;
                }
                tracing::debug!(error = %e, failures, "upstream GET stream failed");
                let backoff = cursor.retry() * 2u32.pow(failures.min(5));
                if !pause(&shared, backoff.min(MAX_RETRY)).await {
                    return;
                }
                continue;
            }
            Ok(resp) if resp.status() == StatusCode::METHOD_NOT_ALLOWED => {
                tracing::debug!("upstream offers no GET stream (http 405)");
                return;
            }
            Ok(resp) if resp.status() == StatusCode::NOT_FOUND && sent_session => {
                shared.session_expired();
                return;
            }
            Ok(resp) if resp.status().is_success() && content_type_is(&resp, ACCEPT_SSE) => {
                failures = 0;
                let ended =
                    read_events(&shared, resp, &mut no_pending, Answers::Other, &mut cursor).await;
                if ended == StreamEnd::Closed {
                    return;
                }
            }
            Ok(resp) => {
                tracing::warn!(
                    status = resp.status().as_u16(),
                    "upstream refused the GET stream; server-initiated messages arrive only on request streams"
                );
                return;
            }
        }
        if !pause(&shared, cursor.retry()).await {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_finds_requests_in_messages_and_batches() {
        assert_eq!(
            request_ids(&json!({"jsonrpc":"2.0","id":7,"method":"ping"})),
            vec![json!(7)]
        );
        assert!(
            request_ids(&json!({"jsonrpc":"2.0","method":"notifications/initialized"})).is_empty()
        );
        assert!(request_ids(&json!({"jsonrpc":"2.0","id":1,"result":{}})).is_empty());
        let batch = json!([
            {"jsonrpc":"2.0","id":"a","method":"tools/list"},
            {"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}},
            {"jsonrpc":"2.0","id":2,"method":"ping"}
        ]);
        assert_eq!(request_ids(&batch), vec![json!("a"), json!(2)]);
    }

    #[test]
    fn response_id_ignores_requests_and_notifications() {
        assert_eq!(response_id(&json!({"id":1,"result":{}})), Some(&json!(1)));
        assert_eq!(
            response_id(&json!({"id":1,"error":{"code":1}})),
            Some(&json!(1))
        );
        assert_eq!(response_id(&json!({"id":1,"method":"ping"})), None);
        assert_eq!(
            response_id(&json!({"method":"notifications/progress"})),
            None
        );
    }

    #[test]
    fn only_http_and_https_urls_are_accepted() {
        assert!(parse_http_url("http://127.0.0.1:3001/mcp").is_ok());
        assert!(parse_http_url("https://example.com/mcp").is_ok());
        let err = parse_http_url("ws://example.com/mcp")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "cannot reach `ws://example.com/mcp`: scheme `ws` is not supported; use `http` or `https`"
            )
        );
        let err = parse_http_url("not a url").err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("cannot reach `not a url`: invalid url: relative URL without a base")
        );
    }
}
