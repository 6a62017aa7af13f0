//! Streamable HTTP at `/mcp/{server}`: POST (sessions, initialize, batches), GET (the standing
//! stream, resumption) and DELETE.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::inbound::{self, Inbound, RefusalKind};
use crate::interceptor::DownstreamKind;
use crate::jsonrpc::{self, Kind};
use crate::registry::Shared;
use crate::session::Session;
use crate::stream::STANDING;

use super::stateless::{self, check_standard_headers, stateless_version};
use super::{
    Rejection, SESSION_HEADER, accepts, admit, answer, bad_request, check_version, find_session,
    header_str, no_room, posted_session, read_messages, refuse_post, route_all, rpc_error,
    sessionless, sse,
};

pub(super) async fn post_mcp(
    State(shared): State<Arc<Shared>>,
    Path(server): Path<String>,
    req: Request,
) -> Result<Response, Rejection> {
    let (parts, body) = req.into_parts();
    let headers = &parts.headers;
    let agent = admit(&shared, &server, headers)?;
    if !accepts(headers, &["application/json", "text/event-stream"]) {
        return Ok(rpc_error(
            StatusCode::NOT_ACCEPTABLE,
            Value::Null,
            jsonrpc::INVALID_REQUEST,
            "the `Accept` header must list `application/json` and `text/event-stream`",
        ));
    }
    let (messages, batch) = read_messages(&shared, headers, body).await?;
    let server: Arc<str> = Arc::from(server);
    let stateless_request = header_str(headers, SESSION_HEADER).is_none()
        && !batch
        && jsonrpc::classify(&messages[0]) == Kind::Request
        && (jsonrpc::is_stateless(&messages[0]) || stateless_version(headers));
    // A stateless request's version is the server's to judge (it answers an unsupported one
    // with its list of supported versions); in a session, Airlock holds the agent to the
    // versions it relays.
    if !stateless_request && let Err(r) = check_version(headers) {
        return Ok(r.into_response());
    }
    // A stateless `initialize` is the server's to refuse (the method was removed in 2026-07-28).
    let is_init = !stateless_request
        && !batch
        && jsonrpc::method(&messages[0]) == "initialize"
        && jsonrpc::classify(&messages[0]) == Kind::Request;

    let mut new_session = false;
    let session = match header_str(headers, SESSION_HEADER) {
        Some(id) => {
            let s = posted_session(
                &shared,
                id,
                &server,
                &agent,
                DownstreamKind::StreamableHttp,
                (&messages, batch),
            )?;
            if is_init {
                return Ok(bad_request("this session is already initialized"));
            }
            s
        }
        None if is_init => {
            let id = messages[0].get("id").cloned().unwrap_or(Value::Null);
            let Some(slot) = shared.reserve_slot_or_evict(&server) else {
                return Ok(no_room(&shared, &server, id));
            };
            match Session::start(
                shared.relay.clone(),
                server.clone(),
                agent,
                DownstreamKind::StreamableHttp,
                false,
                Some(slot),
            )
            .await
            {
                Ok(s) => {
                    shared.insert_session(s.clone());
                    new_session = true;
                    s
                }
                Err(e) => {
                    return Ok(rpc_error(
                        StatusCode::BAD_GATEWAY,
                        id,
                        jsonrpc::INTERNAL_ERROR,
                        e,
                    ));
                }
            }
        }
        None if stateless_request => {
            let msg = messages.into_iter().next().unwrap_or(Value::Null);
            if let Err(r) = check_standard_headers(&shared, &server, headers, &msg) {
                let kind = RefusalKind::Malformed;
                let msgs = std::slice::from_ref(&msg);
                return Ok(refuse_post(
                    &shared,
                    &sessionless(&server, &agent, DownstreamKind::StreamableHttp),
                    msgs,
                    kind,
                    r.into_response(),
                ));
            }
            return Ok(stateless::stateless(shared, server, agent, headers, msg).await);
        }
        None => {
            let r = bad_request("missing `Mcp-Session-Id` header");
            let kind = RefusalKind::NoSession;
            return Ok(refuse_post(
                &shared,
                &sessionless(&server, &agent, DownstreamKind::StreamableHttp),
                &messages,
                kind,
                r,
            ));
        }
    };

    let routed = route_all(messages);
    // A single message that cannot be a request (a `tools/call` without an id, an envelope that
    // is not JSON-RPC) is refused with the POST's status; a refused request is answered as one.
    if let [(msg, Inbound::Refused(_))] = routed.as_slice()
        && jsonrpc::classify(msg) != Kind::Request
    {
        let Some((msg, Inbound::Refused(refusal))) = routed.into_iter().next() else {
            return Ok(bad_request("invalid request"));
        };
        let answer = session.refuse(&msg, refusal, None, &session.info());
        return Ok((StatusCode::BAD_REQUEST, axum::Json(answer)).into_response());
    }
    let answers = routed
        .iter()
        .filter(|(_, r)| inbound::expects_answer(r))
        .count();
    if answers == 0 {
        for (m, route) in routed {
            session.on_agent_message(m, route, STANDING, None);
        }
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    let stream = session.open_stream(answers, batch);
    let Some(body) = session.attach(stream, None) else {
        return Ok(rpc_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            Value::Null,
            jsonrpc::INTERNAL_ERROR,
            "stream vanished",
        ));
    };
    for (m, route) in routed {
        session.on_agent_message(m, route, stream, None);
    }
    let mut resp = answer(&shared, body).await;
    if new_session && let Ok(v) = HeaderValue::from_str(&session.id) {
        resp.headers_mut().insert(SESSION_HEADER, v);
    }
    Ok(resp)
}

pub(super) async fn get_mcp(
    State(shared): State<Arc<Shared>>,
    Path(server): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Rejection> {
    let agent = admit(&shared, &server, &headers)?;
    if !accepts(&headers, &["text/event-stream"]) {
        return Ok(rpc_error(
            StatusCode::NOT_ACCEPTABLE,
            Value::Null,
            jsonrpc::INVALID_REQUEST,
            "the `Accept` header must list `text/event-stream`",
        ));
    }
    check_version(&headers)?;
    let Some(id) = header_str(&headers, SESSION_HEADER) else {
        return Ok(bad_request("missing `Mcp-Session-Id` header"));
    };
    let session = find_session(&shared, id, &server, &agent, DownstreamKind::StreamableHttp)?;
    let (stream, after) = match header_str(&headers, "last-event-id") {
        None => (STANDING, None),
        Some(last) => match last
            .split_once('-')
            .and_then(|(s, n)| Some((s.parse().ok()?, n.parse().ok()?)))
        {
            Some((s, n)) => (s, Some(n)),
            None => return Ok(bad_request(format!("unknown event id `{last}`"))),
        },
    };
    match session.attach(stream, after) {
        Some(body) => Ok(sse(&shared, body)),
        None => Ok(rpc_error(
            StatusCode::NOT_FOUND,
            Value::Null,
            jsonrpc::INVALID_REQUEST,
            "that stream can no longer be resumed",
        )),
    }
}

pub(super) async fn delete_mcp(
    State(shared): State<Arc<Shared>>,
    Path(server): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Rejection> {
    let agent = admit(&shared, &server, &headers)?;
    let Some(id) = header_str(&headers, SESSION_HEADER) else {
        return Ok(bad_request("missing `Mcp-Session-Id` header"));
    };
    let s = find_session(&shared, id, &server, &agent, DownstreamKind::StreamableHttp)?;
    shared.remove_session(&s.id);
    s.close();
    tracing::debug!(server = %server, "session ended by the agent");
    Ok(StatusCode::NO_CONTENT.into_response())
}
