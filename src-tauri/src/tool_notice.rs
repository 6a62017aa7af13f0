//! A native notification when a server adds a tool or changes a tool's definition after its
//! tools were pinned (`airlock_gate::pins`): the tool is held until the user reviews the change,
//! so the user is told at once, not only when an agent's call is refused. Clicking the
//! notification is not wired: the window's *Tool changes* view (`#/tools`) has the diff and the
//! Accept / Reject buttons.

use airlock_gate::{Gate, GateEvent, PinState};
use notify_rust::{Notification, Timeout};
use tokio::sync::broadcast;

use crate::notice::escape_markup;

/// Starts the task on the current async runtime.
pub fn spawn(gate: &Gate) {
    let mut events = gate.subscribe();
    tauri::async_runtime::spawn(async move {
        loop {
            match events.recv().await {
                Ok(GateEvent::ToolPin(pin)) => {
                    let what = match pin.state {
                        PinState::New => "is a new tool",
                        PinState::Changed => "changed its definition",
                        PinState::Pinned | PinState::Rejected => continue,
                    };
                    let body = format!(
                        "{} on {} {what}. Agents cannot use it until you review the change in Airlock (Tool changes).",
                        escape_markup(&pin.tool),
                        escape_markup(&pin.server)
                    );
                    let shown = Notification::new()
                        .appname("Airlock")
                        .summary("A tool changed: review it in Airlock")
                        .body(&body)
                        .timeout(Timeout::Never)
                        .show_async()
                        .await;
                    if let Err(error) = shown {
                        tracing::warn!("cannot show the tool-change notification: {error}");
                    }
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    });
}
