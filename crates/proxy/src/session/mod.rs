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
//! rewritten to `airlock-<tag>-<n>` (see `Relay::local_id`) and back, with the guards of
//! `stdio_stateless_refusal`.
//!
//! If the upstream dies, calls in flight get a JSON-RPC error (-32603 "upstream `name` exited:
//! ..."), and the session reconnects with backoff and replays the agent's `initialize` and
//! `notifications/initialized` under an id of Airlock's own (`airlock-<tag>-<n>`, a space the
//! agent's ids are refused in); the replayed response is consumed. Agent messages sent
//! meanwhile wait in the session's outbox. Failures show in `Proxy::server_status`.
//!
//! A Streamable HTTP session ends on DELETE, or once idle for `ProxyConfig::session_idle_timeout`
//! (no request, no open stream, nothing in flight; see `registry`).
//!
//! Routing of server messages: responses to the stream of their request; `notifications/progress`
//! to the stream of the request that carried the token; anything else the server initiates
//! (sampling, elicitation, roots, logging) to the newest open request stream of the session, else
//! the standing (GET) stream, which buffers (bounded) until one connects.

mod cancel;
mod exchanges;
mod held;
mod pending;
mod pump;
mod refusals;
mod task_calls;
mod timeouts;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::inbound::Inbound;
use crate::interceptor::{
    AgentChannel, AgentIdentity, CallOutcome, ClientInfo, DownstreamKind, SessionInfo, Withdrawal,
};
use crate::jsonrpc;
use crate::relay::{Relay, Slot};
use crate::stream::{STANDING, SseBody, StreamId, Streams};
use crate::tasks::{self, ServerTasks, Tasks};
use crate::upstream::{UpstreamSpec, exchange};

use pending::{Pending, PendingKind};
use refusals::stdio_stateless_refusal;
pub(crate) use refusals::{UNSUPPORTED_PROTOCOL_VERSION, refuse_call};

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
    relay: Arc<Relay>,
    /// When the agent last sent anything to this session.
    last_seen: Mutex<tokio::time::Instant>,
    /// Its place among the server's `max_sessions_per_server` (none for the shared stateless
    /// connection), given back when the session closes.
    slot: Mutex<Option<Slot>>,
}

impl Session {
    /// Connects upstream and starts the session's pump. Fails if the upstream cannot be reached.
    pub(crate) async fn start(
        relay: Arc<Relay>,
        server: Arc<str>,
        agent: AgentIdentity,
        transport: DownstreamKind,
        remap: bool,
        slot: Option<Slot>,
    ) -> Result<Arc<Session>, String> {
        let spec = relay
            .spec(&server)
            .ok_or_else(|| format!("unknown server `{server}`"))?;
        fn connect_error(relay: &Relay, server: &str, e: &dyn std::fmt::Display) -> String {
            let msg = format!("cannot connect to upstream `{server}`: {e}");
            relay.record_error(server, &msg);
            msg
        }
        // Stateless requests to an HTTP upstream are HTTP exchanges of their own (see
        // `upstream::exchange`); everything else goes over one link.
        let (exchange, link) = match &spec {
            UpstreamSpec::StreamableHttp { url, headers } if remap => {
                let target = exchange::Target::new(url, headers)
                    .map_err(|e| connect_error(&relay, &server, &e))?;
                (Some(target), None)
            }
            _ => match spec.connect(&server).await {
                Ok(l) => (None, Some(l)),
                Err(e) => return Err(connect_error(&relay, &server, &e)),
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
                    relay.config.replay_buffer,
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
            relay,
            last_seen: Mutex::new(tokio::time::Instant::now()),
            slot: Mutex::new(slot),
        });
        match link {
            Some(mut link) => {
                // A stateless stdio connection is opened with a request of Airlock's own.
                if let Err(e) = session.replay(&mut link).await {
                    return Err(connect_error(&session.relay, &session.server, &e));
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
            self.relay.interceptor.session_closed(&self.info());
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
}
