//! Agent sessions and the upstream connection behind each.
//!
//! **One upstream connection per agent session (1:1).** When an agent initializes a session,
//! Airlock opens a fresh connection to the server and forwards the agent's own `initialize`
//! verbatim, so the server sees exactly the capabilities that client declared (servers change
//! their tools by what the client declares) and the agent's request ids need no rewriting: the
//! session's id space is the agent's. The cost: for a stdio server every agent session runs its
//! own child process, and an HTTP upstream gets one upstream session per agent session.
//!
//! The stateless 2026-07-28 era has no sessions: its requests share one upstream connection per
//! server (a session with `remap` on), and their ids (and progress tokens) are rewritten to
//! `airlock-<n>` and back.
//!
//! If the upstream dies, calls in flight get a JSON-RPC error (-32603 "upstream `name` exited:
//! ..."), and the session reconnects with backoff and replays the agent's `initialize` and
//! `notifications/initialized` under an id of Airlock's own (`airlock-<n>`, a string id space the
//! agent's ids cannot collide with); the replayed response is consumed. Agent messages sent
//! meanwhile wait in the session's outbox. Failures show in `Proxy::server_status`.
//!
//! A Streamable HTTP session ends on DELETE, or once idle for `ProxyConfig::session_idle_timeout`
//! (no request, no open stream, nothing in flight; see `Shared::close_idle`).
//!
//! Routing of server messages: responses to the stream of their request; `notifications/progress`
//! to the stream of the request that carried the token; anything else the server initiates
//! (sampling, elicitation, roots, logging) to the newest open request stream of the session, else
//! the standing (GET) stream, which buffers (bounded) until one connects.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::interceptor::{
    AgentChannel, AgentIdentity, CallDecision, CallOutcome, CallTicket, ClientInfo, DownstreamKind,
    SessionInfo, ToolCall,
};
use crate::jsonrpc::{self, Kind};
use crate::proxy::Shared;
use crate::stream::{STANDING, SseBody, StreamId, Streams};
use crate::tasks::{self, Outcome, ServerTasks, Status, TASK_PREFIX, TASKS_VERSION, Tasks};
use crate::upstream::UpstreamLink;

/// How long a replayed `initialize` may take before the reconnect counts as failed.
const REPLAY_TIMEOUT: Duration = Duration::from_secs(30);

/// Not a stream: messages of a proxy-owned task (whose `tools/call` was answered long ago) go to
/// the newest open stream of the session, else the standing one, when they are delivered.
const FLOATING: StreamId = StreamId::MAX;

enum PendingKind {
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
struct Pending {
    /// The id the agent used (differs from the key only when remapping).
    agent_id: Value,
    stream: StreamId,
    kind: PendingKind,
    info: Arc<SessionInfo>,
    /// Key of the progress token registered for this request.
    progress: Option<String>,
}

struct State {
    streams: Streams,
    /// Keyed by the id as the upstream sees it.
    pending: HashMap<String, Pending>,
    /// Held `tools/call`s, keyed by the agent's id.
    held: HashMap<String, CancellationToken>,
    /// Progress token (as the upstream sees it) -> stream, and the agent's token when remapped.
    progress: HashMap<String, (StreamId, Option<Value>)>,
    /// The agent's `initialize` params, for replay after a reconnect.
    init: Option<Value>,
    initialized: bool,
    /// Set when Airlock offered its own tasks in `initialize` (see `tasks`): what the server
    /// itself declared.
    task_offer: Option<ServerTasks>,
    /// Tools the server runs as tasks itself (its `tools/list` said optional or required).
    server_task_tools: HashSet<String>,
    tasks: Tasks,
}

impl State {
    /// Delivers a message to the agent; [`FLOATING`] picks the stream now.
    fn deliver_to(&mut self, stream: StreamId, msg: &Value, is_response: bool) {
        let target = if stream == FLOATING {
            self.streams.newest_open().unwrap_or(STANDING)
        } else {
            stream
        };
        self.streams.deliver(target, msg, is_response);
    }

    fn deliver_all(&mut self, deliveries: tasks::Deliveries) {
        for (stream, msg, is_response) in deliveries {
            self.deliver_to(stream.unwrap_or(FLOATING), &msg, is_response);
        }
    }
}

/// One agent session (or, with `remap`, the shared connection of stateless requests).
pub(crate) struct Session {
    pub(crate) id: Arc<str>,
    pub(crate) server: Arc<str>,
    pub(crate) agent: AgentIdentity,
    pub(crate) transport: DownstreamKind,
    remap: bool,
    info: RwLock<Arc<SessionInfo>>,
    state: Mutex<State>,
    outbox: mpsc::UnboundedSender<Value>,
    pub(crate) closed: CancellationToken,
    shared: Arc<Shared>,
    /// When the agent last sent anything to this session.
    last_seen: Mutex<tokio::time::Instant>,
}

impl Session {
    /// Connects upstream and starts the session's pump. Fails if the upstream cannot be reached.
    pub(crate) async fn start(
        shared: Arc<Shared>,
        server: Arc<str>,
        agent: AgentIdentity,
        transport: DownstreamKind,
        remap: bool,
    ) -> Result<Arc<Session>, String> {
        let spec = shared
            .spec(&server)
            .ok_or_else(|| format!("unknown server `{server}`"))?;
        let link = match spec.connect(&server).await {
            Ok(l) => l,
            Err(e) => {
                let msg = format!("cannot connect to upstream `{server}`: {e}");
                shared.record_error(&server, &msg);
                return Err(msg);
            }
        };
        let id: Arc<str> = if remap {
            Arc::from(format!("stateless-{server}"))
        } else {
            Arc::from(uuid::Uuid::new_v4().simple().to_string())
        };
        let info = Arc::new(SessionInfo {
            server: server.clone(),
            session_id: id.clone(),
            agent: agent.clone(),
            client: None,
            protocol_version: None,
            transport,
        });
        let (outbox, rx) = mpsc::unbounded_channel();
        let session = Arc::new(Session {
            id,
            server,
            agent,
            transport,
            remap,
            info: RwLock::new(info),
            state: Mutex::new(State {
                streams: Streams::new(
                    shared.config.replay_buffer,
                    transport == DownstreamKind::StreamableHttp,
                ),
                pending: HashMap::new(),
                held: HashMap::new(),
                progress: HashMap::new(),
                init: None,
                initialized: false,
                task_offer: None,
                server_task_tools: HashSet::new(),
                tasks: Tasks::default(),
            }),
            outbox,
            closed: CancellationToken::new(),
            shared,
            last_seen: Mutex::new(tokio::time::Instant::now()),
        });
        tokio::spawn(pump(session.clone(), link, rx));
        Ok(session)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn info(&self) -> Arc<SessionInfo> {
        self.info.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The agent used this session just now.
    pub(crate) fn touch(&self) {
        *self.last_seen.lock().unwrap_or_else(|p| p.into_inner()) = tokio::time::Instant::now();
    }

    /// True when the agent has not used the session for `timeout`, holds no stream open, and
    /// nothing is in flight (no forwarded request, held call or working task).
    pub(crate) fn is_idle(&self, timeout: Duration) -> bool {
        let seen = *self.last_seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.elapsed() < timeout {
            return false;
        }
        let st = self.lock();
        st.pending.is_empty()
            && st.held.is_empty()
            && !st.streams.any_live()
            && !st.tasks.any_working()
    }

    /// The protocol version negotiated in `initialize`, if done.
    pub(crate) fn negotiated(&self) -> Option<String> {
        self.info().protocol_version.clone()
    }

    pub(crate) fn open_stream(&self, requests: usize, batch: bool) -> StreamId {
        self.lock().streams.open(requests, batch)
    }

    pub(crate) fn attach(&self, stream: StreamId, after: Option<u64>) -> Option<SseBody> {
        self.lock().streams.attach(stream, after)
    }

    pub(crate) fn send_endpoint(&self, path: String) {
        self.lock()
            .streams
            .send_raw(STANDING, crate::stream::SseItem::Endpoint(path));
    }

    /// Sends a notification to the agent as if the server had sent it.
    pub(crate) fn notify(&self, msg: &Value) {
        let mut st = self.lock();
        let target = st.streams.newest_open().unwrap_or(STANDING);
        st.streams.deliver(target, msg, false);
    }

    /// Ends the session: held calls are withdrawn, forwarded calls never complete, streams end,
    /// and the upstream connection is dropped.
    pub(crate) fn close(&self) {
        if self.closed.is_cancelled() {
            return;
        }
        self.closed.cancel();
        let mut st = self.lock();
        st.pending.clear();
        st.held.clear();
        st.streams.close_all();
        drop(st);
        if !self.remap {
            self.shared.interceptor.session_closed(&self.info());
        }
    }

    /// Handles one message from the agent, whose answers go to `stream`. `info` overrides the
    /// session's info (stateless requests carry their own).
    pub(crate) fn on_agent_message(
        self: &Arc<Self>,
        mut msg: Value,
        stream: StreamId,
        info: Option<Arc<SessionInfo>>,
    ) {
        let info = info.unwrap_or_else(|| self.info());
        match jsonrpc::classify(&msg) {
            Kind::Request => {
                let method = jsonrpc::method(&msg).to_owned();
                match method.as_str() {
                    "initialize" => {
                        let params = msg.get("params").cloned().unwrap_or(Value::Null);
                        let client = params.get("clientInfo").map(|c| ClientInfo {
                            name: c
                                .get("name")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_owned(),
                            version: c
                                .get("version")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_owned(),
                        });
                        {
                            let mut i = self.info.write().unwrap_or_else(|p| p.into_inner());
                            let mut new = (**i).clone();
                            new.client = client;
                            *i = Arc::new(new);
                        }
                        self.lock().init = Some(params);
                        self.forward_request(msg, stream, PendingKind::Initialize, info);
                    }
                    "tools/call" => self.hold_call(msg, stream, info),
                    "tasks/get" | "tasks/result" | "tasks/cancel" if self.owns_task(&msg) => {
                        self.task_request(&method, msg, stream);
                    }
                    "tasks/list" if self.lock().task_offer.is_some() => {
                        self.list_tasks(msg, stream, info);
                    }
                    "tools/list" => self.forward_request(msg, stream, PendingKind::ToolsList, info),
                    _ => self.forward_request(msg, stream, PendingKind::Plain, info),
                }
            }
            Kind::Notification => {
                match jsonrpc::method(&msg) {
                    "notifications/cancelled" if self.cancel(&msg) => return,
                    "notifications/initialized" => self.lock().initialized = true,
                    _ => {}
                }
                if self.remap {
                    // Stateless requests cancel by closing their stream; there is nothing else
                    // to relate a notification to.
                    if jsonrpc::method(&msg) == "notifications/cancelled" {
                        return;
                    }
                }
                let _ = self.outbox.send(msg);
            }
            Kind::Response => {
                if self.remap {
                    return;
                }
                let _ = self.outbox.send(msg);
            }
            Kind::Invalid => {
                // Callers validate first; answer defensively anyway.
                let id = msg.get_mut("id").map(Value::take).unwrap_or(Value::Null);
                self.lock().streams.deliver(
                    stream,
                    &jsonrpc::error(id, jsonrpc::INVALID_REQUEST, "not a JSON-RPC 2.0 message"),
                    true,
                );
            }
        }
    }

    /// `notifications/cancelled` from the agent. Returns true when it was consumed here (the
    /// call was still held: nothing upstream knows about it).
    fn cancel(&self, msg: &Value) -> bool {
        let Some(rid) = msg.get("params").and_then(|p| p.get("requestId")) else {
            return false;
        };
        let key = jsonrpc::key(rid);
        let mut st = self.lock();
        if let Some(token) = st.held.remove(&key) {
            token.cancel();
            tracing::debug!(server = %self.server, "held call withdrawn by the agent");
            return true;
        }
        if !self.remap
            && let Some(p) = st.pending.remove(&key)
        {
            // Forwarded: the notification goes upstream too; the call never completes.
            if let Some(k) = &p.progress {
                st.progress.remove(k);
            }
            st.streams.skip_response(p.stream);
        }
        false
    }

    /// Stateless era: the agent closed the stream of a request; cancel it upstream.
    pub(crate) fn stream_closed(&self, stream: StreamId) {
        let mut st = self.lock();
        let keys: Vec<String> = st
            .pending
            .iter()
            .filter(|(_, p)| p.stream == stream)
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            if let Some(p) = st.pending.remove(&key) {
                if let Some(k) = &p.progress {
                    st.progress.remove(k);
                }
                if let Ok(id) = serde_json::from_str::<Value>(&key) {
                    let _ = self.outbox.send(json!({
                        "jsonrpc": "2.0",
                        "method": "notifications/cancelled",
                        "params": {"requestId": id, "reason": "the client closed the request stream"}
                    }));
                }
            }
        }
    }

    fn forward_request(
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

    /// Runs the interceptor on a `tools/call`, holding it until a decision.
    fn hold_call(self: &Arc<Self>, msg: Value, stream: StreamId, info: Arc<SessionInfo>) {
        if self.answers_as_task(&msg) {
            self.hold_as_task(msg, stream, info);
            return;
        }
        // Stateless requests of different agents may share an id: key them by a local id (they
        // are cancelled by closing their stream, never by id).
        let agent_key = if self.remap {
            self.shared.local_id()
        } else {
            jsonrpc::key(msg.get("id").unwrap_or(&Value::Null))
        };
        let token = self.closed.child_token();
        let disconnected = {
            let mut st = self.lock();
            st.held.insert(agent_key.clone(), token.clone());
            st.streams.get(stream).map(|s| s.disconnected.clone())
        };
        let session = self.clone();
        tokio::spawn(async move {
            let interceptor = session.shared.interceptor.clone();
            let (tx, mut rx) = mpsc::unbounded_channel();
            let decision = {
                let call = tool_call(&msg, &info, false);
                let fut = interceptor.tool_call(call, AgentChannel::new(tx));
                tokio::pin!(fut);
                let gone = async {
                    match &disconnected {
                        Some(d) => d.cancelled().await,
                        None => std::future::pending().await,
                    }
                };
                tokio::pin!(gone);
                loop {
                    tokio::select! {
                        d = &mut fut => break Some(d),
                        Some(note) = rx.recv() => session.lock().streams.deliver(stream, &note, false),
                        () = token.cancelled() => break None,
                        () = &mut gone => break None,
                    }
                }
            };
            let mut st = session.lock();
            let still_held = st.held.get(&agent_key).is_some_and(|t| !t.is_cancelled());
            st.held.remove(&agent_key);
            let decision = match decision {
                Some(d) if still_held => d,
                _ => {
                    // Withdrawn: nothing upstream, no response.
                    st.streams.skip_response(stream);
                    return;
                }
            };
            match decision {
                CallDecision::Respond(result) => {
                    let id = msg.get("id").cloned().unwrap_or(Value::Null);
                    st.streams
                        .deliver(stream, &jsonrpc::result(id, result), true);
                }
                CallDecision::Forward(ticket) => {
                    drop(st);
                    session.forward_request(msg, stream, PendingKind::ToolCall(Some(ticket)), info);
                }
            }
        });
    }

    /// A task-augmented `tools/call` that Airlock answers with a task of its own: tasks were
    /// offered, and the server does not run this tool as a task itself.
    fn answers_as_task(&self, msg: &Value) -> bool {
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
    fn owns_task(&self, msg: &Value) -> bool {
        msg.pointer("/params/taskId")
            .and_then(Value::as_str)
            .is_some_and(|id| id.starts_with(TASK_PREFIX))
            && self.lock().task_offer.is_some()
    }

    /// Answers a task-augmented `tools/call` with a new task at once, then decides and runs the
    /// call in the background; the outcome waits in the task (see `tasks`).
    fn hold_as_task(self: &Arc<Self>, mut msg: Value, stream: StreamId, info: Arc<SessionInfo>) {
        let ttl = msg.pointer("/params/task/ttl").and_then(Value::as_u64);
        if let Some(params) = msg.get_mut("params").and_then(Value::as_object_mut) {
            // The server is not asked to run it as a task: Airlock is the task's receiver.
            params.remove("task");
        }
        let request_id = msg.get("id").cloned().unwrap_or(Value::Null);
        let hold = self.closed.child_token();
        let task_id = {
            let mut st = self.lock();
            let task = st.tasks.create(ttl, hold.clone());
            let id = task.id().to_owned();
            let answer = jsonrpc::result(request_id, tasks::create_result(task));
            st.streams.deliver(stream, &answer, true);
            id
        };
        let session = self.clone();
        tokio::spawn(async move {
            let interceptor = session.shared.interceptor.clone();
            let (tx, mut rx) = mpsc::unbounded_channel();
            let (status_tx, mut status_rx) = mpsc::unbounded_channel();
            let decision = {
                let call = tool_call(&msg, &info, true);
                let fut = interceptor.tool_call(call, AgentChannel::for_task(tx, status_tx));
                tokio::pin!(fut);
                loop {
                    tokio::select! {
                        d = &mut fut => break Some(d),
                        Some(note) = rx.recv() => session.lock().deliver_to(FLOATING, &note, false),
                        Some(m) = status_rx.recv() => session.lock().tasks.set_message(&task_id, m),
                        // `tasks/cancel`, or the session ended: dropping the decision withdraws it.
                        () = hold.cancelled() => break None,
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
    fn forward_task_call(
        &self,
        mut msg: Value,
        task_id: String,
        ticket: Box<dyn CallTicket>,
        info: Arc<SessionInfo>,
    ) {
        let local = Value::String(self.shared.local_id());
        let key = jsonrpc::key(&local);
        msg["id"] = local;
        let mut st = self.lock();
        match st.tasks.get_mut(&task_id) {
            Some(task) if !task.status().is_terminal() => task.upstream_key = Some(key.clone()),
            // Cancelled meanwhile: it never runs (the dropped ticket says so in history).
            _ => return,
        }
        st.tasks.set_message(
            &task_id,
            "allowed by Airlock; the server is running the call".into(),
        );
        let progress = jsonrpc::progress_token(&msg).map(|token| {
            let k = jsonrpc::key(token);
            st.progress.insert(k.clone(), (FLOATING, None));
            k
        });
        st.pending.insert(
            key,
            Pending {
                agent_id: Value::Null,
                stream: FLOATING,
                kind: PendingKind::TaskCall {
                    ticket: Some(ticket),
                    task: task_id,
                },
                info,
                progress,
            },
        );
        drop(st);
        let _ = self.outbox.send(msg);
    }

    /// `tasks/get`, `tasks/result` and `tasks/cancel` for one of Airlock's own tasks.
    fn task_request(&self, method: &str, msg: Value, stream: StreamId) {
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
                    if let Some(p) = st.pending.remove(key) {
                        if let Some(k) = &p.progress {
                            st.progress.remove(k);
                        }
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
    fn list_tasks(&self, msg: Value, stream: StreamId, info: Arc<SessionInfo>) {
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

    /// Handles one message from the upstream.
    fn on_server_message(&self, mut msg: Value) {
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

    /// Offers the tools of a `tools/list` result that may wait for a human as tasks
    /// (`execution.taskSupport: "optional"`), unless the server runs them as tasks itself.
    fn offer_tools_as_tasks(
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
            if self.shared.interceptor.may_ask_human(info, &name) {
                tasks::mark_optional(tool);
            }
        }
    }

    /// The upstream died: every forwarded request gets an error.
    fn fail_inflight(&self, reason: &str) {
        let mut st = self.lock();
        let pending: Vec<Pending> = st.pending.drain().map(|(_, p)| p).collect();
        st.progress.clear();
        let message = format!("upstream `{}` exited: {reason}", self.server);
        for p in pending {
            if let PendingKind::TaskCall { task, .. } = &p.kind {
                let error = json!({"code": jsonrpc::INTERNAL_ERROR, "message": message});
                let out = st.tasks.finish(
                    task,
                    Status::Failed,
                    Some(message.clone()),
                    Some(Outcome::Error(error)),
                );
                st.deliver_all(out);
                continue;
            }
            let err = jsonrpc::error(p.agent_id, jsonrpc::INTERNAL_ERROR, message.clone());
            st.streams.deliver(p.stream, &err, true);
        }
    }

    /// Sends the agent's `initialize` (and `initialized`) again on a fresh connection and consumes
    /// the response.
    async fn replay(&self, link: &mut UpstreamLink) -> Result<(), String> {
        let (init, initialized) = {
            let st = self.lock();
            (st.init.clone(), st.initialized)
        };
        let Some(params) = init else { return Ok(()) };
        let id = self.shared.local_id();
        let req = json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": params});
        link.to_server
            .send(req)
            .await
            .map_err(|_| "connection closed during replay".to_owned())?;
        let wait = async {
            while let Some(m) = link.from_server.recv().await {
                if m.get("id").and_then(Value::as_str) == Some(id.as_str()) {
                    return Ok(m);
                }
                self.on_server_message(m);
            }
            Err("connection closed during replay".to_owned())
        };
        let resp = tokio::time::timeout(REPLAY_TIMEOUT, wait)
            .await
            .map_err(|_| "no answer to the replayed `initialize`".to_owned())??;
        if let Some(e) = resp.get("error") {
            return Err(format!("the replayed `initialize` failed: {e}"));
        }
        if initialized {
            link.to_server
                .send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
                .await
                .map_err(|_| "connection closed during replay".to_owned())?;
        }
        Ok(())
    }
}

static NULL: Value = Value::Null;

/// The interceptor's view of a `tools/call` message. `as_task`: answered with a proxy-owned task
/// (its `params.task` was already removed).
fn tool_call<'a>(msg: &'a Value, info: &'a SessionInfo, as_task: bool) -> ToolCall<'a> {
    let params = msg.get("params");
    ToolCall {
        session: info,
        request_id: msg.get("id").unwrap_or(&NULL),
        name: params
            .and_then(|p| p.get("name"))
            .and_then(Value::as_str)
            .unwrap_or(""),
        arguments: params.and_then(|p| p.get("arguments")).unwrap_or(&NULL),
        progress_token: jsonrpc::progress_token(msg),
        task_augmented: as_task || params.and_then(|p| p.get("task")).is_some(),
        as_task,
    }
}

/// Moves messages between the session and its upstream, reconnecting when the upstream dies.
async fn pump(
    session: Arc<Session>,
    mut link: UpstreamLink,
    mut outbox: mpsc::UnboundedReceiver<Value>,
) {
    let shared = session.shared.clone();
    loop {
        let died = tokio::select! {
            () = session.closed.cancelled() => return,
            m = outbox.recv() => match m {
                None => return,
                Some(m) => link.to_server.send(m).await.is_err(),
            },
            m = link.from_server.recv() => match m {
                Some(m) => { session.on_server_message(m); false }
                None => true,
            },
        };
        if !died {
            continue;
        }
        let reason = "connection closed";
        tracing::warn!(server = %session.server, session = %session.id, "upstream exited; reconnecting");
        session.fail_inflight(reason);
        shared.record_error(
            &session.server,
            &format!("upstream `{}` exited: {reason}", session.server),
        );
        let mut delay = shared.config.reconnect_initial;
        loop {
            tokio::select! {
                () = session.closed.cancelled() => return,
                () = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(shared.config.reconnect_max);
            let Some(spec) = shared.spec(&session.server) else {
                tracing::warn!(server = %session.server, "server no longer configured; ending session");
                shared.remove_session(&session.id);
                session.close();
                return;
            };
            let attempt = async {
                let mut l = spec
                    .connect(&session.server)
                    .await
                    .map_err(|e| e.to_string())?;
                session.replay(&mut l).await?;
                Ok::<_, String>(l)
            };
            let result = tokio::select! {
                () = session.closed.cancelled() => return,
                r = attempt => r,
            };
            match result {
                Ok(l) => {
                    link = l;
                    shared.record_restart(&session.server);
                    tracing::info!(server = %session.server, session = %session.id, "upstream reconnected");
                    break;
                }
                Err(e) => {
                    let msg = format!("cannot reconnect to upstream `{}`: {e}", session.server);
                    tracing::warn!(server = %session.server, error = %e, "reconnect failed");
                    shared.record_error(&session.server, &msg);
                }
            }
        }
    }
}
