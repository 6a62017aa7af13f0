//! A human's decision about a held tool.

use airlock_store::{NewToolPinEvent, PinEvent, StoreError};

use super::{PinState, PinnedTool, Pins, short_hash};

/// Why a decision about a tool was not taken.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error("`{server}` has no pinned tool `{tool}` (see `airlock tools {server}`)")]
    UnknownTool { server: String, tool: String },
    #[error("`{tool}` on `{server}` is not held: its listed definition is the accepted one")]
    NotHeld { server: String, tool: String },
    #[error(
        "the definition of `{tool}` changed again since it was reviewed (reviewed `{reviewed}`, now `{now}`); review it again"
    )]
    Moved {
        tool: String,
        reviewed: String,
        now: String,
    },
    #[error("cannot store the decision: {0}")]
    Store(#[source] StoreError),
}

impl Pins {
    /// Accepts (`accept`) or rejects the definition `server` lists for `tool`, as `actor` (the
    /// surface: `cli`, `window`, `api`). `reviewed`: the hash the human looked at (a prefix is
    /// enough); the decision is refused when the definition moved since. Waits for the store.
    pub(crate) async fn decide(
        &self,
        server: &str,
        tool: &str,
        reviewed: Option<&str>,
        accept: bool,
        actor: &str,
    ) -> Result<PinnedTool, PinError> {
        let now = self.now();
        let (done, view) = {
            let mut servers = self.lock();
            let pin = servers
                .get_mut(server)
                .and_then(|pins| pins.tools.get_mut(tool))
                .ok_or_else(|| PinError::UnknownTool {
                    server: server.to_owned(),
                    tool: tool.to_owned(),
                })?;
            if let Some(reviewed) = reviewed
                && (reviewed.is_empty() || !pin.seen_hash.starts_with(reviewed))
            {
                return Err(PinError::Moved {
                    tool: tool.to_owned(),
                    reviewed: reviewed.to_owned(),
                    now: short_hash(&pin.seen_hash).to_owned(),
                });
            }
            let state = PinState::of(pin);
            if state == PinState::Pinned || (!accept && state == PinState::Rejected) {
                return Err(PinError::NotHeld {
                    server: server.to_owned(),
                    tool: tool.to_owned(),
                });
            }
            let event = NewToolPinEvent {
                at_ms: now,
                server: server.to_owned(),
                tool: tool.to_owned(),
                event: if accept {
                    PinEvent::Accepted
                } else {
                    PinEvent::Rejected
                },
                hash: pin.seen_hash.clone(),
                previous_hash: pin.pinned_hash.clone(),
                definition: pin.seen_definition.clone(),
                actor: Some(actor.to_owned()),
            };
            if accept {
                pin.pinned_hash = Some(pin.seen_hash.clone());
                pin.pinned_definition = Some(pin.seen_definition.clone());
                pin.rejected = false;
            } else {
                pin.rejected = true;
            }
            pin.changed_ms = now;
            // Queued under the lock: the store sees the pins' changes in the order they made.
            let done = self.writes.queue_acked(vec![pin.clone()], vec![event]);
            (done, PinnedTool::of(pin))
        };
        match done.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(PinError::Store(error)),
            Err(_) => return Err(PinError::Store(StoreError::Closed)),
        }
        tracing::info!(
            server,
            tool,
            actor,
            accepted = accept,
            "tool definition decided"
        );
        (self.notify)(view.clone());
        Ok(view)
    }
}
