//! [`GateEvent`]: what the gate tells the UIs (the API's event stream, the app's notifier) as it
//! happens, on one broadcast bus.

use crate::approvals::Approval;

/// Something a UI wants to know about.
#[derive(Debug, Clone)]
pub enum GateEvent {
    /// An approval request was created or changed status.
    Approval(Box<Approval>),
    /// Remembered decisions changed.
    Remembered,
    /// A call was recorded, or completed: its history row as stored.
    Call(Box<airlock_store::CallRecord>),
    /// A tool's pin changed: a server listed a new or changed definition (held, or accepted by
    /// `gate.on_tool_change`), or a human accepted or rejected one.
    ToolPin(Box<crate::pins::PinnedTool>),
    /// A policy was reloaded or refused, the gate was paused or resumed, a server changed state.
    Status,
    /// A policy file on disk changed in a way that loosens the policy in force: the change is
    /// staged until a human applies or discards it (the policy in force is unchanged).
    PolicyStaged(Box<crate::policies::StagedPolicy>),
}
