//! The seam between the relay and whoever decides calls (the gate).
//!
//! The relay forwards every JSON-RPC message as it is. It asks the [`Interceptor`] about exactly three
//! things: who an agent is ([`Interceptor::authenticate`]), what to do with a `tools/call`
//! ([`Interceptor::tool_call`]), and which tools a `tools/list` result may show
//! ([`Interceptor::tools_list`]).
//!
//! Cancellation contract: the future returned by [`Interceptor::tool_call`] may be dropped at any
//! await point. The relay drops it when the agent sends `notifications/cancelled` for that request,
//! when the agent disconnects (HTTP stream closed, stdio bridge closed), or when the session ends.
//! Dropping means "the agent withdrew": implementations put their clean-up in `Drop` guards, and
//! [`AgentChannel::withdrawal`] says why (set by the relay before it drops the future).
//!
//! A forwarded call's [`CallTicket`] hears [`CallTicket::forwarded`] the moment the request is
//! handed to the upstream link, then exactly one [`CallTicket::finish`] with how it ended (an
//! answer, a cancellation, a timeout, the upstream or the session gone). A ticket dropped before
//! `forwarded` means the call was never sent; dropped after it without `finish`, the relay lost
//! track of it (treated as failed). Nothing the agent does after `forwarded` can undo it: the
//! upstream may already have run the call.
//!
//! Every `tools/call` the relay refuses before deciding it (no id, a malformed shape, an id
//! already in flight: see `inbound`) is reported to [`Interceptor::refused`], so it can be
//! recorded: nothing is forwarded for it.

use std::sync::{Arc, OnceLock};

use futures::future::BoxFuture;
use serde_json::Value;
use tokio::sync::mpsc;

/// The identity an agent authenticated as: the name of its grant, e.g. `default`, `cli`,
/// `claude-code`. Never carries the token itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentIdentity {
    pub grant: String,
}

/// How the agent reached Airlock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DownstreamKind {
    /// Streamable HTTP at `/mcp/<server>`.
    StreamableHttp,
    /// The legacy HTTP+SSE transport at `/sse/<server>`.
    LegacySse,
}

/// The `clientInfo` the agent sent in `initialize` (or in a stateless request's `_meta`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientInfo {
    pub name: String,
    pub version: String,
}

impl ClientInfo {
    /// From a `clientInfo` object (missing or non-string fields are empty).
    pub fn from_json(value: &Value) -> Self {
        let text = |key: &str| {
            value
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        ClientInfo {
            name: text("name"),
            version: text("version"),
        }
    }
}

/// One agent session as the interceptor sees it.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    /// The configured upstream name (the `<server>` of the URL).
    pub server: Arc<str>,
    /// Airlock's own id for this agent session. Stateless (2026-07-28) requests get a fresh id each.
    pub session_id: Arc<str>,
    pub agent: AgentIdentity,
    pub client: Option<ClientInfo>,
    /// The protocol version negotiated in `initialize`, or carried by a stateless request.
    pub protocol_version: Option<String>,
    pub transport: DownstreamKind,
}

/// A `tools/call` request, borrowed from the message the agent sent.
#[derive(Debug)]
pub struct ToolCall<'a> {
    pub session: &'a SessionInfo,
    /// The JSON-RPC id of the request.
    pub request_id: &'a Value,
    /// `params.name`.
    pub name: &'a str,
    /// `params.arguments`, or `Value::Null` when absent.
    pub arguments: &'a Value,
    /// `params._meta.progressToken`, when the agent asked for progress.
    pub progress_token: Option<&'a Value>,
    /// True when `params.task` is present (task-augmented call, 2025-11-25).
    pub task_augmented: bool,
    /// True when the relay answered this call with a task of its own (see
    /// [`Interceptor::offers_tasks`]): the agent polls instead of waiting on the request, so a
    /// decision may take as long as the approval may, with no hold limit. Withdrawn by
    /// `tasks/cancel`.
    pub as_task: bool,
}

/// What the relay does with a `tools/call`.
pub enum CallDecision {
    /// Forward the request upstream unchanged. The ticket hears how it ended.
    Forward(Box<dyn CallTicket>),
    /// Answer the agent with this JSON-RPC `result` object (e.g. an `isError` denial); nothing goes
    /// upstream.
    Respond(Value),
}

impl std::fmt::Debug for CallDecision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallDecision::Forward(_) => f.write_str("Forward(..)"),
            CallDecision::Respond(v) => f.debug_tuple("Respond").field(v).finish(),
        }
    }
}

/// How a forwarded call ended.
#[derive(Debug)]
pub enum CallOutcome<'a> {
    /// The upstream answered with a `result` (which may itself be `isError: true`).
    Result(&'a Value),
    /// The upstream answered with a JSON-RPC `error`.
    Error(&'a Value),
    /// The agent cancelled the call after it was forwarded (`notifications/cancelled`, a closed
    /// stateless stream, `tasks/cancel`); `notifications/cancelled` went upstream. The text is the
    /// agent's reason, when it gave one.
    Cancelled(Option<&'a str>),
    /// The upstream did not answer within the request timeout; the call was cancelled upstream
    /// and the agent got an error.
    TimedOut,
    /// The upstream connection died (or its link failed) before the answer.
    UpstreamLost(&'a str),
    /// The agent's session ended (DELETE, idle expiry, server removed, gate stopping) before
    /// the answer.
    SessionClosed,
}

/// Told what happens to one call the interceptor let through.
pub trait CallTicket: Send + 'static {
    /// The request was handed to the upstream link: from now on the call counts as made, whatever
    /// follows (limits are committed here, never given back).
    fn forwarded(&mut self) {}

    /// How the forwarded call ended. Called once, after [`CallTicket::forwarded`].
    fn finish(self: Box<Self>, outcome: CallOutcome<'_>);
}

/// Why the agent withdrew a call the interceptor was still deciding (the future was dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Withdrawal {
    /// `notifications/cancelled` (with the agent's reason, e.g. the SDK's "Request timed out"),
    /// or `tasks/cancel`.
    Cancelled(Option<String>),
    /// The agent's connection for this call went away (HTTP stream closed, legacy SSE stream
    /// closed).
    Disconnected,
    /// The session ended (DELETE, idle expiry, the server removed from the config, the gate
    /// stopping).
    SessionClosed,
}

/// A `tools/call` the relay refused before the interceptor saw it: nothing was forwarded.
#[derive(Debug)]
pub struct RefusedCall<'a> {
    pub session: &'a SessionInfo,
    /// The request's id, or `null` when it had no usable one.
    pub request_id: &'a Value,
    /// `params.name` when it is a string.
    pub name: Option<&'a str>,
    /// The message's `params` as sent (any shape): what history shows as its arguments.
    pub params: &'a Value,
    pub kind: crate::inbound::RefusalKind,
    /// What the agent was told.
    pub message: &'a str,
}

/// Why an agent was refused at the door.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No token was sent, and `gate.require_grants` is on (HTTP 401).
    #[error(
        "this gate requires a grant token (gate.require_grants is on): send `Authorization: Bearer <token>`"
    )]
    MissingToken,
    /// The token matches no grant (HTTP 401).
    #[error("unknown grant token")]
    UnknownToken,
    /// The grant exists but may not use this server (HTTP 403).
    #[error("grant `{grant}` has no access to server `{server}`")]
    NoAccess { grant: String, server: String },
}

/// A way to send messages to the agent while a call is held: progress keep-alives and the like.
/// On Streamable HTTP they travel on the held request's own SSE stream; on the legacy SSE transport
/// on the session's stream.
#[derive(Clone, Debug)]
pub struct AgentChannel {
    tx: mpsc::UnboundedSender<Value>,
    status: Option<mpsc::UnboundedSender<String>>,
    withdrawal: Arc<OnceLock<Withdrawal>>,
}

impl AgentChannel {
    pub fn new(tx: mpsc::UnboundedSender<Value>) -> Self {
        Self {
            tx,
            status: None,
            withdrawal: Arc::default(),
        }
    }

    /// Why the agent withdrew the call, once the relay has decided to drop the interceptor's
    /// future (read it in a `Drop` guard). `None` while the call is live.
    pub fn withdrawal(&self) -> Option<&Withdrawal> {
        self.withdrawal.get()
    }

    /// Says why the call is being withdrawn, before its future is dropped. The first reason wins.
    pub fn withdraw(&self, why: Withdrawal) {
        let _ = self.withdrawal.set(why);
    }

    /// A channel for a call answered as a task: [`AgentChannel::set_status`] reaches the task.
    pub(crate) fn for_task(
        tx: mpsc::UnboundedSender<Value>,
        status: mpsc::UnboundedSender<String>,
    ) -> Self {
        Self {
            tx,
            status: Some(status),
            withdrawal: Arc::default(),
        }
    }

    /// Says what the call is waiting for, e.g. "waiting for approval by a human". Shown as the
    /// task's `statusMessage` when the call is answered as a task; ignored otherwise.
    pub fn set_status(&self, message: impl Into<String>) {
        if let Some(status) = &self.status {
            let _ = status.send(message.into());
        }
    }

    /// Sends a JSON-RPC notification to the agent. Returns false when the agent is gone.
    pub fn notify(&self, method: &str, params: Value) -> bool {
        self.tx
            .send(serde_json::json!({"jsonrpc": "2.0", "method": method, "params": params}))
            .is_ok()
    }

    /// True once the agent's side of the channel is closed.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// Decides what the relay does with tool traffic. Implemented by the gate.
pub trait Interceptor: Send + Sync + 'static {
    /// Maps the `Authorization: Bearer` token (if any) to an identity, for a request to `server`.
    fn authenticate(&self, server: &str, bearer: Option<&str>) -> Result<AgentIdentity, AuthError>;

    /// Decides one `tools/call`. May take as long as a human needs; see the module docs for
    /// cancellation.
    fn tool_call<'a>(
        &'a self,
        call: ToolCall<'a>,
        agent: AgentChannel,
    ) -> BoxFuture<'a, CallDecision>;

    /// Edits a `tools/list` result in place (removes hidden tools). `result` is the JSON-RPC
    /// `result` object, with its `tools` array.
    fn tools_list(&self, session: &SessionInfo, result: &mut Value);

    /// The upstream of `session` sent `notifications/tools/list_changed` (it is forwarded to
    /// the agent as well). Default: nothing.
    fn tools_list_changed(&self, _session: &SessionInfo) {}

    /// A `tools/call` was refused before it could be decided (see [`RefusedCall`]); record it.
    /// Default: nothing.
    fn refused(&self, _call: RefusedCall<'_>) {}

    /// A session ended (DELETE, disconnect, expiry). Default: nothing.
    fn session_closed(&self, _session: &SessionInfo) {}

    /// Whether the relay answers calls that may wait for a human as tasks of its own, for agents
    /// that negotiated 2025-11-25 and ask for a task (see the `tasks` module). Default: no, the
    /// relay stays a plain pass-through.
    fn offers_tasks(&self) -> bool {
        false
    }

    /// Whether a call of `tool` may have to wait for a human (so `tools/list` offers it as a
    /// task). Only asked when [`Interceptor::offers_tasks`] is true.
    fn may_ask_human(&self, _session: &SessionInfo, _tool: &str) -> bool {
        false
    }
}

/// Lets everything through: the relay without a gate (used by `airlock connect` and tests).
#[derive(Debug, Default, Clone, Copy)]
pub struct PassThrough;

/// A ticket that ignores the outcome.
struct NoTicket;

impl CallTicket for NoTicket {
    fn finish(self: Box<Self>, _outcome: CallOutcome<'_>) {}
}

impl Interceptor for PassThrough {
    fn authenticate(
        &self,
        _server: &str,
        _bearer: Option<&str>,
    ) -> Result<AgentIdentity, AuthError> {
        Ok(AgentIdentity {
            grant: "default".into(),
        })
    }

    fn tool_call<'a>(
        &'a self,
        _call: ToolCall<'a>,
        _agent: AgentChannel,
    ) -> BoxFuture<'a, CallDecision> {
        Box::pin(async { CallDecision::Forward(Box::new(NoTicket)) })
    }

    fn tools_list(&self, _session: &SessionInfo, _result: &mut Value) {}
}
