//! A waiter: one agent held on a request, and what its leaving means.

use tokio::sync::watch;

use super::{ApprovalStatus, Broker};

/// One agent held on a request. Dropping it without [`Waiter::release`] means the agent withdrew
/// (cancelled or disconnected): when it was the last one waiting, the request is withdrawn and
/// can no longer be approved.
#[derive(Debug)]
pub struct Waiter {
    broker: Option<Broker>,
    id: String,
    rx: watch::Receiver<ApprovalStatus>,
}

impl Waiter {
    pub(super) fn new(broker: Broker, id: &str, rx: watch::Receiver<ApprovalStatus>) -> Self {
        Waiter {
            broker: Some(broker),
            id: id.to_string(),
            rx,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Waits until the request leaves `Pending`; returns the new status.
    pub async fn settled(&mut self) -> ApprovalStatus {
        loop {
            let status = *self.rx.borrow_and_update();
            if status != ApprovalStatus::Pending {
                return status;
            }
            if self.rx.changed().await.is_err() {
                return ApprovalStatus::Withdrawn;
            }
        }
    }

    /// Stops waiting but leaves the request pending (the hold ended; the agent may call again).
    pub fn release(mut self) {
        if let Some(broker) = self.broker.take() {
            broker.leave(&self.id, false);
        }
    }

    /// Stops waiting because the request settled.
    pub fn done(mut self) {
        if let Some(broker) = self.broker.take() {
            broker.leave(&self.id, false);
        }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if let Some(broker) = self.broker.take() {
            broker.leave(&self.id, true);
        }
    }
}
