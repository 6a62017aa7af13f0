//! One POST per message the relay sends: the request as the server expects it, and its answer
//! (202, a JSON body, or an SSE stream) turned into messages for the relay, HTTP errors included.

use std::sync::{Arc, PoisonError};

use http::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::jsonrpc;
use crate::standard_headers;

use super::streams::{Cursor, StreamEnd, read_events, resume};
use super::{
    ACCEPT_POST, ACCEPT_SSE, Answers, SESSION_ID, Shared, content_type_is, display_url, request_ids,
};

/// Sends one message (or batch) as a POST and relays whatever comes back.
pub(super) async fn post(shared: Arc<Shared>, msg: Value) {
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
    let replies = crate::upstream::exchange::json_messages(&body);
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
