//! `GET /api/events`: the gate's live events as Server-Sent Events.
//!
//! Each event is `event: <approval|call|status>` with the JSON of its content as `data:`. A comment
//! line (`: keep-alive`) goes out every 15 s so proxies and the webview keep the stream open. A
//! subscriber that falls too far behind the gate's broadcast channel is disconnected rather than
//! silently skipping events; the UI reconnects and reloads its state, so it never shows stale data.

use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::Stream;
use tokio::sync::broadcast::{self, error::RecvError};

use crate::types::Event;

/// Default interval of `: keep-alive` comments.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Turns a broadcast of the gate's events into an SSE response; `convert` maps each to a wire
/// [`Event`] (or drops it with `None`).
pub fn event_stream<T, F>(
    rx: broadcast::Receiver<T>,
    convert: F,
    keep_alive: Duration,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>> + Send + 'static>
where
    T: Clone + Send + 'static,
    F: Fn(T) -> Option<Event> + Send + Sync + 'static,
{
    let stream = futures::stream::unfold((rx, convert), |(mut rx, convert)| async move {
        loop {
            match rx.recv().await {
                Ok(item) => {
                    let Some(event) = convert(item) else { continue };
                    return Some((Ok(to_sse(&event)), (rx, convert)));
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(
                        missed,
                        "event stream subscriber fell behind; closing it so it reloads"
                    );
                    return None;
                }
                Err(RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(keep_alive).text("keep-alive"))
}

/// One wire event as an SSE frame.
pub fn to_sse(event: &Event) -> SseEvent {
    let data = match event {
        Event::Approval(a) => serde_json::to_string(a),
        Event::Call(c) => serde_json::to_string(c),
        Event::Status(s) => serde_json::to_string(s),
    };
    match data {
        Ok(data) => SseEvent::default().event(event.name()).data(data),
        // Our own types always serialize; should one not, the UI gets an event it can see.
        Err(e) => SseEvent::default().event("error").data(e.to_string()),
    }
}
