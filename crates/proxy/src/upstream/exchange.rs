//! One stateless (2026-07-28) request to a Streamable HTTP upstream, as an HTTP exchange of its
//! own.
//!
//! The 2026-07-28 transport has no sessions: each request is one POST whose answer (a JSON body
//! or an SSE stream) belongs to it alone, and closing the connection cancels it. So the relay
//! does not multiplex stateless requests over a shared link for an HTTP upstream; it sends each
//! one as its own POST and relays what comes back exactly:
//!
//! - the agent's request id and progress token go as they are (nothing to rewrite: the answer
//!   can only belong to this exchange), so ids the server echoes (a `subscriptionId`) are the
//!   agent's own;
//! - the standard headers are rebuilt from the body (`crate::standard_headers`), and the agent's
//!   own `MCP-Protocol-Version` is sent when the body's `_meta` has none, so the server judges
//!   the request the agent actually sent;
//! - the HTTP status comes back with the messages ([`Reply::status`]): a server's 400 or 404
//!   reaches the agent as 400 or 404, with the server's JSON-RPC error unchanged;
//! - a JSON body may hold one message, a batch, or several messages on separate lines;
//! - dropping the [`Reply`] closes the connection, which is how a stateless request is cancelled.

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue, header};
use reqwest::Url;
use serde_json::Value;
use sse_stream::SseByteStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::UpstreamError;
use super::http::{Cursor, StreamEnd, build_client, display_url, next_message, parse_http_url};
use crate::standard_headers::{self, ParamHeader};

const ACCEPT: &str = "application/json, text/event-stream";
const PROTOCOL_VERSION: HeaderName = HeaderName::from_static("mcp-protocol-version");

/// Where stateless requests of one server go.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    client: reqwest::Client,
    url: Url,
    headers: HeaderMap,
}

impl Target {
    pub(crate) fn new(url: &str, headers: &HeaderMap) -> Result<Target, UpstreamError> {
        let url = parse_http_url(url)?;
        let client = build_client(&url)?;
        Ok(Target {
            client,
            url,
            headers: headers.clone(),
        })
    }
}

/// What the server answered one request with.
#[derive(Debug)]
pub(crate) struct Reply {
    /// The HTTP status of the answer.
    pub(crate) status: u16,
    /// Its messages, in order; ends when the answer does. Dropping it closes the connection.
    pub(crate) messages: mpsc::Receiver<Value>,
    /// Cancelled when the reply is dropped, to stop the reading task.
    _stop: StopOnDrop,
}

#[derive(Debug)]
struct StopOnDrop(CancellationToken);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// POSTs `msg` and returns the answer as it arrives. `agent_version`: the agent's
/// `MCP-Protocol-Version` header, sent when `_meta` carries no version. `params`: the tool's
/// `Mcp-Param-*` annotations, for a `tools/call`.
pub(crate) async fn send(
    target: &Target,
    msg: &Value,
    agent_version: Option<&str>,
    params: Option<&[ParamHeader]>,
) -> Result<Reply, String> {
    let mut standard = standard_headers::outgoing(msg, params);
    if !standard.contains_key(PROTOCOL_VERSION)
        && let Some(version) = agent_version.and_then(|v| HeaderValue::from_str(v).ok())
    {
        standard.insert(PROTOCOL_VERSION, version);
    }
    let body = serde_json::to_vec(msg).map_err(|e| format!("cannot encode the request: {e}"))?;
    let response = target
        .client
        .post(target.url.clone())
        .headers(target.headers.clone())
        .header(header::ACCEPT, ACCEPT)
        .header(header::CONTENT_TYPE, "application/json")
        .headers(standard)
        .body(body)
        .send()
        .await
        .map_err(|e| {
            format!(
                "upstream `{}` is unreachable: {e}",
                display_url(&target.url)
            )
        })?;
    let status = response.status().as_u16();
    let sse = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("text/event-stream"));
    let (tx, messages) = mpsc::channel(super::http::CHANNEL_CAPACITY);
    let stop = CancellationToken::new();
    let reading = stop.clone();
    tokio::spawn(async move {
        if sse {
            let mut events = Box::pin(SseByteStream::new(response.bytes_stream()));
            let mut cursor = Cursor::default();
            loop {
                match next_message(&mut events, &reading, &mut cursor).await {
                    Ok(msg) => {
                        if !deliver(&tx, msg).await {
                            return;
                        }
                    }
                    Err(StreamEnd::Eof | StreamEnd::Closed) => return,
                }
            }
        }
        let body = tokio::select! {
            () = reading.cancelled() => return,
            body = tokio::time::timeout(Duration::from_secs(3600), response.bytes()) => body,
        };
        let Ok(Ok(body)) = body else {
            tracing::debug!("a stateless answer could not be read");
            return;
        };
        for msg in json_messages(&body) {
            if !deliver(&tx, msg).await {
                return;
            }
        }
    });
    Ok(Reply {
        status,
        messages,
        _stop: StopOnDrop(stop),
    })
}

/// Hands one message (a batch split into its elements) to the relay. False when it is gone.
async fn deliver(tx: &mpsc::Sender<Value>, msg: Value) -> bool {
    let items = match msg {
        Value::Array(items) => items,
        other => vec![other],
    };
    for item in items {
        if tx.send(item).await.is_err() {
            return false;
        }
    }
    true
}

/// The messages of a JSON body: one value, or several separated by newlines. Lines that are not
/// JSON are logged and skipped.
pub(crate) fn json_messages(body: &[u8]) -> Vec<Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Vec::new();
    }
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        return vec![value];
    }
    body.split(|b| *b == b'\n')
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .filter_map(|line| match serde_json::from_slice(line) {
            Ok(value) => Some(value),
            Err(e) => {
                tracing::warn!(error = %e, "upstream sent a line that is not JSON; skipped");
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_json_body_may_hold_several_messages_on_lines() {
        assert_eq!(json_messages(b"{\"a\":1}"), [json!({"a": 1})]);
        assert_eq!(
            json_messages(b"{\"a\":1}\n{\"b\":2}\r\n\n"),
            [json!({"a": 1}), json!({"b": 2})]
        );
        assert_eq!(json_messages(b"[1,2]"), [json!([1, 2])]);
        assert!(json_messages(b"  \n").is_empty());
        assert_eq!(json_messages(b"{\"a\":1}\nnot json"), [json!({"a": 1})]);
    }
}
