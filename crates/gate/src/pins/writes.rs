//! The pins' writes to the store, in the order they were made.
//!
//! A pin row is written whole, so two writes of one tool must reach the store in the order the
//! in-memory pins changed: every write goes through one queue, filled under the pins' lock and
//! drained by one task. A human's decision waits for its write to commit; a listing's changes
//! do not (a `tools/list` answer is not held up by the disk).

use airlock_store::{NewToolPinEvent, Store, StoreError, ToolPin};
use tokio::sync::{mpsc, oneshot};

struct Write {
    pins: Vec<ToolPin>,
    events: Vec<NewToolPinEvent>,
    done: Option<oneshot::Sender<Result<(), StoreError>>>,
}

/// The queue's sending end; the draining task ends when it is dropped.
#[derive(Debug)]
pub(super) struct Writes {
    tx: mpsc::UnboundedSender<Write>,
}

impl Writes {
    /// Starts the draining task (on the current tokio runtime).
    pub(super) fn start(store: Store) -> Writes {
        let (tx, mut rx) = mpsc::unbounded_channel::<Write>();
        tokio::spawn(async move {
            while let Some(write) = rx.recv().await {
                let result = store.save_tool_pins(write.pins, write.events).await;
                match write.done {
                    Some(done) => {
                        let _ = done.send(result);
                    }
                    None => {
                        if let Err(error) = result {
                            tracing::error!("cannot store a tool pin: {error}");
                        }
                    }
                }
            }
        });
        Writes { tx }
    }

    /// Queues a write nobody waits for (its failure is logged).
    pub(super) fn queue(&self, pins: Vec<ToolPin>, events: Vec<NewToolPinEvent>) {
        if pins.is_empty() && events.is_empty() {
            return;
        }
        let _ = self.tx.send(Write {
            pins,
            events,
            done: None,
        });
    }

    /// Queues a write; the receiver says when it committed, or why not.
    pub(super) fn queue_acked(
        &self,
        pins: Vec<ToolPin>,
        events: Vec<NewToolPinEvent>,
    ) -> oneshot::Receiver<Result<(), StoreError>> {
        let (done, rx) = oneshot::channel();
        let _ = self.tx.send(Write {
            pins,
            events,
            done: Some(done),
        });
        rx
    }
}
