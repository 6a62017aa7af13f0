//! Proxy-owned tasks (MCP 2025-11-25, experimental): a `tools/call` that may wait for a human,
//! answered at once with a task the agent polls, instead of a request held open.
//!
//! When the interceptor asks for it ([`crate::Interceptor::offers_tasks`]) and a session
//! negotiated 2025-11-25, the relay:
//! - adds `tasks: {list, cancel, requests.tools.call}` to the server's `initialize` result;
//! - marks, in `tools/list`, each tool the interceptor may hold
//!   ([`crate::Interceptor::may_ask_human`]) with `execution.taskSupport: "optional"` when the
//!   server itself does not take it as a task;
//! - answers a task-augmented `tools/call` of such a tool with `CreateTaskResult` (ids start with
//!   [`TASK_PREFIX`]), decides it in the background as long as the approval may take, forwards it
//!   upstream without `params.task` once allowed, and keeps its outcome;
//! - serves `tasks/get`, `tasks/result` (blocks until the task ends), `tasks/cancel` and
//!   `tasks/list` for its own ids; every other task id goes to the server untouched.
//!
//! Statuses: `working` while deciding, waiting or running; `completed` with the server's result,
//! or with Airlock's refusal (an `isError` result whose text says why; the status message repeats
//! it); `failed` when the server answered `isError` or a JSON-RPC error, or died; `cancelled`
//! after `tasks/cancel`. A cancelled task never runs later. Tasks live as long as their session.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use crate::stream::StreamId;

/// Every task id Airlock hands out starts with this; other ids belong to the server.
pub(crate) const TASK_PREFIX: &str = "airlock-task-";

/// The one protocol version whose core has tasks. (2026-07-28 moved them to an extension with
/// another shape, which Airlock passes through without offering.)
pub(crate) const TASKS_VERSION: &str = "2025-11-25";

/// Suggested poll interval. Polling is answered from memory, so 1 s costs nothing.
const POLL_INTERVAL_MS: u64 = 1_000;
/// TTL when the agent asks for none, and the bounds of what it may ask for.
const DEFAULT_TTL_MS: u64 = 60 * 60 * 1_000;
const MIN_TTL_MS: u64 = 60 * 1_000;
const MAX_TTL_MS: u64 = 24 * 60 * 60 * 1_000;
/// `_meta` key relating a message to its task.
const RELATED_TASK: &str = "io.modelcontextprotocol/related-task";
/// `_meta` key of text a host may hand to the model while the task runs.
const IMMEDIATE_RESPONSE: &str = "io.modelcontextprotocol/model-immediate-response";

/// What the server declared about tasks in its own `initialize` result.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ServerTasks {
    pub(crate) list: bool,
    pub(crate) tools_call: bool,
}

/// Adds Airlock's task capability to an `initialize` result, keeping what the server declared.
pub(crate) fn offer_in_initialize(result: &mut Value) -> ServerTasks {
    let server = ServerTasks {
        list: result.pointer("/capabilities/tasks/list").is_some(),
        tools_call: result
            .pointer("/capabilities/tasks/requests/tools/call")
            .is_some(),
    };
    let _ = add_offer(result);
    server
}

fn add_offer(result: &mut Value) -> Option<()> {
    let tasks = child(child(result.as_object_mut()?, "capabilities")?, "tasks")?;
    tasks.entry("list").or_insert_with(|| json!({}));
    tasks.entry("cancel").or_insert_with(|| json!({}));
    let tools = child(child(tasks, "requests")?, "tools")?;
    tools.entry("call").or_insert_with(|| json!({}));
    Some(())
}

/// The object under `key`, made one if it is missing or not an object.
fn child<'a>(parent: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    let slot = parent
        .entry(key)
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
}

/// The `execution.taskSupport` a tool of a `tools/list` result declares.
pub(crate) fn task_support(tool: &Value) -> &str {
    tool.pointer("/execution/taskSupport")
        .and_then(Value::as_str)
        .unwrap_or("forbidden")
}

/// Marks a tool as callable as a task (`execution.taskSupport: "optional"`).
pub(crate) fn mark_optional(tool: &mut Value) {
    if let Some(execution) = tool.as_object_mut().and_then(|t| child(t, "execution")) {
        execution.insert("taskSupport".into(), json!("optional"));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Working,
    Completed,
    Failed,
    Cancelled,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Working => "working",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    pub(crate) fn is_terminal(self) -> bool {
        self != Status::Working
    }
}

/// How a task ended: the JSON-RPC `result` or `error` the `tools/call` would have had.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    Result(Value),
    Error(Value),
}

/// An agent blocked in `tasks/result`.
struct ResultWaiter {
    request_id: Value,
    stream: StreamId,
}

pub(crate) struct Task {
    id: String,
    status: Status,
    message: Option<String>,
    created: SystemTime,
    updated: SystemTime,
    ttl_ms: u64,
    outcome: Option<Outcome>,
    waiters: Vec<ResultWaiter>,
    /// Cancels the decision while it is still being made (policy, or a human).
    pub(crate) hold: CancellationToken,
    /// The id (as the upstream sees it) of the forwarded `tools/call`, while it runs.
    pub(crate) upstream_key: Option<String>,
}

impl Task {
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn status(&self) -> Status {
        self.status
    }

    /// The task object of `tasks/get`, `tasks/cancel`, `tasks/list` and status notifications.
    pub(crate) fn to_json(&self) -> Value {
        let mut v = json!({
            "taskId": self.id,
            "status": self.status.as_str(),
            "createdAt": rfc3339(self.created),
            "lastUpdatedAt": rfc3339(self.updated),
            "ttl": self.ttl_ms,
            "pollInterval": POLL_INTERVAL_MS,
        });
        if let Some(m) = &self.message {
            v["statusMessage"] = json!(m);
        }
        v
    }

    /// The answer to `tasks/result` once the task ended, for the request `id`.
    fn final_response(&self, id: Value) -> Value {
        match &self.outcome {
            Some(Outcome::Result(result)) => {
                let mut result = result.clone();
                if let Some(obj) = result.as_object_mut() {
                    let meta = obj.entry("_meta").or_insert_with(|| json!({}));
                    if let Some(meta) = meta.as_object_mut() {
                        meta.insert(RELATED_TASK.into(), json!({"taskId": self.id}));
                    }
                }
                crate::jsonrpc::result(id, result)
            }
            Some(Outcome::Error(error)) => {
                json!({"jsonrpc": "2.0", "id": id, "error": error})
            }
            None => crate::jsonrpc::result(
                id,
                json!({
                    "content": [{"type": "text", "text": self.message.clone().unwrap_or_else(|| "the task was cancelled".into())}],
                    "isError": true,
                    "_meta": {RELATED_TASK: {"taskId": self.id}},
                }),
            ),
        }
    }
}

/// Messages to deliver once the task table's lock is released: `(stream, message, is_response)`.
pub(crate) type Deliveries = Vec<(Option<StreamId>, Value, bool)>;

/// The proxy-owned tasks of one session, oldest first.
#[derive(Default)]
pub(crate) struct Tasks {
    map: BTreeMap<u64, Task>,
    by_id: std::collections::HashMap<String, u64>,
    next: u64,
}

impl Tasks {
    /// Creates a `working` task for a `tools/call` whose `params.task` asked for `requested_ttl`.
    pub(crate) fn create(&mut self, requested_ttl: Option<u64>, hold: CancellationToken) -> &Task {
        self.sweep();
        let now = SystemTime::now();
        self.next += 1;
        let id = format!("{TASK_PREFIX}{}", uuid::Uuid::new_v4().simple());
        let task = Task {
            id: id.clone(),
            status: Status::Working,
            message: Some("Airlock is checking this call against its policy".into()),
            created: now,
            updated: now,
            ttl_ms: requested_ttl
                .unwrap_or(DEFAULT_TTL_MS)
                .clamp(MIN_TTL_MS, MAX_TTL_MS),
            outcome: None,
            waiters: Vec::new(),
            hold,
            upstream_key: None,
        };
        self.by_id.insert(id, self.next);
        self.map.entry(self.next).or_insert(task)
    }

    /// True while a task is still being decided or run.
    pub(crate) fn any_working(&self) -> bool {
        self.map.values().any(|t| !t.status.is_terminal())
    }

    pub(crate) fn get(&self, id: &str) -> Option<&Task> {
        self.by_id.get(id).and_then(|k| self.map.get(k))
    }

    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut Task> {
        self.by_id.get(id).and_then(|k| self.map.get_mut(k))
    }

    /// Every task, oldest first, as `tasks/list` shows them.
    pub(crate) fn list(&mut self) -> Vec<Value> {
        self.sweep();
        self.map.values().map(Task::to_json).collect()
    }

    /// A new status message while the task is still working (e.g. "waiting for a human").
    pub(crate) fn set_message(&mut self, id: &str, message: String) {
        if let Some(t) = self.get_mut(id)
            && !t.status.is_terminal()
        {
            t.message = Some(message);
            t.updated = SystemTime::now();
        }
    }

    /// `tasks/result`: the answer now if the task ended, else the agent waits on `stream`.
    pub(crate) fn wait_result(
        &mut self,
        id: &str,
        request_id: Value,
        stream: StreamId,
    ) -> Result<Option<Value>, String> {
        let task = self.get_mut(id).ok_or_else(|| not_found(id))?;
        if task.status.is_terminal() {
            return Ok(Some(task.final_response(request_id)));
        }
        task.waiters.push(ResultWaiter { request_id, stream });
        Ok(None)
    }

    /// Ends a task with the outcome of its call. A task already ended (cancelled) stays as it is.
    /// Returns what to deliver: answers to waiting `tasks/result`s and a status notification.
    pub(crate) fn finish(
        &mut self,
        id: &str,
        status: Status,
        message: Option<String>,
        outcome: Option<Outcome>,
    ) -> Deliveries {
        let Some(task) = self.get_mut(id) else {
            return Vec::new();
        };
        if task.status.is_terminal() {
            return Vec::new();
        }
        task.status = status;
        task.message = message;
        task.outcome = outcome;
        task.updated = SystemTime::now();
        task.upstream_key = None;
        let waiters = std::mem::take(&mut task.waiters);
        let mut out: Deliveries = waiters
            .into_iter()
            .map(|w| (Some(w.stream), task.final_response(w.request_id), true))
            .collect();
        out.push((
            None,
            json!({"jsonrpc": "2.0", "method": "notifications/tasks/status", "params": task.to_json()}),
            false,
        ));
        out
    }

    /// Drops ended tasks whose TTL has passed. Working tasks stay: their decision is still coming.
    fn sweep(&mut self) {
        let now = SystemTime::now();
        let expired: Vec<u64> = self
            .map
            .iter()
            .filter(|(_, t)| {
                t.status.is_terminal()
                    && now.duration_since(t.created).unwrap_or_default()
                        > Duration::from_millis(t.ttl_ms)
            })
            .map(|(k, _)| *k)
            .collect();
        for k in expired {
            if let Some(t) = self.map.remove(&k) {
                self.by_id.remove(&t.id);
            }
        }
    }
}

/// The `CreateTaskResult` answering the `tools/call` itself.
pub(crate) fn create_result(task: &Task) -> Value {
    json!({
        "task": task.to_json(),
        "_meta": {
            IMMEDIATE_RESPONSE: "Airlock is checking this call against its policy; it may wait for \
                a human's approval. The result follows in the task.",
        },
    })
}

/// The `-32602` message for an unknown (or expired) task id.
pub(crate) fn not_found(id: &str) -> String {
    format!("Failed to retrieve task: no task `{id}` in this session (it may have expired)")
}

/// A status message for a refusal: the text of the `isError` result.
pub(crate) fn result_text(result: &Value) -> Option<String> {
    result
        .get("content")
        .and_then(Value::as_array)
        .and_then(|c| c.iter().find_map(|b| b.get("text").and_then(Value::as_str)))
        .map(|t| t.chars().take(500).collect())
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offer_keeps_what_the_server_declared() {
        let mut r = json!({"protocolVersion": "2025-11-25", "capabilities": {"tools": {"listChanged": true}}});
        let s = offer_in_initialize(&mut r);
        assert!(!s.list && !s.tools_call);
        assert_eq!(
            r["capabilities"],
            json!({"tools": {"listChanged": true}, "tasks": {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}})
        );

        let mut r = json!({"capabilities": {"tasks": {"list": {}, "requests": {"tools": {"call": {"x": 1}}}}}});
        let s = offer_in_initialize(&mut r);
        assert!(s.list && s.tools_call);
        assert_eq!(
            r["capabilities"]["tasks"]["requests"]["tools"]["call"],
            json!({"x": 1})
        );
        assert_eq!(r["capabilities"]["tasks"]["cancel"], json!({}));
    }

    #[test]
    fn ttl_is_clamped_and_timestamps_are_rfc3339() {
        let mut tasks = Tasks::default();
        let t = tasks.create(Some(5), CancellationToken::new()).to_json();
        assert_eq!(t["ttl"], json!(MIN_TTL_MS));
        assert_eq!(t["status"], json!("working"));
        let created = t["createdAt"].as_str().unwrap();
        assert!(humantime::parse_rfc3339(created).is_ok(), "{created}");
        let t = tasks.create(None, CancellationToken::new()).to_json();
        assert_eq!(t["ttl"], json!(DEFAULT_TTL_MS));
    }

    #[test]
    fn result_waiters_are_answered_once_and_terminal_tasks_stay_terminal() {
        let mut tasks = Tasks::default();
        let id = tasks.create(None, CancellationToken::new()).to_json()["taskId"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(id.starts_with(TASK_PREFIX));
        assert_eq!(tasks.wait_result(&id, json!(7), 3).unwrap(), None);
        let out = tasks.finish(
            &id,
            Status::Completed,
            None,
            Some(Outcome::Result(json!({"content": []}))),
        );
        assert_eq!(out.len(), 2, "one answer and one status notification");
        assert_eq!(out[0].0, Some(3));
        assert_eq!(out[0].1["id"], json!(7));
        assert_eq!(
            out[0].1["result"]["_meta"][RELATED_TASK]["taskId"],
            json!(id)
        );
        assert_eq!(out[1].1["params"]["status"], json!("completed"));
        // A later end (e.g. a late upstream answer after cancel) changes nothing.
        assert!(tasks.finish(&id, Status::Failed, None, None).is_empty());
        let again = tasks.wait_result(&id, json!(8), 4).unwrap().unwrap();
        assert_eq!(again["id"], json!(8));
        assert!(tasks.wait_result("airlock-task-nope", json!(9), 4).is_err());
    }
}
