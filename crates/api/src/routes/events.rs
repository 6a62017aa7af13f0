//! `GET /api/events`: the gate's events as wire events for the SSE stream.

use airlock_gate::{Gate, GateEvent};
use axum::extract::State;
use axum::response::IntoResponse;

use crate::events::{KEEP_ALIVE, event_stream};
use crate::types::Event;

use super::approvals::approval;
use super::history::call_of;
use super::status::build_status;

/// `GET /api/events`: subscribes before answering, so nothing the gate announces after the
/// request arrived is missed.
pub(super) async fn events(State(gate): State<Gate>) -> impl IntoResponse {
    let rx = gate.subscribe();
    event_stream(rx, move |e| gate_event(&gate, e), KEEP_ALIVE)
}

fn gate_event(gate: &Gate, event: GateEvent) -> Option<Event> {
    match event {
        GateEvent::Approval(a) => Some(Event::Approval(approval(&a))),
        // A staged policy change shows in the status (its policy's error); the UI then reads
        // `/api/policies/staged` for the diff.
        GateEvent::Status | GateEvent::PolicyStaged(_) | GateEvent::ToolPin(_) => {
            Some(Event::Status(build_status(gate)))
        }
        GateEvent::Call(record) => Some(Event::Call(call_of(*record))),
        // The UI reloads remembered decisions when approvals change.
        GateEvent::Remembered => None,
    }
}
