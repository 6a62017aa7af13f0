//! Requests forwarded upstream and awaiting their response, and the routing of what the server
//! sends back.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::interceptor::{CallOutcome, CallTicket, SessionInfo};
use crate::jsonrpc::{self, Kind};
use crate::stream::{STANDING, StreamId};
use crate::tasks::{self, Outcome, Status, TASKS_VERSION};

use super::{Progress, Session, State};

/// Where a 2026-07-28 subscription's notifications name the `subscriptions/listen` request they
/// belong to, and where its closing result does.
const SUBSCRIPTION_POINTER: &str = "/params/_meta/io.modelcontextprotocol~1subscriptionId";
const LISTEN_RESULT_POINTER: &str = "/result/_meta/io.modelcontextprotocol~1subscriptionId";

pub(super) enum PendingKind {
    Plain,
    Initialize,
    ToolsList,
    ToolCall(Option<Box<dyn CallTicket>>),
    /// A proxy-owned task's call, forwarded once allowed; its answer ends the task.
    TaskCall {
        ticket: Option<Box<dyn CallTicket>>,
        task: String,
    },
    /// `tasks/list` to a server that lists its own tasks; the first page gets ours in front.
    TasksList {
        first_page: bool,
    },
}

impl PendingKind {
    pub(super) fn ticket(&mut self) -> Option<&mut Box<dyn CallTicket>> {
        match self {
            PendingKind::ToolCall(ticket) | PendingKind::TaskCall { ticket, .. } => ticket.as_mut(),
            _ => None,
        }
    }

    /// Tells a call's ticket how it ended (once; later calls do nothing).
    pub(super) fn finish(&mut self, outcome: CallOutcome<'_>) {
        let ticket = match self {
            PendingKind::ToolCall(ticket) | PendingKind::TaskCall { ticket, .. } => ticket.take(),
            _ => None,
        };
        if let Some(ticket) = ticket {
            ticket.finish(outcome);
        }
    }
}

/// A request forwarded upstream, awaiting its response.
pub(super) struct Pending {
    /// The id the agent used (differs from the key only when remapping).
    pub(super) agent_id: Value,
    pub(super) stream: StreamId,
    pub(super) kind: PendingKind,
    pub(super) info: Arc<SessionInfo>,
    /// Key of the progress token registered for this request.
    pub(super) progress: Option<String>,
    /// When the request is given up unless progress (or a request of the server to the agent)
    /// moves it; never later than `last`.
    pub(super) deadline: Instant,
    /// The longest the request may take.
    pub(super) last: Instant,
    /// Something of the server's came back for it already (a stateless exchange's
    /// notifications).
    pub(super) heard: bool,
}

impl Pending {
    /// Progress came: the request may wait another request timeout, up to its longest time.
    pub(super) fn extend(&mut self, now: Instant, timeout: std::time::Duration) {
        self.deadline = (now + timeout).min(self.last);
    }
}

impl State {
    /// Answers a forwarded request that will get no answer from the server with a JSON-RPC
    /// error: on its stream, or as the failure of its task when it belongs to one.
    pub(super) fn answer_with_error(&mut self, p: Pending, code: i64, message: &str) {
        if let PendingKind::TaskCall { task, .. } = &p.kind {
            let error = json!({"code": code, "message": message});
            let out = self.tasks.finish(
                task,
                Status::Failed,
                Some(message.to_owned()),
                Some(Outcome::Error(error)),
            );
            self.deliver_all(out);
            return;
        }
        let answer = jsonrpc::error(p.agent_id, code, message);
        self.streams.deliver(p.stream, &answer, true);
    }
}

impl Session {
    /// Forwards a request upstream and remembers it until its response. An id already in flight
    /// (or of Airlock's own space) is refused instead, the first request unharmed.
    pub(super) fn forward_request(
        &self,
        msg: Value,
        stream: StreamId,
        kind: PendingKind,
        info: Arc<SessionInfo>,
    ) {
        let mut st = self.lock();
        if !self.remap
            && let Err(refusal) = self.check_id(&st, &msg)
        {
            drop(st);
            self.refuse(&msg, refusal, Some(stream), &info);
            return;
        }
        self.forward_locked(&mut st, msg, stream, kind, info);
    }

    /// Forwards under the state lock (so no other request can take the id in between).
    pub(super) fn forward_locked(
        &self,
        st: &mut State,
        mut msg: Value,
        stream: StreamId,
        mut kind: PendingKind,
        info: Arc<SessionInfo>,
    ) {
        if self.exchange.is_some() {
            self.forward_exchange(st, msg, stream, kind, info);
            return;
        }
        let agent_id = msg.get("id").cloned().unwrap_or(Value::Null);
        let key = if self.remap {
            let local = Value::String(self.relay.local_id());
            let key = jsonrpc::key(&local);
            msg["id"] = local;
            key
        } else {
            jsonrpc::key(&agent_id)
        };
        let mut progress = None;
        if let Some(token) = jsonrpc::progress_token(&msg).cloned() {
            let (upstream_token, original) = if self.remap {
                let local = Value::String(self.relay.local_id());
                msg["params"]["_meta"]["progressToken"] = local.clone();
                (local, Some(token))
            } else {
                (token, None)
            };
            let k = jsonrpc::key(&upstream_token);
            st.progress.insert(
                k.clone(),
                Progress {
                    stream,
                    original,
                    pending: key.clone(),
                },
            );
            progress = Some(k);
        }
        let (deadline, last) = self.deadlines(&msg);
        if self.outbox.send(msg).is_err() {
            // The session is over: the request was never sent (a call's ticket, dropped here,
            // gives its limits back).
            if let Some(k) = &progress {
                st.progress.remove(k);
            }
            return;
        }
        if let Some(ticket) = kind.ticket() {
            ticket.forwarded();
        }
        st.pending.insert(
            key,
            Pending {
                agent_id,
                stream,
                kind,
                info,
                progress,
                deadline,
                last,
                heard: false,
            },
        );
    }

    /// The pending request a response without a usable id (`id: null`) plainly belongs to: the
    /// only one in flight. Logged either way.
    fn orphan_owner(&self, st: &mut State, msg: &Value) -> Option<(String, Pending)> {
        let error = msg
            .pointer("/error/message")
            .and_then(Value::as_str)
            .unwrap_or("");
        let id = msg.get("id").map(Value::to_string).unwrap_or_default();
        if !msg.get("id").is_some_and(Value::is_null) || st.pending.len() != 1 {
            tracing::warn!(
                server = %self.server,
                id,
                error,
                in_flight = st.pending.len(),
                "upstream answered a request that is not in flight; dropped"
            );
            return None;
        }
        let key = st.pending.keys().next().cloned()?;
        tracing::warn!(
            server = %self.server,
            error,
            "upstream answered with `id: null`; it can only be the one request in flight"
        );
        let p = st.pending.remove(&key)?;
        Some((key, p))
    }

    /// Answers the agent's request `p` with the server's response `msg` (restoring the agent's
    /// id), after what the relay does with responses of its kind.
    pub(super) fn answer_pending(&self, st: &mut State, mut p: Pending, mut msg: Value) {
        if let Some(k) = &p.progress {
            st.progress.remove(k);
        }
        if self.remap {
            msg["id"] = p.agent_id.clone();
            // A subscription's closing result names it by the id the upstream saw.
            if let Some(slot) = msg.pointer_mut(LISTEN_RESULT_POINTER) {
                *slot = p.agent_id.clone();
            }
        }
        match &mut p.kind {
            PendingKind::Plain => {}
            PendingKind::Initialize => {
                if let Some(v) = msg
                    .pointer("/result/protocolVersion")
                    .and_then(Value::as_str)
                {
                    let offer =
                        v == TASKS_VERSION && !self.remap && self.relay.interceptor.offers_tasks();
                    {
                        let mut i = self.info.write().unwrap_or_else(|p| p.into_inner());
                        let mut new = (**i).clone();
                        new.protocol_version = Some(v.to_owned());
                        *i = Arc::new(new);
                    }
                    if offer && let Some(result) = msg.get_mut("result") {
                        st.task_offer = Some(tasks::offer_in_initialize(result));
                    }
                }
            }
            PendingKind::ToolsList => {
                if let Some(result) = msg.get_mut("result") {
                    self.relay.interceptor.tools_list(&p.info, result);
                    if self.remap {
                        // What stateless agents were shown decides the `Mcp-Param-*`
                        // headers their calls must carry.
                        self.relay.tool_headers(&self.server).learn(result);
                    }
                    if let Some(offer) = st.task_offer {
                        self.offer_tools_as_tasks(st, offer, &p.info, result);
                    }
                }
            }
            PendingKind::TasksList { first_page } => {
                if *first_page
                    && let Some(theirs) = msg
                        .pointer_mut("/result/tasks")
                        .and_then(Value::as_array_mut)
                {
                    let mut all = st.tasks.list();
                    all.append(theirs);
                    *theirs = all;
                }
            }
            PendingKind::TaskCall { ticket, task } => {
                let task = std::mem::take(task);
                if let Some(t) = ticket.take() {
                    finish_with_answer(t, &msg);
                }
                let obj = msg.as_object_mut();
                let (result, error) = match obj {
                    Some(o) => (o.remove("result"), o.remove("error")),
                    None => (None, None),
                };
                let (status, message, outcome) = match (result, error) {
                    (Some(r), _) => {
                        let failed = r.get("isError").and_then(Value::as_bool) == Some(true);
                        let message = if failed { tasks::result_text(&r) } else { None };
                        let status = if failed {
                            Status::Failed
                        } else {
                            Status::Completed
                        };
                        (status, message, Outcome::Result(r))
                    }
                    (None, Some(e)) => {
                        let message = e.get("message").and_then(Value::as_str).map(str::to_owned);
                        (Status::Failed, message, Outcome::Error(e))
                    }
                    (None, None) => return,
                };
                let out = st.tasks.finish(&task, status, message, Some(outcome));
                st.deliver_all(out);
                return;
            }
            PendingKind::ToolCall(_) => {}
        }
        if self.shares_stdio()
            && let Some(status) = stateless_http_status(&msg)
        {
            // Airlock is the HTTP server of this exchange for the agent: an error from the
            // stdio server gets the status a 2026-07-28 server gives it over HTTP.
            st.streams.set_status(p.stream, status);
        }
        st.streams.deliver(p.stream, &msg, true);
        // The agent has its answer first; the ticket's completion (a queued history write)
        // stays off the answer's path.
        if let PendingKind::ToolCall(ticket) = &mut p.kind
            && let Some(t) = ticket.take()
        {
            finish_with_answer(t, &msg);
        }
    }

    /// Handles one message from the upstream.
    pub(super) fn on_server_message(&self, mut msg: Value) {
        if let Value::Array(items) = msg {
            for m in items {
                self.on_server_message(m);
            }
            return;
        }
        match jsonrpc::classify(&msg) {
            Kind::Response => {
                let key = jsonrpc::key(msg.get("id").unwrap_or(&Value::Null));
                let mut st = self.lock();
                let p = match st.pending.remove(&key) {
                    Some(p) => p,
                    None => match self.orphan_owner(&mut st, &msg) {
                        Some((_, p)) => {
                            msg["id"] = p.agent_id.clone();
                            p
                        }
                        None => return,
                    },
                };
                self.answer_pending(&mut st, p, msg);
            }
            Kind::Notification if jsonrpc::method(&msg) == "notifications/progress" => {
                let token = msg.get("params").and_then(|p| p.get("progressToken"));
                let mut st = self.lock();
                let target = token
                    .and_then(|t| st.progress.get(&jsonrpc::key(t)))
                    .map(|p| (p.stream, p.original.clone(), p.pending.clone()));
                match target {
                    Some((stream, original, pending)) => {
                        let timeout = self.relay.config.request_timeout;
                        if let Some(p) = st.pending.get_mut(&pending) {
                            p.extend(Instant::now(), timeout);
                        }
                        if let Some(orig) = original {
                            msg["params"]["progressToken"] = orig;
                        }
                        st.deliver_to(stream, &msg, false);
                    }
                    None => {
                        let target = st.streams.newest_open().unwrap_or(STANDING);
                        st.streams.deliver(target, &msg, false);
                    }
                }
            }
            kind @ (Kind::Request | Kind::Notification) => {
                if kind == Kind::Notification
                    && jsonrpc::method(&msg) == "notifications/tools/list_changed"
                {
                    // Outside the session's lock: the gate lists the tools on a link of its own.
                    self.relay.interceptor.tools_list_changed(&self.info());
                }
                let mut st = self.lock();
                if kind == Kind::Request
                    && !self.remap
                    && let Some(id) = msg.get("id")
                {
                    st.awaiting_agent.insert(jsonrpc::key(id));
                }
                if self.remap
                    && let Some(listen) = msg.pointer(SUBSCRIPTION_POINTER).map(jsonrpc::key)
                {
                    // A subscription's notification goes to the agent that listens, under its
                    // own id; never to another agent sharing the connection.
                    let Some(p) = st.pending.get(&listen) else {
                        tracing::debug!(server = %self.server, "notification of an ended subscription dropped");
                        return;
                    };
                    let (stream, agent_id) = (p.stream, p.agent_id.clone());
                    if let Some(slot) = msg.pointer_mut(SUBSCRIPTION_POINTER) {
                        *slot = agent_id;
                    }
                    st.streams.deliver(stream, &msg, false);
                    return;
                }
                let target = st.streams.newest_open().unwrap_or(STANDING);
                st.streams.deliver(target, &msg, false);
            }
            Kind::Invalid => {
                tracing::warn!(server = %self.server, "upstream sent a message that is not JSON-RPC; dropped");
            }
        }
    }
}

/// Tells a call's ticket the upstream's answer.
fn finish_with_answer(ticket: Box<dyn CallTicket>, msg: &Value) {
    match (msg.get("result"), msg.get("error")) {
        (Some(r), _) => ticket.finish(CallOutcome::Result(r)),
        (None, Some(e)) => ticket.finish(CallOutcome::Error(e)),
        // Not a response (the caller classified it as one): the ticket's drop says so.
        (None, None) => {}
    }
}

/// The HTTP status the 2026-07-28 Streamable HTTP transport gives a JSON-RPC error: 404 for an
/// unknown (or removed) method, 400 for a request the server cannot take as it is; `None` (200)
/// for the rest.
fn stateless_http_status(msg: &Value) -> Option<u16> {
    let code = msg.pointer("/error/code").and_then(Value::as_i64)?;
    match code {
        jsonrpc::METHOD_NOT_FOUND => Some(404),
        jsonrpc::PARSE_ERROR
        | jsonrpc::INVALID_REQUEST
        | jsonrpc::INVALID_PARAMS
        | crate::standard_headers::HEADER_MISMATCH
        | MISSING_CLIENT_CAPABILITY
        | super::UNSUPPORTED_PROTOCOL_VERSION => Some(400),
        _ => None,
    }
}

/// 2026-07-28 error: the request needs a client capability it did not declare.
const MISSING_CLIENT_CAPABILITY: i64 = -32021;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn errors_get_the_status_of_the_stateless_http_transport() {
        let error =
            |code: i64| json!({"jsonrpc": "2.0", "id": 1, "error": {"code": code, "message": "x"}});
        assert_eq!(stateless_http_status(&error(-32601)), Some(404));
        for code in [-32700, -32600, -32602, -32020, -32021, -32022] {
            assert_eq!(stateless_http_status(&error(code)), Some(400), "{code}");
        }
        assert_eq!(stateless_http_status(&error(-32603)), None);
        assert_eq!(
            stateless_http_status(&json!({"jsonrpc": "2.0", "id": 1, "result": {}})),
            None
        );
    }
}
