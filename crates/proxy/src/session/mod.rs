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
//! `airlock-<tag>-<n>` (see `Shared::local_id`) and back.
//!
//! If the upstream dies, calls in flight get a JSON-RPC error (-32603 "upstream `name` exited:
//! ..."), and the session reconnects with backoff and replays the agent's `initialize` and
//! `notifications/initialized` under an id of Airlock's own (`airlock-<tag>-<n>`, a space the
//! agent's ids are refused in); the replayed response is consumed. Agent messages sent
//! meanwhile wait in the session's outbox. Failures show in `Proxy::server_status`.
//!
//! A Streamable HTTP session ends on DELETE, or once idle for `ProxyConfig::session_idle_timeout`
//! (no request, no open stream, nothing in flight; see `Shared::close_idle`).
//!
//! Routing of server messages: responses to the stream of their request; `notifications/progress`
//! to the stream of the request that carried the token; anything else the server initiates
//! (sampling, elicitation, roots, logging) to the newest open request stream of the session, else
//! the standing (GET) stream, which buffers (bounded) until one connects.

mod held;
mod pending;
mod pump;
mod task_calls;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::inbound::{Inbound, Refusal, RefusalKind};
use crate::interceptor::{
    AgentChannel, AgentIdentity, CallOutcome, ClientInfo, DownstreamKind, RefusedCall, SessionInfo,
    Withdrawal,
};
use crate::jsonrpc;
use crate::proxy::{Shared, Slot};
use crate::stream::{STANDING, SseBody, StreamId, Streams};
use crate::tasks::{self, ServerTasks, Tasks};

use pending::{Pending, PendingKind};

/// Not a stream: messages of a proxy-owned task (whose `tools/call` was answered long ago) go to
/// the newest open stream of the session, else the standing one, when they are delivered.
const FLOATING: StreamId = StreamId::MAX;

/// A `tools/call` the interceptor is deciding. Cancelling `token` drops the decision (the
/// agent withdrew); `agent` says why first.
struct Held {
    token: CancellationToken,
    agent: AgentChannel,
}

/// Where the server's `notifications/progress` for one token go.
struct Progress {
    stream: StreamId,
    /// The agent's own token, when the upstream sees a rewritten one.
    original: Option<Value>,
    /// The pending request that carried the token (its deadline moves with progress).
    pending: String,
}

struct State {
    streams: Streams,
    /// Keyed by the id as the upstream sees it.
    pending: HashMap<String, Pending>,
    /// Held `tools/call`s, keyed by the agent's id.
    held: HashMap<String, Held>,
    /// Progress token (as the upstream sees it) -> where its notifications go.
    progress: HashMap<String, Progress>,
    /// Requests of the server (sampling, elicitation, roots) the agent has not answered yet:
    /// while there are any, forwarded requests wait past their request timeout (up to the
    /// longest request time), since the server is likely waiting on the agent.
    awaiting_agent: HashSet<String>,
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

    /// True while a request with this key (the agent's id) is held or forwarded.
    fn in_flight(&self, key: &str) -> bool {
        self.held.contains_key(key) || self.pending.contains_key(key)
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
    /// Its place among the server's `max_sessions_per_server` (none for the shared stateless
    /// connection).
    _slot: Option<Slot>,
}

impl Session {
    /// Connects upstream and starts the session's pump. Fails if the upstream cannot be reached.
    pub(crate) async fn start(
        shared: Arc<Shared>,
        server: Arc<str>,
        agent: AgentIdentity,
        transport: DownstreamKind,
        remap: bool,
        slot: Option<Slot>,
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
                awaiting_agent: HashSet::new(),
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
            _slot: slot,
        });
        tokio::spawn(pump::pump(session.clone(), link, rx));
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

    /// Ends the session: held calls are withdrawn, forwarded calls end without an answer
    /// ([`CallOutcome::SessionClosed`]), streams end, and the upstream connection is dropped.
    pub(crate) fn close(&self) {
        if self.closed.is_cancelled() {
            return;
        }
        let mut st = self.lock();
        for held in st.held.values() {
            held.agent.withdraw(Withdrawal::SessionClosed);
        }
        self.closed.cancel();
        st.held.clear();
        for (_, mut p) in st.pending.drain() {
            p.kind.finish(CallOutcome::SessionClosed);
        }
        st.progress.clear();
        st.streams.close_all();
        drop(st);
        if !self.remap {
            self.shared.interceptor.session_closed(&self.info());
        }
    }

    /// Handles one message from the agent, classified by [`crate::inbound::route`]; its answers
    /// go to `stream`. `info` overrides the session's info (stateless requests carry their own).
    pub(crate) fn on_agent_message(
        self: &Arc<Self>,
        msg: Value,
        route: Inbound,
        stream: StreamId,
        info: Option<Arc<SessionInfo>>,
    ) {
        let info = info.unwrap_or_else(|| self.info());
        match route {
            Inbound::Refused(refusal) => {
                self.refuse(&msg, refusal, Some(stream), &info);
            }
            Inbound::ToolCall => self.hold_call(msg, stream, info),
            Inbound::Request => match jsonrpc::method(&msg) {
                "initialize" => {
                    let params = msg.get("params").cloned().unwrap_or(Value::Null);
                    let client = params.get("clientInfo").map(ClientInfo::from_json);
                    {
                        let mut i = self.info.write().unwrap_or_else(|p| p.into_inner());
                        let mut new = (**i).clone();
                        new.client = client;
                        *i = Arc::new(new);
                    }
                    self.lock().init = Some(params);
                    self.forward_request(msg, stream, PendingKind::Initialize, info);
                }
                "tasks/get" | "tasks/result" | "tasks/cancel" if self.owns_task(&msg) => {
                    let method = jsonrpc::method(&msg).to_owned();
                    self.task_request(&method, msg, stream);
                }
                "tasks/list" if self.lock().task_offer.is_some() => {
                    self.list_tasks(msg, stream, info);
                }
                "tools/list" => self.forward_request(msg, stream, PendingKind::ToolsList, info),
                _ => self.forward_request(msg, stream, PendingKind::Plain, info),
            },
            Inbound::Notification => {
                match jsonrpc::method(&msg) {
                    "notifications/cancelled" if self.cancel(&msg) => return,
                    "notifications/initialized" => self.lock().initialized = true,
                    _ => {}
                }
                if self.remap && jsonrpc::method(&msg) == "notifications/cancelled" {
                    // Stateless requests cancel by closing their stream; there is nothing else
                    // to relate a notification to.
                    return;
                }
                let _ = self.outbox.send(msg);
            }
            Inbound::Response => {
                if self.remap {
                    return;
                }
                if let Some(id) = msg.get("id") {
                    self.lock().awaiting_agent.remove(&jsonrpc::key(id));
                }
                let _ = self.outbox.send(msg);
            }
        }
    }

    /// Refuses a message without forwarding it: records it when it is a `tools/call` attempt, and
    /// answers `stream` (when given) with the refusal's error. Returns that error.
    pub(crate) fn refuse(
        &self,
        msg: &Value,
        refusal: Refusal,
        stream: Option<StreamId>,
        info: &SessionInfo,
    ) -> Value {
        refuse_call(&*self.shared.interceptor, msg, &refusal, info);
        let answer = refusal.response();
        if let Some(stream) = stream {
            self.lock().streams.deliver(stream, &answer, true);
        }
        answer
    }

    /// The key of a request's id when the session can take it: not an id of Airlock's own
    /// space, and not one already in flight (the first request is unharmed).
    fn check_id(&self, st: &State, msg: &Value) -> Result<String, Refusal> {
        let id = msg.get("id").unwrap_or(&Value::Null);
        let refusal = |kind, message: String| Refusal {
            kind,
            code: jsonrpc::INVALID_REQUEST,
            message,
            id: id.clone(),
            is_call: jsonrpc::method(msg) == crate::inbound::TOOLS_CALL,
        };
        if self.shared.is_local_id(id) {
            return Err(refusal(
                RefusalKind::ReservedId,
                format!(
                    "request id {id} is in the id space Airlock uses for its own messages; pick another"
                ),
            ));
        }
        let key = jsonrpc::key(id);
        if st.in_flight(&key) {
            return Err(refusal(
                RefusalKind::DuplicateId,
                format!("request id {id} is already in flight in this session; ids must be unique"),
            ));
        }
        Ok(key)
    }

    /// `notifications/cancelled` from the agent. Returns true when it was consumed here (the
    /// call was still held: nothing upstream knows about it). A forwarded call ends as
    /// cancelled (it may have run: its limits stay used) and the notification goes upstream.
    fn cancel(&self, msg: &Value) -> bool {
        let Some(rid) = msg.get("params").and_then(|p| p.get("requestId")) else {
            return false;
        };
        let reason = msg.pointer("/params/reason").and_then(Value::as_str);
        let key = jsonrpc::key(rid);
        let mut st = self.lock();
        if let Some(held) = st.held.remove(&key) {
            held.agent
                .withdraw(Withdrawal::Cancelled(reason.map(str::to_owned)));
            held.token.cancel();
            tracing::debug!(server = %self.server, "held call withdrawn by the agent");
            return true;
        }
        if !self.remap
            && let Some(mut p) = st.pending.remove(&key)
        {
            if let Some(k) = &p.progress {
                st.progress.remove(k);
            }
            p.kind.finish(CallOutcome::Cancelled(reason));
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
            if let Some(mut p) = st.pending.remove(&key) {
                if let Some(k) = &p.progress {
                    st.progress.remove(k);
                }
                p.kind.finish(CallOutcome::Cancelled(Some(
                    "the client closed the request stream",
                )));
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
}

/// Reports a refused `tools/call` attempt to the interceptor, which records it.
pub(crate) fn refuse_call(
    interceptor: &dyn crate::Interceptor,
    msg: &Value,
    refusal: &Refusal,
    info: &SessionInfo,
) {
    tracing::info!(
        server = %info.server,
        kind = refusal.kind.as_str(),
        "refused a message: {}",
        refusal.message
    );
    if !refusal.is_call {
        return;
    }
    static NULL: Value = Value::Null;
    let params = msg.get("params").unwrap_or(&NULL);
    interceptor.refused(RefusedCall {
        session: info,
        request_id: &refusal.id,
        name: params.get("name").and_then(Value::as_str),
        params,
        kind: refusal.kind,
        message: &refusal.message,
    });
}
