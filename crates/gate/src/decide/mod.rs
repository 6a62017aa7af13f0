//! The gate's `Interceptor`: how one `tools/call` is decided, held, recorded and completed.
//!
//! Hot path (every call): one `ArcSwap` load for the policy, one pure evaluation and the limit
//! reservation under one short `Mutex` (so check-and-reserve is exact under concurrency), one
//! history write acknowledged by the store's writer thread before anything is forwarded. Nothing
//! here blocks the async runtime.
//!
//! Fail closed everywhere: no policy, an invalid policy, a history write that fails, a paused gate,
//! a time-out or a cancellation all end in a denial the agent can read, and none forwards the call.

mod background;
pub(crate) mod guard;
mod hold;
mod listed;
mod paths;
mod pipeline;
mod record;
mod ticket;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use airlock_policy::SlidingWindows;
use airlock_proxy::{
    AgentChannel, AgentIdentity, AuthError, CallDecision, Interceptor, RefusedCall, SessionInfo,
    ToolCall,
};
use airlock_store::Store;
use arc_swap::ArcSwap;
use futures::future::BoxFuture;
use serde_json::Value;

use crate::approvals::Broker;
use crate::clock::Clock;
use crate::grants::Grants;
use crate::policies::PolicySet;

pub(crate) use record::{EndedApproval, approval_end_row};
use record::{Trail, Unrecorded};

/// The key under which machine-readable details travel in a result's `_meta`.
pub const META_KEY: &str = "dev.airlock/decision";

/// Settings the interceptor reads on every call.
#[derive(Debug, Clone)]
pub struct HoldSettings {
    /// Longest hold for a call without a progress token.
    pub hold: Duration,
    /// Approval timeout when the policy does not set one.
    pub default_approval_timeout: Duration,
    /// Whether calls that may wait for a human are offered as tasks (`gate.offer_tasks`).
    pub offer_tasks: bool,
}

/// Shared state of the gate that the interceptor needs.
pub struct GateInterceptor {
    pub(crate) policies: PolicySet,
    pub(crate) grants: ArcSwap<Grants>,
    pub(crate) counters: Arc<Mutex<SlidingWindows>>,
    pub(crate) store: Store,
    pub(crate) broker: Broker,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) paused: AtomicBool,
    pub(crate) events: tokio::sync::broadcast::Sender<crate::events::GateEvent>,
    pub(crate) hold: HoldSettings,
    /// What each server's path arguments are normalized against.
    pub(crate) roots: crate::roots::ServerRoots,
    /// Open agent sessions the gate has seen (for "who is connected").
    pub(crate) sessions: crate::identity::Sessions,
    /// The tools each server listed, for servers without a policy.
    pub(crate) listed: listed::ListedTools,
    /// The pinned tool definitions (`crate::pins`).
    pub(crate) pins: Arc<crate::pins::Pins>,
    /// The guard of the gate's own files; `None` when `gate.guard_own_files` is off.
    pub(crate) guard: Option<Arc<guard::Guard>>,
    /// The passphrase of strong approvals.
    pub(crate) passphrases: crate::passphrase::Passphrases,
}

impl std::fmt::Debug for GateInterceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GateInterceptor").finish_non_exhaustive()
    }
}

impl GateInterceptor {
    /// Why a call to `tool` of a server without a policy is denied when the server did not list
    /// the tool (see `listed.rs`); `None` when it listed it. Only for servers without a policy
    /// (`PolicySet::for_call_sourced` says which).
    fn unlisted_without_policy(&self, session: &SessionInfo, tool: &str) -> Option<String> {
        let server = &session.server;
        match self.listed.contains(server, tool) {
            listed::Listed::Yes => None,
            listed::Listed::No => Some(format!(
                "Denied: `{server}` did not list a tool named `{tool}` in its last tools/list, \
                 so no human is asked about it. Call tools/list to see its tools."
            )),
            listed::Listed::Unknown => Some(format!(
                "Denied: `{server}` has no policy and Airlock has not seen its tool list yet, \
                 so it does not know `{tool}` exists. Call tools/list, then call the tool again."
            )),
        }
    }
}

impl GateInterceptor {
    /// Compares a `tools/list` result with the pins; the tools to hide while held.
    fn pinned_listing(&self, server: &str, result: &Value) -> std::collections::HashSet<String> {
        let tools = result
            .get("tools")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        let last_page = result.get("nextCursor").is_none_or(Value::is_null);
        self.pins.observe(server, tools, last_page)
    }
}

impl Interceptor for GateInterceptor {
    fn authenticate(&self, server: &str, bearer: Option<&str>) -> Result<AgentIdentity, AuthError> {
        self.grants.load().authenticate(server, bearer)
    }

    fn tool_call<'a>(
        &'a self,
        call: ToolCall<'a>,
        agent: AgentChannel,
    ) -> BoxFuture<'a, CallDecision> {
        self.sessions.seen(call.session);
        Box::pin(async move {
            let trail = Trail::default();
            let mut unrecorded = Unrecorded {
                gate: self,
                call: &call,
                agent: &agent,
                trail: &trail,
                armed: true,
            };
            let decision = self.decide(&call, &agent, &trail).await;
            unrecorded.armed = false;
            decision
        })
    }

    fn refused(&self, call: RefusedCall<'_>) {
        self.record_refused(&call);
    }

    fn offers_tasks(&self) -> bool {
        self.hold.offer_tasks
    }

    fn may_ask_human(&self, session: &SessionInfo, tool: &str) -> bool {
        self.policies
            .for_call_sourced(&session.agent.grant, &session.server)
            .is_ok_and(|(policy, asks_for_everything)| {
                let pin_asks = matches!(
                    self.pins.check(&session.server, tool),
                    crate::pins::PinCheck::Ask(_)
                );
                (policy.may_ask_human(tool) || pin_asks)
                    && !(asks_for_everything
                        && self.unlisted_without_policy(session, tool).is_some())
            })
    }

    fn session_closed(&self, session: &SessionInfo) {
        self.sessions.closed(session);
        self.broker.session_ended(&session.session_id);
        self.pins.session_closed(&session.session_id);
    }

    fn tools_list(&self, session: &SessionInfo, result: &mut Value) {
        self.sessions.seen(session);
        self.listed.record(&session.server, result);
        let held = self.pinned_listing(&session.server, result);
        self.pins.session_listed(&session.session_id);
        let policy = match self
            .policies
            .for_call(&session.agent.grant, &session.server)
        {
            Ok(policy) => policy,
            // No valid policy: every call is denied anyway; show nothing to call.
            Err(_) => {
                if let Some(tools) = result.get_mut("tools").and_then(Value::as_array_mut) {
                    tools.clear();
                }
                return;
            }
        };
        if let Some(tools) = result.get_mut("tools").and_then(Value::as_array_mut) {
            tools.retain(|tool| {
                tool.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|name| !policy.is_hidden(name) && !held.contains(name))
            });
        }
    }

    fn tools_list_changed(&self, session: &SessionInfo) {
        self.pins.relist(&session.server, &session.session_id);
    }
}
