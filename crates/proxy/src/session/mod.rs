//! Agent sessions and the upstream connection behind each.
//!
//! **One upstream connection per agent session (1:1).** When an agent initializes a session,
//! Airlock opens a fresh connection to the server and forwards the agent's own `initialize`
//! verbatim, so the server sees exactly the capabilities that client declared (servers change
//! their tools by what the client declares) and the agent's request ids need no rewriting: the
//! session's id space is the agent's. The cost: for a stdio server every agent session runs its
//! own child process, and an HTTP upstream gets one upstream session per agent session.
//!
//! The stateless 2026-07-28 era has no sessions: its requests go through one session per server
//! with `remap` on. To a Streamable HTTP upstream each is an HTTP exchange of its own
//! (`exchanges`); to a stdio upstream they share one connection, their ids (and progress tokens)
//! rewritten to `airlock-<tag>-<n>` (see `Shared::local_id`) and back, with the guards of
//! `stdio_stateless_refusal`.
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

mod exchanges;
mod held;
mod pending;
mod pump;
mod task_calls;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};
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
use crate::registry::{Shared, Slot};
use crate::stream::{STANDING, SseBody, StreamId, Streams};
use crate::tasks::{self, ServerTasks, Tasks};
use crate::upstream::{UpstreamSpec, exchange};

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
    /// The HTTP exchanges of stateless requests in flight, by pending key: aborting one closes
    /// its connection, which cancels the request upstream.
    exchanges: HashMap<String, tokio::task::AbortHandle>,
    /// The shared stateless stdio connection: the versions the server said it supports when
    /// Airlock opened it (`server/discover`).
    supported_versions: Option<Vec<String>>,
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
    /// This session, for the tasks it starts.
    me: Weak<Session>,
    pub(crate) id: Arc<str>,
    pub(crate) server: Arc<str>,
    pub(crate) agent: AgentIdentity,
    pub(crate) transport: DownstreamKind,
    remap: bool,
    /// With `remap`, for a Streamable HTTP upstream: each request is an HTTP exchange of its
    /// own instead of a message on a shared link.
    exchange: Option<exchange::Target>,
    info: RwLock<Arc<SessionInfo>>,
    state: Mutex<State>,
    outbox: mpsc::UnboundedSender<Value>,
    pub(crate) closed: CancellationToken,
    shared: Arc<Shared>,
    /// When the agent last sent anything to this session.
    last_seen: Mutex<tokio::time::Instant>,
    /// Its place among the server's `max_sessions_per_server` (none for the shared stateless
    /// connection), given back when the session closes.
    slot: Mutex<Option<Slot>>,
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
        fn connect_error(shared: &Shared, server: &str, e: &dyn std::fmt::Display) -> String {
            let msg = format!("cannot connect to upstream `{server}`: {e}");
            shared.record_error(server, &msg);
            msg
        }
        // Stateless requests to an HTTP upstream are HTTP exchanges of their own (see
        // `upstream::exchange`); everything else goes over one link.
        let (exchange, link) = match &spec {
            UpstreamSpec::StreamableHttp { url, headers } if remap => {
                let target = exchange::Target::new(url, headers)
                    .map_err(|e| connect_error(&shared, &server, &e))?;
                (Some(target), None)
            }
            _ => match spec.connect(&server).await {
                Ok(l) => (None, Some(l)),
                Err(e) => return Err(connect_error(&shared, &server, &e)),
            },
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
        let session = Arc::new_cyclic(|me| Session {
            me: me.clone(),
            id,
            server,
            agent,
            transport,
            remap,
            exchange,
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
                exchanges: HashMap::new(),
                supported_versions: None,
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
            slot: Mutex::new(slot),
        });
        match link {
            Some(mut link) => {
                // A stateless stdio connection is opened with a request of Airlock's own.
                if let Err(e) = session.replay(&mut link).await {
                    return Err(connect_error(&session.shared, &session.server, &e));
                }
                tokio::spawn(pump::pump(session.clone(), link, rx));
            }
            None => {
                tokio::spawn(pump::tick(session.clone()));
            }
        }
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
        self.idle_since()
            .is_some_and(|seen| seen.elapsed() >= timeout)
    }

    /// When the agent last used the session, if nothing is going on in it now (no forwarded
    /// request, held call, working task or open stream).
    pub(crate) fn idle_since(&self) -> Option<tokio::time::Instant> {
        let seen = *self.last_seen.lock().unwrap_or_else(|p| p.into_inner());
        let st = self.lock();
        let idle = st.pending.is_empty()
            && st.held.is_empty()
            && !st.streams.any_live()
            && !st.tasks.any_working();
        idle.then_some(seen)
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
        for (_, exchange) in st.exchanges.drain() {
            exchange.abort();
        }
        st.streams.close_all();
        drop(st);
        drop(self.slot.lock().unwrap_or_else(|p| p.into_inner()).take());
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
        if matches!(route, Inbound::ToolCall | Inbound::Request) && self.shares_stdio() {
            let supported = self.lock().supported_versions.clone();
            if let Some(answer) = stdio_stateless_refusal(&msg, supported.as_deref()) {
                let mut st = self.lock();
                st.streams.set_status(stream, answer.0);
                st.streams.deliver(stream, &answer.1, true);
                return;
            }
        }
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

    /// True for the one stdio connection that stateless agents share (see
    /// [`stdio_stateless_refusal`]).
    fn shares_stdio(&self) -> bool {
        self.remap && self.exchange.is_none()
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

    /// Stateless era: the agent closed the stream of a request; cancel it upstream (close its
    /// exchange, or send `notifications/cancelled` on a shared link).
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
                if let Some(exchange) = st.exchanges.remove(&key) {
                    exchange.abort();
                } else if let Ok(id) = serde_json::from_str::<Value>(&key) {
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

/// JSON-RPC error of 2026-07-28: the server does not speak the requested version.
pub(crate) const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

/// Over the one stdio connection all stateless agents share, a request the server would read as
/// one of the handshake era must not go: it would turn that connection into a session of this
/// agent's, for every agent (over HTTP each request is judged alone, and the version header says
/// which era it means; stdio has no header). So `initialize` (removed in 2026-07-28) and a request
/// whose `_meta` lacks the protocol version are answered here, as a 2026-07-28 server answers them
/// over HTTP: the status and the error. So is a version the server did not list as supported
/// when Airlock opened the connection (`supported`).
fn stdio_stateless_refusal(msg: &Value, supported: Option<&[String]>) -> Option<(u16, Value)> {
    let id = msg.get("id").cloned().unwrap_or(Value::Null);
    if jsonrpc::method(msg) == "initialize" {
        let error = jsonrpc::error(id, jsonrpc::METHOD_NOT_FOUND, "Method not found");
        return Some((404, error));
    }
    let version = msg
        .pointer("/params/_meta")
        .and_then(|m| m.get(jsonrpc::META_VERSION))
        .and_then(Value::as_str);
    if let Some(version) = version {
        let known = supported.is_none_or(|s| s.iter().any(|v| v == version));
        if known {
            return None;
        }
        let error = json!({"jsonrpc": "2.0", "id": id, "error": {
            "code": UNSUPPORTED_PROTOCOL_VERSION,
            "message": format!("Unsupported protocol version: {version}"),
            "data": {"supported": supported, "requested": version},
        }});
        return Some((400, error));
    }
    let error = jsonrpc::error(
        id,
        jsonrpc::INVALID_PARAMS,
        format!(
            "a stateless request needs `params._meta[\"{}\"]`",
            jsonrpc::META_VERSION
        ),
    );
    Some((400, error))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn meta(version: &str) -> Value {
        json!({"io.modelcontextprotocol/protocolVersion": version,
               "io.modelcontextprotocol/clientCapabilities": {}})
    }

    #[test]
    fn the_shared_stdio_connection_is_kept_in_the_stateless_era() {
        let supported = ["2026-07-28".to_owned()];
        let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}});
        let (status, answer) = stdio_stateless_refusal(&init, Some(&supported)).unwrap();
        assert_eq!(
            (status, answer["error"]["code"].clone()),
            (404, json!(-32601))
        );

        let bare = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}});
        let (status, answer) = stdio_stateless_refusal(&bare, Some(&supported)).unwrap();
        assert_eq!(
            (status, answer["error"]["code"].clone()),
            (400, json!(-32602))
        );
        assert_eq!(answer["id"], 2);

        let unknown = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list",
                             "params": {"_meta": meta("v999.0.0")}});
        let (status, answer) = stdio_stateless_refusal(&unknown, Some(&supported)).unwrap();
        assert_eq!(status, 400);
        assert_eq!(answer["error"]["code"], -32022);
        assert_eq!(
            answer["error"]["data"],
            json!({"supported": supported, "requested": "v999.0.0"})
        );

        let good = json!({"jsonrpc": "2.0", "id": 4, "method": "tools/list",
                          "params": {"_meta": meta("2026-07-28")}});
        assert!(stdio_stateless_refusal(&good, Some(&supported)).is_none());
        // Before the server said what it supports, a version is taken on trust.
        assert!(stdio_stateless_refusal(&unknown, None).is_none());
    }
}
