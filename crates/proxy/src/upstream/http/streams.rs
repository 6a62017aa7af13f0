//! The server's SSE streams on a Streamable HTTP link: a POST answered as a stream, its
//! resumption with `Last-Event-ID` when it ends early (SEP-1699 polling), and the standing GET
//! stream for server-initiated messages, reopened after the server's `retry` delay.

use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use http::{HeaderName, Method, StatusCode};
use serde_json::Value;
use sse_stream::SseByteStream;
use tokio_util::sync::CancellationToken;

use super::{ACCEPT_SSE, Answers, Shared, content_type_is};

/// Wait before reconnecting a stream when the server did not send `retry`.
const DEFAULT_RETRY: Duration = Duration::from_secs(1);
/// Upper bound on a server-sent `retry`, so a typo on the server cannot park a stream for hours.
const MAX_RETRY: Duration = Duration::from_secs(60);
/// Consecutive failed reconnects after which a stream is given up.
const MAX_RECONNECT_FAILURES: u32 = 5;
const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");

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
pub(super) async fn read_events(
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
pub(super) fn get_stream(shared: &Shared, cursor: &Cursor) -> (reqwest::RequestBuilder, bool) {
    let (mut request, sent_session) = shared.request(Method::GET, ACCEPT_SSE, None);
    if let Some(id) = &cursor.last_event_id {
        request = request.header(LAST_EVENT_ID, id.as_str());
    }
    (request, sent_session)
}

/// Waits `delay` unless the link closes first. False when it closed.
pub(super) async fn pause(shared: &Shared, delay: Duration) -> bool {
    tokio::select! {
        () = shared.closed.cancelled() => false,
        () = tokio::time::sleep(delay) => true,
    }
}

/// A POST stream ended before the response: poll with GET + `Last-Event-ID` until the response
/// arrives, the server refuses, or reconnecting keeps failing.
pub(super) async fn resume(
    shared: &Shared,
    pending: &mut Vec<Value>,
    answers: Answers,
    mut cursor: Cursor,
) {
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
pub(super) async fn listen(
    shared: Arc<Shared>,
    mut ready: Option<tokio::sync::oneshot::Sender<()>>,
) {
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
