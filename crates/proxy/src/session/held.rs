//! `tools/call`s held while the interceptor decides them.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;

use crate::inbound::{Refusal, RefusalKind, usable_id};
use crate::interceptor::{AgentChannel, CallDecision, SessionInfo, ToolCall, Withdrawal};
use crate::jsonrpc;
use crate::stream::StreamId;

use super::{Held, PendingKind, Session};

impl Session {
    /// Runs the interceptor on a `tools/call`, holding it until a decision. An id already in
    /// flight is refused first (recorded as a refused call), the first request unharmed.
    pub(super) fn hold_call(
        self: &Arc<Self>,
        msg: Value,
        stream: StreamId,
        info: Arc<SessionInfo>,
    ) {
        // Stateless requests of different agents may share an id: key them by a local id (they
        // are cancelled by closing their stream, never by id).
        let agent_key = if self.remap {
            self.relay.local_id()
        } else {
            // The guard must be gone before `refuse` locks again.
            let checked = self.check_id(&self.lock(), &msg);
            match checked {
                Ok(key) => key,
                Err(refusal) => {
                    self.refuse(&msg, refusal, Some(stream), &info);
                    return;
                }
            }
        };
        if self.answers_as_task(&msg) {
            self.hold_as_task(msg, stream, info);
            return;
        }
        let token = self.closed.child_token();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let agent = AgentChannel::new(tx);
        let disconnected = {
            let mut st = self.lock();
            let checked = if self.closed.is_cancelled() {
                // `close` ran after the request found the session: nothing would withdraw it.
                Err(session_ended(&msg))
            } else if self.remap {
                Ok(())
            } else {
                // Another request may have taken the id between the two looks.
                self.check_id(&st, &msg).map(drop)
            };
            if let Err(refusal) = checked {
                drop(st);
                self.refuse(&msg, refusal, Some(stream), &info);
                return;
            }
            st.held.insert(
                agent_key.clone(),
                Held {
                    token: token.clone(),
                    agent: agent.clone(),
                },
            );
            st.streams.get(stream).map(|s| s.disconnected.clone())
        };
        let session = self.clone();
        tokio::spawn(async move {
            let interceptor = session.relay.interceptor.clone();
            let decision = {
                let call = tool_call(&msg, &info, false);
                let fut = interceptor.tool_call(call, agent.clone());
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
                        // The decision first: a call withdrawn before its task ran is still
                        // polled once, so the interceptor's guards see (and record) it.
                        biased;
                        d = &mut fut => break Some(d),
                        Some(note) = rx.recv() => session.lock().streams.deliver(stream, &note, false),
                        () = token.cancelled() => {
                            // `cancel` or `close` said why before cancelling.
                            agent.withdraw(Withdrawal::SessionClosed);
                            break None;
                        }
                        () = &mut gone => {
                            agent.withdraw(Withdrawal::Disconnected);
                            break None;
                        }
                    }
                }
                // The decision's future is dropped here: a withdrawn call is withdrawn now.
            };
            let mut st = session.lock();
            let still_held = st
                .held
                .get(&agent_key)
                .is_some_and(|h| !h.token.is_cancelled());
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
                    // Under the same lock as the removal from `held`: no other request can take
                    // the id in between.
                    let kind = PendingKind::ToolCall(Some(ticket));
                    session.forward_locked(&mut st, msg, stream, kind, info);
                }
            }
        });
    }
}

static NULL: Value = Value::Null;

/// The refusal of a `tools/call` that reached a session as it was ending.
pub(super) fn session_ended(msg: &Value) -> Refusal {
    Refusal {
        kind: RefusalKind::NoSession,
        code: jsonrpc::INVALID_REQUEST,
        message: "the session ended before this call could be decided".to_owned(),
        id: usable_id(msg),
        is_call: true,
    }
}

/// The interceptor's view of a `tools/call` message. `as_task`: answered with a proxy-owned task
/// (its `params.task` was already removed).
pub(super) fn tool_call<'a>(msg: &'a Value, info: &'a SessionInfo, as_task: bool) -> ToolCall<'a> {
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
