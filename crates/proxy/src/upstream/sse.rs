//! The legacy HTTP+SSE upstream (protocol 2024-11-05), for servers that do not speak Streamable
//! HTTP yet.
//!
//! The link GETs the stream, waits for the `endpoint` event, resolves it against the stream's URL
//! and POSTs every message there; everything the server says, responses included, arrives as
//! `message` events on the stream. The session lives as long as that one stream: when it ends the
//! link closes (the transport has no resumption), and the relay reconnects. POSTs are sent one at a
//! time, in order (the server answers them with 202 at once, the real answer comes on the stream).
//! An endpoint on another origin is refused, so the configured headers (credentials) never leave
//! the server they were meant for.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, StatusCode, header};
use reqwest::Url;
use serde_json::{Value, json};
use sse_stream::SseByteStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::http::{
    CHANNEL_CAPACITY, Cursor, StreamEnd, build_client, display_url, next_message, parse_http_url,
    request_ids,
};
use super::{UpstreamError, UpstreamLink};

/// How long the server may take to announce its endpoint.
const ENDPOINT_WAIT: Duration = Duration::from_secs(30);

/// Connects to a legacy SSE endpoint such as `http://127.0.0.1:3001/sse`.
///
/// Returns once the server announced where to POST; the link is live then. `headers` go with the
/// GET and with every POST.
pub async fn connect(url: &str, headers: &HeaderMap) -> Result<UpstreamLink, UpstreamError> {
    let url = parse_http_url(url)?;
    let client = build_client(&url)?;
    let shown = display_url(&url);
    let resp = client
        .get(url.clone())
        .headers(headers.clone())
        .header(header::ACCEPT, "text/event-stream")
        .send()
        .await
        .map_err(|e| UpstreamError::Http {
            url: shown.clone(),
            reason: e.to_string(),
        })?;
    if !resp.status().is_success() {
        return Err(UpstreamError::Http {
            url: shown,
            reason: format!(
                "the event stream was refused with http {}",
                resp.status().as_u16()
            ),
        });
    }
    let mut events = Box::pin(SseByteStream::new(resp.bytes_stream()));
    let endpoint = tokio::time::timeout(ENDPOINT_WAIT, async {
        use futures::StreamExt;
        while let Some(Ok(event)) = events.next().await {
            if event.event.as_deref() == Some("endpoint") {
                return event.data;
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .ok_or_else(|| UpstreamError::Protocol(format!("`{shown}` sent no `endpoint` event")))?;
    let endpoint = resolve_endpoint(&url, endpoint.trim())?;

    let (to_server, rx) = mpsc::channel(CHANNEL_CAPACITY);
    let (tx, from_server) = mpsc::channel(CHANNEL_CAPACITY);
    let closed = CancellationToken::new();
    let span = tracing::info_span!("upstream_sse", url = %shown);

    let reader_tx = tx.clone();
    let reader_closed = closed.clone();
    tokio::spawn(
        async move {
            let mut cursor = Cursor::default();
            loop {
                match next_message(&mut events, &reader_closed, &mut cursor).await {
                    Ok(msg) => {
                        if reader_tx.send(msg).await.is_err() {
                            break;
                        }
                    }
                    Err(StreamEnd::Eof) => {
                        tracing::warn!("upstream closed its event stream; the session is over");
                        break;
                    }
                    Err(StreamEnd::Closed) => break,
                }
            }
            reader_closed.cancel();
        }
        .instrument(span.clone()),
    );

    let writer = Writer {
        client,
        endpoint,
        headers: headers.clone(),
        tx,
        closed,
    };
    tokio::spawn(writer.run(rx).instrument(span));
    Ok(UpstreamLink {
        to_server,
        from_server,
    })
}

/// Resolves the `endpoint` event's data (usually a path with a session query) against the stream
/// URL, refusing other origins.
fn resolve_endpoint(url: &Url, endpoint: &str) -> Result<Url, UpstreamError> {
    let resolved = url.join(endpoint).map_err(|_| {
        UpstreamError::Protocol(format!(
            "`{}` announced an invalid endpoint `{endpoint}`",
            display_url(url)
        ))
    })?;
    if resolved.origin() != url.origin() {
        // The configured headers (credentials) must not be sent to another server.
        return Err(UpstreamError::Protocol(format!(
            "`{}` announced endpoint `{endpoint}` on another origin",
            display_url(url)
        )));
    }
    Ok(resolved)
}

struct Writer {
    client: reqwest::Client,
    endpoint: Url,
    headers: HeaderMap,
    tx: mpsc::Sender<Value>,
    closed: CancellationToken,
}

impl Writer {
    async fn run(self, mut rx: mpsc::Receiver<Value>) {
        let this = Arc::new(self);
        loop {
            let next = tokio::select! {
                () = this.closed.cancelled() => break,
                () = this.tx.closed() => None,
                msg = rx.recv() => msg,
            };
            let Some(msg) = next else { break };
            this.post(msg).await;
        }
        // Dropping the reader's stream ends the session on the server.
        this.closed.cancel();
    }

    async fn post(&self, msg: Value) {
        let ids = request_ids(&msg);
        let request = self
            .client
            .post(self.endpoint.clone())
            .headers(self.headers.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .json(&msg);
        drop(msg);
        let resp = tokio::select! {
            () = self.closed.cancelled() => return,
            resp = request.send() => resp,
        };
        let failure = match resp {
            Ok(resp) if resp.status().is_success() => return,
            Ok(resp) => {
                let status = resp.status();
                tracing::warn!(status = status.as_u16(), "upstream refused a message");
                if status == StatusCode::NOT_FOUND {
                    // The server forgot our session id: nothing more will arrive.
                    self.closed.cancel();
                }
                format!("upstream answered http {}", status.as_u16())
            }
            Err(e) => {
                tracing::warn!(error = %e, "post to upstream failed");
                if e.is_connect() {
                    self.closed.cancel();
                }
                format!(
                    "upstream `{}` is unreachable: {e}",
                    display_url(&self.endpoint)
                )
            }
        };
        for id in ids {
            let response = json!({
                "jsonrpc": "2.0",
                "id": id,
                "error": {"code": -32603, "message": failure},
            });
            if self.tx.send(response).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_resolves_against_the_stream_url() {
        let base = Url::parse("http://127.0.0.1:3001/sse").ok();
        let base = base.as_ref();
        let resolved =
            base.map(|b| resolve_endpoint(b, "/message?sessionId=abc").map(|u| u.to_string()));
        assert_eq!(
            resolved.map(Result::ok),
            Some(Some(
                "http://127.0.0.1:3001/message?sessionId=abc".to_owned()
            ))
        );
    }

    #[test]
    fn endpoint_on_another_origin_is_refused() {
        let base = Url::parse("http://127.0.0.1:3001/sse").ok();
        let err = base
            .as_ref()
            .and_then(|b| resolve_endpoint(b, "http://evil.example/message").err())
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "upstream protocol error: `http://127.0.0.1:3001/sse` announced endpoint `http://evil.example/message` on another origin"
            )
        );
    }
}
