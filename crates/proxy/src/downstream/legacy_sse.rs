//! The legacy HTTP+SSE transport (2024-11-05): GET `/sse/{server}` opens a session's stream, POST
//! `/message/{server}?sessionId=…` carries the agent's messages.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::interceptor::DownstreamKind;
use crate::jsonrpc;
use crate::registry::Shared;
use crate::session::Session;
use crate::stream::STANDING;

use super::{
    Rejection, admit, bad_request, no_room, posted_session, read_messages, route_all, rpc_error,
    sse,
};

pub(super) async fn get_sse(
    State(shared): State<Arc<Shared>>,
    Path(server): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Rejection> {
    let agent = admit(&shared, &server, &headers)?;
    let server: Arc<str> = Arc::from(server);
    let Some(slot) = shared.reserve_slot_or_evict(&server) else {
        return Ok(no_room(&shared, &server, Value::Null));
    };
    let session = match Session::start(
        shared.relay.clone(),
        server.clone(),
        agent,
        DownstreamKind::LegacySse,
        false,
        Some(slot),
    )
    .await
    {
        Ok(s) => s,
        Err(e) => {
            return Ok(rpc_error(
                StatusCode::BAD_GATEWAY,
                Value::Null,
                jsonrpc::INTERNAL_ERROR,
                e,
            ));
        }
    };
    shared.insert_session(session.clone());
    let Some(body) = session.attach(STANDING, None) else {
        return Ok(rpc_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            Value::Null,
            jsonrpc::INTERNAL_ERROR,
            "stream vanished",
        ));
    };
    session.send_endpoint(format!("/message/{server}?sessionId={}", session.id));
    let (sh, s) = (shared.clone(), session.clone());
    let body = body.on_close(move |_| {
        sh.remove_session(&s.id);
        s.close();
    });
    Ok(sse(&shared, body))
}

pub(super) async fn post_message(
    State(shared): State<Arc<Shared>>,
    Path(server): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    req: Request,
) -> Result<Response, Rejection> {
    let (parts, body) = req.into_parts();
    let agent = admit(&shared, &server, &parts.headers)?;
    let Some(id) = query.get("sessionId") else {
        return Ok(bad_request("missing `sessionId` parameter"));
    };
    let (messages, batch) = read_messages(&shared, &parts.headers, body).await?;
    let server: Arc<str> = Arc::from(server);
    let session = posted_session(
        &shared,
        id,
        &server,
        &agent,
        DownstreamKind::LegacySse,
        (&messages, batch),
    )?;
    // Every answer, refusals among them, travels on the session's stream.
    for (m, route) in route_all(messages) {
        session.on_agent_message(m, route, STANDING, None);
    }
    Ok(StatusCode::ACCEPTED.into_response())
}
