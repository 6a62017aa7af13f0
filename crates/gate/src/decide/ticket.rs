//! What happens to a call after the policy let it through: its limit reservation, and the
//! ticket that commits the limits when the call is forwarded and completes its history row.
//!
//! Quota semantics (docs/policy.md "Limits"): a call's limits are reserved when it is decided
//! and **committed the moment it is forwarded** ([`CallTicket::forwarded`]): whatever happens
//! next (the agent cancels or disconnects, the upstream errs, dies or never answers), the
//! upstream may have run it, so the quota stays used. A reservation is rolled back only when the
//! call was never sent: denied by a human, timed out or withdrawn while waiting, the session
//! gone before the relay could send it. Both rules live in the two `Drop`s below, so no path can
//! forget them.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use airlock_policy::{ReservationId, SlidingWindows};
use airlock_proxy::{CallOutcome, CallTicket};
use airlock_store::{Completion, Outcome, Store};
use serde_json::Value;

use crate::clock::Clock;

use super::background::{announce_call, spawn_write};

/// Limits reserved for one call. Dropped without [`Reservation::commit`], they are given back.
pub(super) struct Reservation {
    id: Option<ReservationId>,
    counters: Arc<Mutex<SlidingWindows>>,
}

impl Reservation {
    pub(super) fn new(id: ReservationId, counters: Arc<Mutex<SlidingWindows>>) -> Self {
        Reservation {
            id: Some(id),
            counters,
        }
    }

    /// Keeps the quota used, for good.
    fn commit(mut self) {
        if let Some(id) = self.id.take() {
            lock(&self.counters).commit(id);
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            lock(&self.counters).rollback(id);
        }
    }
}

fn lock(counters: &Mutex<SlidingWindows>) -> std::sync::MutexGuard<'_, SlidingWindows> {
    counters.lock().unwrap_or_else(|e| e.into_inner())
}

/// Hears what happens to a call the policy let through. See the module docs.
pub(super) struct Ticket {
    pub(super) call_id: i64,
    pub(super) reservation: Option<Reservation>,
    /// The stored counter events of this call's limits, written with its history row;
    /// discarded if it is never forwarded.
    pub(super) counted: Vec<i64>,
    pub(super) store: Store,
    pub(super) events: tokio::sync::broadcast::Sender<crate::events::GateEvent>,
    pub(super) started: Instant,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) forwarded: bool,
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

/// The history outcome of a forwarded call, and its error text.
fn outcome_of(outcome: CallOutcome<'_>) -> (Outcome, Option<String>) {
    match outcome {
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
        CallOutcome::Cancelled(reason) => (
            Outcome::Cancelled,
            Some(match reason {
                Some(reason) => format!("cancelled by the agent after it was forwarded: {reason}"),
                None => "cancelled by the agent after it was forwarded".into(),
            }),
        ),
        CallOutcome::TimedOut => (
            Outcome::Timeout,
            Some("the upstream did not answer in time; Airlock cancelled it".into()),
        ),
        CallOutcome::UpstreamLost(reason) => (Outcome::Failed, Some(reason.to_string())),
        CallOutcome::SessionClosed => (
            Outcome::Cancelled,
            Some("the agent's session ended before the upstream answered".into()),
        ),
    }
}

impl CallTicket for Ticket {
    fn forwarded(&mut self) {
        self.forwarded = true;
        // The stored events were written with the call's row (`record_call_counted`): only
        // the in-memory reservation is left to commit.
        self.counted.clear();
        if let Some(reservation) = self.reservation.take() {
            reservation.commit();
        }
    }

    fn finish(mut self: Box<Self>, outcome: CallOutcome<'_>) {
        let (outcome, error) = outcome_of(outcome);
        self.complete(outcome, error);
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        // A reservation still here was never committed: the call was never sent, and its
        // quota goes back as the `Reservation` drops, its stored events with it.
        self.store
            .discard_counter_events_nowait(std::mem::take(&mut self.counted));
        if self.finished {
            return;
        }
        let error = if self.forwarded {
            "the relay lost track of the forwarded call (no answer was delivered)"
        } else {
            "allowed, but never forwarded: the agent or its session went away first"
        };
        let outcome = if self.forwarded {
            Outcome::Failed
        } else {
            Outcome::Cancelled
        };
        self.complete(outcome, Some(error.into()));
    }
}
