//! The ticket of a forwarded call: commits its limits and completes its history row.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use airlock_policy::{LimitUse, ReservationId, SlidingWindows};
use airlock_proxy::{CallOutcome, CallTicket};
use airlock_store::{Completion, Outcome, Store};
use serde_json::Value;

use crate::clock::Clock;

use super::record::{announce_call, spawn_write};

/// Hears how a forwarded call ended: commits its limits and completes its history row. Dropped
/// without `finish`, the call never completed: limits roll back.
pub(super) struct Ticket {
    pub(super) call_id: i64,
    pub(super) reservation: Option<ReservationId>,
    /// The limits this call counts against, persisted when it completes.
    pub(super) uses: Vec<LimitUse>,
    pub(super) counters: Arc<Mutex<SlidingWindows>>,
    pub(super) store: Store,
    pub(super) events: tokio::sync::broadcast::Sender<crate::gate::GateEvent>,
    pub(super) started: Instant,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) finished: bool,
}

impl Ticket {
    pub(super) fn complete(&mut self, outcome: Outcome, error: Option<String>) {
        self.finished = true;
        let latency_us = i64::try_from(self.started.elapsed().as_micros()).unwrap_or(i64::MAX);
        let at_ms = i64::try_from(self.clock.now_ms()).unwrap_or(i64::MAX);
        let completion = Completion {
            outcome,
            latency_us,
            error,
            at_ms,
        };
        // Nobody listens (the usual case): queue the write, no task and no acknowledgment to
        // wait for. The writer logs a failure either way.
        if self.events.receiver_count() == 0 {
            self.store.complete_call_nowait(self.call_id, completion);
            return;
        }
        let (store, id, events) = (self.store.clone(), self.call_id, self.events.clone());
        spawn_write(async move {
            match store.complete_call(id, completion).await {
                Ok(()) => announce_call(&store, &events, id),
                Err(err) => tracing::error!(call = id, "cannot complete call in history: {err}"),
            }
        });
    }
}

impl CallTicket for Ticket {
    fn finish(mut self: Box<Self>, outcome: CallOutcome<'_>) {
        if let Some(id) = self.reservation.take() {
            self.counters
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .commit(id);
            let at_ms = self.clock.now_ms();
            let events = self
                .uses
                .iter()
                .map(|u| crate::counters::to_stored(u, at_ms))
                .collect();
            // Queued behind the call's own row; the writer logs a failure.
            self.store.save_counter_events_nowait(events);
        }
        let (outcome, error) = match outcome {
            CallOutcome::Result(result) => {
                if result.get("isError").and_then(Value::as_bool) == Some(true) {
                    (Outcome::ToolError, None)
                } else {
                    (Outcome::Ok, None)
                }
            }
            CallOutcome::Error(error) => (
                Outcome::RpcError,
                error
                    .get("message")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            ),
        };
        self.complete(outcome, error);
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(id) = self.reservation.take() {
            self.counters
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .rollback(id);
        }
        if !self.finished {
            self.complete(
                Outcome::Failed,
                Some("the call never completed (upstream gone or call cancelled)".into()),
            );
        }
    }
}
