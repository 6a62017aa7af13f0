//! An agent's cancellations: `notifications/cancelled` for a held or forwarded call, and (in the
//! stateless era) a request stream the agent closed.

use serde_json::{Value, json};

use crate::interceptor::{CallOutcome, Withdrawal};
use crate::jsonrpc;
use crate::stream::StreamId;

use super::{Session, State};

impl Session {
    /// `notifications/cancelled` from the agent. Returns true when it was consumed here (the
    /// call was still held: nothing upstream knows about it). A forwarded call ends as
    /// cancelled (it may have run: its limits stay used) and the notification goes upstream.
    pub(super) fn cancel(&self, msg: &Value) -> bool {
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
                let reason = "the client closed the request stream";
                p.kind.finish(CallOutcome::Cancelled(Some(reason)));
                self.cancel_upstream(&mut st, &key, reason);
            }
        }
    }

    /// Tells the upstream to stop working on request `key`: closes its stateless exchange (that
    /// is its cancellation), or sends `notifications/cancelled` on the session's link.
    pub(super) fn cancel_upstream(&self, st: &mut State, key: &str, reason: &str) {
        if let Some(exchange) = st.exchanges.remove(key) {
            exchange.abort();
        } else if let Ok(id) = serde_json::from_str::<Value>(key) {
            let _ = self.outbox.send(json!({
                "jsonrpc": "2.0",
                "method": "notifications/cancelled",
                "params": {"requestId": id, "reason": reason}
            }));
        }
    }
}
