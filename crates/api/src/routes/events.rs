//! `GET /api/events`: the gate's events as wire events for the SSE stream.

use crate::types::Event;
use airlock_gate::{Gate, GateEvent};

use super::approvals::approval;
use super::history::call_of;
use super::status::build_status;

pub(super) fn gate_event(gate: &Gate, event: GateEvent) -> Option<Event> {
    match event {
        GateEvent::Approval(a) => Some(Event::Approval(approval(&a))),
        GateEvent::Status => Some(Event::Status(build_status(gate))),
        GateEvent::Call(record) => Some(Event::Call(call_of(*record))),
        // The UI reloads remembered decisions when approvals change.
        GateEvent::Remembered => None,
    }
}
