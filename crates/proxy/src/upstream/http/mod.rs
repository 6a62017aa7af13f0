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

use http::{HeaderName, HeaderValue, Method, header};
use reqwest::Url;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::standard_headers::ToolHeaders;

use super::{UpstreamError, UpstreamLink};

mod post;
mod streams;

use post::post;
use streams::listen;
pub(crate) use streams::{Cursor, StreamEnd, next_message};

/// Capacity of both channels of a link: enough for bursts, small enough to apply back-pressure.
pub(crate) const CHANNEL_CAPACITY: usize = 64;
/// How long forwarding waits for the GET stream to open after `notifications/initialized`.
const GET_READY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the closing DELETE may take; the link is gone either way.
const DELETE_TIMEOUT: Duration = Duration::from_secs(5);

const SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");
const PROTOCOL_VERSION: HeaderName = HeaderName::from_static("mcp-protocol-version");
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

/// What the responses to a POST are, for what the link notes from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answers {
    Initialize,
    /// A 2026-07-28 `tools/list`: the annotations decide later calls' `Mcp-Param-*` headers.
    StatelessToolsList,
    Other,
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
