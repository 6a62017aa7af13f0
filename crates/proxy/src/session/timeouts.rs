//! How long a forwarded request may take: its deadlines (`gate.request_timeout`, extended by
//! progress up to `gate.max_request_time`) and what happens when they pass.

use serde_json::Value;
use tokio::time::Instant;

use crate::interceptor::CallOutcome;
use crate::jsonrpc;

use super::Session;

/// JSON-RPC error code for a request the upstream did not answer in time (the code MCP SDKs use
/// for their own request timeouts).
const REQUEST_TIMEOUT: i64 = -32001;

/// Requests that by their nature last as long as the server keeps them open: bounded by the
/// longest request time only.
fn long_lived(method: &str) -> bool {
    matches!(method, "tasks/result" | "subscriptions/listen")
}

impl Session {
    /// When a request forwarded now is given up (unless progress moves it), and the latest.
    pub(super) fn deadlines(&self, msg: &Value) -> (Instant, Instant) {
        let now = Instant::now();
        let config = &self.relay.config;
        let last = now + config.max_request_time;
        let deadline = if long_lived(jsonrpc::method(msg)) {
            last
        } else {
            (now + config.request_timeout).min(last)
        };
        (deadline, last)
    }

    /// Gives up the requests whose time is up: the agent gets a JSON-RPC error saying the
    /// upstream did not answer, the upstream gets `notifications/cancelled`, a call's ticket
    /// hears [`CallOutcome::TimedOut`]. Called by the pump a few times per request timeout.
    pub(super) fn expire_requests(&self) {
        let now = Instant::now();
        let timeout = self.relay.config.request_timeout;
        let mut st = self.lock();
        if st.pending.is_empty() {
            return;
        }
        let agent_busy = !st.awaiting_agent.is_empty();
        let due: Vec<String> = st
            .pending
            .iter_mut()
            .filter_map(|(key, p)| {
                if p.deadline > now {
                    return None;
                }
                if agent_busy && p.last > now {
                    // The server asked the agent something (an elicitation, a sampling): it is
                    // probably waiting for that answer, not stuck.
                    p.extend(now, timeout);
                    return None;
                }
                Some(key.clone())
            })
            .collect();
        for key in due {
            let Some(mut p) = st.pending.remove(&key) else {
                continue;
            };
            if let Some(k) = &p.progress {
                st.progress.remove(k);
            }
            // `5m`, `30s`, `500ms`: whole seconds would say `0 s` for a sub-second timeout.
            let waited = humantime::format_duration(self.relay.config.request_timeout);
            let message = format!(
                "upstream `{}` did not answer within {waited}; Airlock cancelled the request",
                self.server
            );
            tracing::warn!(server = %self.server, session = %self.id, "{message}");
            self.cancel_upstream(&mut st, &key, &message);
            p.kind.finish(CallOutcome::TimedOut);
            st.answer_with_error(p, REQUEST_TIMEOUT, &message);
        }
    }
}
