//! Requests forwarded upstream and awaiting their response, and the routing of what the server
//! sends back.

use std::sync::Arc;

use serde_json::Value;

use crate::interceptor::{CallOutcome, CallTicket, SessionInfo};
use crate::jsonrpc::{self, Kind};
use crate::stream::{STANDING, StreamId};
use crate::tasks::{self, Outcome, Status, TASKS_VERSION};

use super::Session;

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

/// A request forwarded upstream, awaiting its response.
pub(super) struct Pending {
    /// The id the agent used (differs from the key only when remapping).
    pub(super) agent_id: Value,
    pub(super) stream: StreamId,
    pub(super) kind: PendingKind,
    pub(super) info: Arc<SessionInfo>,
    /// Key of the progress token registered for this request.
    pub(super) progress: Option<String>,
}

impl Session {
    pub(super) fn forward_request(
        &self,
        mut msg: Value,
        stream: StreamId,
        kind: PendingKind,
        info: Arc<SessionInfo>,
    ) {
        let agent_id = msg.get("id").cloned().unwrap_or(Value::Null);
        let mut st = self.lock();
        let key = if self.remap {
            let local = self.shared.local_id();
            msg["id"] = Value::String(local.clone());
            jsonrpc::key(&Value::String(local))
        } else {
            jsonrpc::key(&agent_id)
        };
        let mut progress = None;
        if let Some(token) = jsonrpc::progress_token(&msg).cloned() {
            if self.remap {
                let local = Value::String(self.shared.local_id());
                msg["params"]["_meta"]["progressToken"] = local.clone();
                let k = jsonrpc::key(&local);
                st.progress.insert(k.clone(), (stream, Some(token)));
                progress = Some(k);
            } else {
                let k = jsonrpc::key(&token);
                st.progress.insert(k.clone(), (stream, None));
                progress = Some(k);
            }
        }
        st.pending.insert(
            key,
            Pending {
                agent_id,
                stream,
                kind,
                info,
                progress,
            },
        );
        drop(st);
        let _ = self.outbox.send(msg);
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
                let Some(mut p) = st.pending.remove(&key) else {
                    tracing::debug!(server = %self.server, "response to no pending request dropped");
                    return;
                };
                if let Some(k) = &p.progress {
                    st.progress.remove(k);
                }
                if self.remap {
                    msg["id"] = p.agent_id.clone();
                }
                match &mut p.kind {
                    PendingKind::Plain => {}
                    PendingKind::Initialize => {
                        if let Some(v) = msg
                            .pointer("/result/protocolVersion")
                            .and_then(Value::as_str)
                        {
                            let offer = v == TASKS_VERSION
                                && !self.remap
                                && self.shared.interceptor.offers_tasks();
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
                            self.shared.interceptor.tools_list(&p.info, result);
                            if self.remap {
                                // What stateless agents were shown decides the `Mcp-Param-*`
                                // headers their calls must carry.
                                self.shared.tool_headers(&self.server).learn(result);
                            }
                            if let Some(offer) = st.task_offer {
                                self.offer_tools_as_tasks(&mut st, offer, &p.info, result);
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
                            match (msg.get("result"), msg.get("error")) {
                                (Some(r), _) => t.finish(CallOutcome::Result(r)),
                                (None, Some(e)) => t.finish(CallOutcome::Error(e)),
                                (None, None) => {}
                            }
                        }
                        let obj = msg.as_object_mut();
                        let (result, error) = match obj {
                            Some(o) => (o.remove("result"), o.remove("error")),
                            None => (None, None),
                        };
                        let (status, message, outcome) = match (result, error) {
                            (Some(r), _) => {
                                let failed =
                                    r.get("isError").and_then(Value::as_bool) == Some(true);
                                let message = if failed { tasks::result_text(&r) } else { None };
                                let status = if failed {
                                    Status::Failed
                                } else {
                                    Status::Completed
                                };
                                (status, message, Outcome::Result(r))
                            }
                            (None, Some(e)) => {
                                let message =
                                    e.get("message").and_then(Value::as_str).map(str::to_owned);
                                (Status::Failed, message, Outcome::Error(e))
                            }
                            (None, None) => return,
                        };
                        let out = st.tasks.finish(&task, status, message, Some(outcome));
                        st.deliver_all(out);
                        return;
                    }
                    PendingKind::ToolCall(ticket) => {
                        if let Some(t) = ticket.take() {
                            match (msg.get("result"), msg.get("error")) {
                                (Some(r), _) => t.finish(CallOutcome::Result(r)),
                                (None, Some(e)) => t.finish(CallOutcome::Error(e)),
                                (None, None) => {}
                            }
                        }
                    }
                }
                st.streams.deliver(p.stream, &msg, true);
            }
            Kind::Notification if jsonrpc::method(&msg) == "notifications/progress" => {
                let token = msg.get("params").and_then(|p| p.get("progressToken"));
                let mut st = self.lock();
                let target = token.and_then(|t| st.progress.get(&jsonrpc::key(t)).cloned());
                match target {
                    Some((stream, original)) => {
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
            Kind::Request | Kind::Notification => {
                let mut st = self.lock();
                let target = st.streams.newest_open().unwrap_or(STANDING);
                st.streams.deliver(target, &msg, false);
            }
            Kind::Invalid => {
                tracing::warn!(server = %self.server, "upstream sent a message that is not JSON-RPC; dropped");
            }
        }
    }
}
