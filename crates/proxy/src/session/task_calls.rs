//! Calls answered with a proxy-owned task (see `crate::tasks`), and the `tasks/*` requests for
//! those tasks.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::interceptor::{
    AgentChannel, CallDecision, CallOutcome, CallTicket, SessionInfo, Withdrawal,
};
use crate::jsonrpc;
use crate::stream::StreamId;
use crate::tasks::{self, Outcome, ServerTasks, Status, TASK_PREFIX};

use super::held::{self, tool_call};
use super::{FLOATING, PendingKind, Session, State};

impl Session {
    /// A task-augmented `tools/call` that Airlock answers with a task of its own: tasks were
    /// offered, and the server does not run this tool as a task itself.
    pub(super) fn answers_as_task(&self, msg: &Value) -> bool {
        if self.remap || msg.pointer("/params/task").is_none() {
            return false;
        }
        let name = msg
            .pointer("/params/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let st = self.lock();
        st.task_offer.is_some() && !st.server_task_tools.contains(name)
    }

    /// Whether a `tasks/get|result|cancel` names one of Airlock's own tasks.
    pub(super) fn owns_task(&self, msg: &Value) -> bool {
        msg.pointer("/params/taskId")
            .and_then(Value::as_str)
            .is_some_and(|id| id.starts_with(TASK_PREFIX))
            && self.lock().task_offer.is_some()
    }

    /// Answers a task-augmented `tools/call` with a new task at once, then decides and runs the
    /// call in the background; the outcome waits in the task (see `tasks`).
    pub(super) fn hold_as_task(
        self: &Arc<Self>,
        mut msg: Value,
        stream: StreamId,
        info: Arc<SessionInfo>,
    ) {
        let ttl = msg.pointer("/params/task/ttl").and_then(Value::as_u64);
        if let Some(params) = msg.get_mut("params").and_then(Value::as_object_mut) {
            // The server is not asked to run it as a task: Airlock is the task's receiver.
            params.remove("task");
        }
        let request_id = msg.get("id").cloned().unwrap_or(Value::Null);
        let hold = self.closed.child_token();
        let task_id = {
            let mut st = self.lock();
            if self.closed.is_cancelled() {
                // `close` ran after the request found the session: no task may outlive it.
                drop(st);
                self.refuse(&msg, held::session_ended(&msg), Some(stream), &info);
                return;
            }
            let task = st.tasks.create(ttl, hold.clone());
            let id = task.id().to_owned();
            let answer = jsonrpc::result(request_id, tasks::create_result(task));
            st.streams.deliver(stream, &answer, true);
            id
        };
        let session = self.clone();
        tokio::spawn(async move {
            let interceptor = session.relay.interceptor.clone();
            let (tx, mut rx) = mpsc::unbounded_channel();
            let (status_tx, mut status_rx) = mpsc::unbounded_channel();
            let agent = AgentChannel::for_task(tx, status_tx);
            let decision = {
                let call = tool_call(&msg, &info, true);
                let fut = interceptor.tool_call(call, agent.clone());
                tokio::pin!(fut);
                loop {
                    tokio::select! {
                        // The decision first, as for a held call (`hold_call`).
                        biased;
                        d = &mut fut => break Some(d),
                        Some(note) = rx.recv() => session.lock().deliver_to(FLOATING, &note, false),
                        Some(m) = status_rx.recv() => session.lock().tasks.set_message(&task_id, m),
                        // `tasks/cancel`, or the session ended: dropping the decision withdraws it.
                        () = hold.cancelled() => {
                            agent.withdraw(if session.closed.is_cancelled() {
                                Withdrawal::SessionClosed
                            } else {
                                Withdrawal::Cancelled(Some("tasks/cancel".into()))
                            });
                            break None;
                        }
                    }
                }
            };
            match decision {
                None => {}
                Some(CallDecision::Respond(result)) => {
                    let message = tasks::result_text(&result);
                    let mut st = session.lock();
                    let out = st.tasks.finish(
                        &task_id,
                        Status::Completed,
                        message,
                        Some(Outcome::Result(result)),
                    );
                    st.deliver_all(out);
                }
                Some(CallDecision::Forward(ticket)) => {
                    session.forward_task_call(msg, task_id, ticket, info);
                }
            }
        });
    }

    /// Sends an allowed task's call upstream under an id of Airlock's own (the agent's request
    /// was answered long ago and its id may be reused).
    pub(super) fn forward_task_call(
        &self,
        mut msg: Value,
        task_id: String,
        ticket: Box<dyn CallTicket>,
        info: Arc<SessionInfo>,
    ) {
        let local = Value::String(self.relay.local_id());
        let key = jsonrpc::key(&local);
        msg["id"] = local;
        let mut st = self.lock();
        match st.tasks.get_mut(&task_id) {
            Some(task) if !task.status().is_terminal() => task.upstream_key = Some(key),
            // Cancelled meanwhile: it never runs (the dropped ticket says so in history).
            _ => return,
        }
        st.tasks.set_message(
            &task_id,
            "allowed by Airlock; the server is running the call".into(),
        );
        let kind = PendingKind::TaskCall {
            ticket: Some(ticket),
            task: task_id,
        };
        self.forward_locked(&mut st, msg, FLOATING, kind, info);
    }

    /// `tasks/get`, `tasks/result` and `tasks/cancel` for one of Airlock's own tasks.
    pub(super) fn task_request(&self, method: &str, msg: Value, stream: StreamId) {
        let id = msg.get("id").cloned().unwrap_or(Value::Null);
        let task_id = msg
            .pointer("/params/taskId")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let mut st = self.lock();
        let answer = match method {
            "tasks/get" => match st.tasks.get(&task_id) {
                Some(task) => jsonrpc::result(id, task.to_json()),
                None => jsonrpc::error(id, jsonrpc::INVALID_PARAMS, tasks::not_found(&task_id)),
            },
            "tasks/result" => match st.tasks.wait_result(&task_id, id.clone(), stream) {
                Ok(Some(answer)) => answer,
                // Answered when the task ends; the stream stays open (with keep-alives).
                Ok(None) => return,
                Err(e) => jsonrpc::error(id, jsonrpc::INVALID_PARAMS, e),
            },
            _ => {
                let (status, upstream) = match st.tasks.get_mut(&task_id) {
                    None => {
                        let e =
                            jsonrpc::error(id, jsonrpc::INVALID_PARAMS, tasks::not_found(&task_id));
                        st.streams.deliver(stream, &e, true);
                        return;
                    }
                    Some(task) => (task.status(), task.upstream_key.take()),
                };
                if status.is_terminal() {
                    let e = jsonrpc::error(
                        id,
                        jsonrpc::INVALID_PARAMS,
                        format!(
                            "task `{task_id}` already ended ({}); it cannot be cancelled",
                            status.as_str()
                        ),
                    );
                    st.streams.deliver(stream, &e, true);
                    return;
                }
                if let Some(task) = st.tasks.get(&task_id) {
                    task.hold.cancel();
                }
                let message = if let Some(key) = &upstream {
                    // Running upstream: cancel it there; its late answer is ignored.
                    if let Some(mut p) = st.pending.remove(key) {
                        if let Some(k) = &p.progress {
                            st.progress.remove(k);
                        }
                        p.kind.finish(CallOutcome::Cancelled(Some("tasks/cancel")));
                        if let Ok(rid) = serde_json::from_str::<Value>(key) {
                            let _ = self.outbox.send(json!({
                                "jsonrpc": "2.0",
                                "method": "notifications/cancelled",
                                "params": {"requestId": rid, "reason": "the agent cancelled the task"}
                            }));
                        }
                    }
                    "cancelled by the agent while the server was running the call"
                } else {
                    "cancelled by the agent before it ran; it will not run"
                };
                let out = st
                    .tasks
                    .finish(&task_id, Status::Cancelled, Some(message.into()), None);
                let task = st.tasks.get(&task_id).map(tasks::Task::to_json);
                st.deliver_all(out);
                jsonrpc::result(id, task.unwrap_or(Value::Null))
            }
        };
        st.streams.deliver(stream, &answer, true);
    }

    /// `tasks/list` once tasks were offered: Airlock's own tasks, in front of the server's when
    /// the server lists its own.
    pub(super) fn list_tasks(&self, msg: Value, stream: StreamId, info: Arc<SessionInfo>) {
        let first_page = msg.pointer("/params/cursor").is_none();
        let server_lists = self.lock().task_offer.is_some_and(|o| o.list);
        if server_lists {
            self.forward_request(msg, stream, PendingKind::TasksList { first_page }, info);
            return;
        }
        let id = msg.get("id").cloned().unwrap_or(Value::Null);
        let mut st = self.lock();
        let answer = if first_page {
            jsonrpc::result(id, json!({"tasks": st.tasks.list()}))
        } else {
            jsonrpc::error(id, jsonrpc::INVALID_PARAMS, "unknown cursor for tasks/list")
        };
        st.streams.deliver(stream, &answer, true);
    }

    /// Offers the tools of a `tools/list` result that may wait for a human as tasks
    /// (`execution.taskSupport: "optional"`), unless the server runs them as tasks itself.
    pub(super) fn offer_tools_as_tasks(
        &self,
        st: &mut State,
        offer: ServerTasks,
        info: &SessionInfo,
        result: &mut Value,
    ) {
        let Some(tools) = result.get_mut("tools").and_then(Value::as_array_mut) else {
            return;
        };
        for tool in tools {
            let Some(name) = tool.get("name").and_then(Value::as_str).map(str::to_owned) else {
                continue;
            };
            if offer.tools_call && tasks::task_support(tool) != "forbidden" {
                st.server_task_tools.insert(name);
                continue;
            }
            st.server_task_tools.remove(&name);
            if self.relay.interceptor.may_ask_human(info, &name) {
                tasks::mark_optional(tool);
            }
        }
    }
}
