//! The approval life cycle made durable: the only code that writes an approval's status to the
//! store, and the one place broker changes become [`GateEvent`]s.
//!
//! Every transition is written first and applied to the broker only once the store accepted it
//! (persist, then apply), so the broker never shows a status history does not. The store is the
//! arbiter when two transitions race (a human approving while the last agent withdraws, or while
//! the clock expires the request): it moves a request out of `pending` once
//! (`Store::decide_approval` answers whether this write did), and only that transition is
//! applied. The others are dropped: their writer sees the request already settled.
//!
//! | transition | who starts it | written as | then applied by |
//! |---|---|---|---|
//! | created | the hold (`decide/hold.rs`) | `insert_approval` | [`Broker::announce`] |
//! | approved, denied | a human ([`Durable::decide`]) | a remembered rule, then `decide_approval` | [`Broker::decide`] |
//! | expired | the one-second tick, or a hold that lasted to the expiry | `decide_approval` | [`Broker::apply_expired`] |
//! | withdrawn | the last waiter dropped ([`Durable::write_withdrawals`]) | `decide_approval` | [`Broker::apply_withdrawn`] |
//! | expired at start-up | [`expire_left_pending`] | one statement over every pending row | (no broker yet) |
//!
//! Nothing here approves by itself: a write that fails leaves the request pending in the broker
//! (and a decision unapplied), and a pending request can only expire.

use std::sync::Arc;

use airlock_store::{ApprovalDecision, NewApproval, Store, StoreError};
use serde_json::Value;
use tokio::sync::broadcast;

use crate::GateError;
use crate::events::GateEvent;
use crate::store_glue::ms;

use super::broker::Notify;
use super::{
    Approval, ApprovalStatus, Broker, BrokerEvent, DecideError, DecisionSource, HumanDecision,
    remembered_rule,
};

/// The broker's events on the gate's one bus: what the API's event stream and the app's
/// notifier read.
pub fn gate_events(events: broadcast::Sender<GateEvent>) -> Notify {
    Arc::new(move |event| {
        let _ = events.send(match event {
            BrokerEvent::Approval(approval) => GateEvent::Approval(approval),
            BrokerEvent::Remembered => GateEvent::Remembered,
        });
    })
}

/// The broker and the store it writes through. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Durable {
    store: Store,
    broker: Broker,
}

impl Durable {
    pub fn new(store: Store, broker: Broker) -> Self {
        Durable { store, broker }
    }

    /// Writes a request the broker just created ([`super::Joined::Created`]), then announces it.
    /// `arguments` are the call's as sent (the store redacts them).
    pub async fn file(&self, approval: &Approval, arguments: &Value) -> Result<(), StoreError> {
        let request = &approval.request;
        self.store
            .insert_approval(NewApproval {
                id: approval.id.clone(),
                created_ms: ms(approval.created_ms),
                expires_ms: ms(approval.expires_ms),
                grant: Some(request.grant.clone()),
                session_id: Some(request.session_id.clone()),
                server: request.server.clone(),
                tool: request.tool.clone(),
                arguments,
                rule: Some(request.rule.clone()),
                reason: request.reason.clone(),
            })
            .await?;
        self.broker.announce(&approval.id);
        Ok(())
    }

    /// A human decides a pending request. The rule it asks to remember is written first (it
    /// needs its store id), then the decision; only a decision the store accepted is applied. A
    /// decision that is not (the request expired or was withdrawn meanwhile, or the write
    /// failed) takes its rule back.
    pub async fn decide(&self, id: &str, decision: &HumanDecision) -> Result<Approval, GateError> {
        let current = self.broker.check_pending(id)?;
        let now = self.broker.now_ms();
        let arguments = self.broker.arguments(id).unwrap_or_default();
        let mut rule =
            remembered_rule(&current, decision, &arguments, now).map_err(DecideError::from)?;
        let mut rule_id = None;
        if let Some(rule) = rule.as_mut() {
            let stored = self
                .store
                .insert_remembered(crate::store_glue::rule_to_store(rule))
                .await
                .map_err(GateError::store("store the remembered decision"))?;
            rule.id = stored.id.to_string();
            rule_id = Some(stored.id);
        }
        let status = if decision.approve {
            ApprovalStatus::Approved
        } else {
            ApprovalStatus::Denied
        };
        let written = self
            .write(
                id,
                status,
                now,
                Some(decision.source),
                decision.note.clone(),
            )
            .await;
        match written {
            Ok(true) => Ok(self.broker.decide(id, decision, rule)?),
            Ok(false) => {
                self.take_back(rule_id, now).await;
                let status = self.settled_status(id).await;
                Err(DecideError::NotPending {
                    id: id.to_string(),
                    status,
                }
                .into())
            }
            Err(source) => {
                self.take_back(rule_id, now).await;
                Err(GateError::Store {
                    doing: "store the decision in history",
                    source,
                })
            }
        }
    }

    /// Revokes a remembered decision: in the store first (rules restored at start-up have a
    /// numeric store id), then in the broker. False when the broker has no rule with that id.
    pub async fn revoke(&self, id: &str) -> Result<bool, StoreError> {
        if let Ok(store_id) = id.parse::<i64>() {
            self.store
                .revoke_remembered(store_id, ms(self.broker.now_ms()))
                .await?;
        }
        Ok(self.broker.revoke(id))
    }

    /// Expires every pending request whose time is up. Returns the ones expired now.
    pub async fn expire_due(&self) -> Vec<Approval> {
        let mut expired = Vec::new();
        for id in self.broker.due() {
            if let Some(approval) = self.expire(&id).await {
                expired.push(approval);
            }
        }
        expired
    }

    /// Expires one pending request (its time is up). Returns it when this call expired it.
    pub async fn expire(&self, id: &str) -> Option<Approval> {
        let current = self.broker.get(id)?;
        if current.status != ApprovalStatus::Pending {
            return None;
        }
        let at = self.broker.now_ms();
        match self
            .write(id, ApprovalStatus::Expired, at, None, None)
            .await
        {
            Ok(true) => self.broker.apply_expired(id),
            // Settled in the store by a decision or withdrawal whose own apply follows.
            Ok(false) => None,
            Err(err) => {
                tracing::error!(%id, "cannot store an expired approval request: {err}");
                None
            }
        }
    }

    /// Writes, then applies, the withdrawal of each request whose last agent left, until the
    /// broker is gone. Run once per broker, on a task of its own (`Gate::build`).
    pub async fn write_withdrawals(self) {
        let Some(mut ids) = self.broker.take_withdrawals() else {
            tracing::error!("withdrawals already have a writer");
            return;
        };
        while let Some(id) = ids.recv().await {
            self.withdraw(&id).await;
        }
    }

    async fn withdraw(&self, id: &str) {
        let at = self.broker.now_ms();
        match self
            .write(id, ApprovalStatus::Withdrawn, at, None, None)
            .await
        {
            Ok(true) => {
                self.broker.apply_withdrawn(id);
            }
            Ok(false) => {}
            // It stays withdrawing (no one can join or decide it) until it expires.
            Err(err) => tracing::error!(%id, "cannot store a withdrawn approval request: {err}"),
        }
    }

    /// Moves `id` out of `pending` in the store. False when it was not pending there.
    async fn write(
        &self,
        id: &str,
        status: ApprovalStatus,
        at_ms: u64,
        source: Option<DecisionSource>,
        note: Option<String>,
    ) -> Result<bool, StoreError> {
        let (stored, decided_by) = match status {
            ApprovalStatus::Approved => (airlock_store::ApprovalStatus::Approved, "human"),
            ApprovalStatus::Denied => (airlock_store::ApprovalStatus::Denied, "human"),
            ApprovalStatus::Expired => (airlock_store::ApprovalStatus::Expired, "timeout"),
            ApprovalStatus::Withdrawn => (airlock_store::ApprovalStatus::Withdrawn, "agent"),
            ApprovalStatus::Pending => (airlock_store::ApprovalStatus::Pending, ""),
        };
        self.store
            .decide_approval(
                id,
                ApprovalDecision {
                    status: stored,
                    at_ms: ms(at_ms),
                    decided_by: Some(decided_by.to_string()),
                    source: source.map(|s| s.as_str().to_string()),
                    note,
                },
            )
            .await
    }

    /// Revokes the rule of a decision that was not applied. Best effort: a rule left behind is
    /// logged, and restored at the next start only if its revocation also failed.
    async fn take_back(&self, rule_id: Option<i64>, now: u64) {
        if let Some(rule_id) = rule_id
            && let Err(err) = self.store.revoke_remembered(rule_id, ms(now)).await
        {
            tracing::error!(
                rule_id,
                "cannot revoke the remembered rule of a decision that was not applied: {err}"
            );
        }
    }

    /// How the store says a request ended, for a decision that came too late.
    async fn settled_status(&self, id: &str) -> &'static str {
        match self.store.get_approval(id).await {
            Ok(Some(stored)) => stored.status.as_str(),
            _ => "settled",
        }
    }
}

/// At start-up, before any broker exists: every request an earlier run left pending is expired
/// in one statement (none was approved). Returns them, for their history rows.
pub async fn expire_left_pending(
    store: &Store,
    now_ms: u64,
) -> Result<Vec<airlock_store::Approval>, StoreError> {
    store.expire_pending_approvals_at_startup(ms(now_ms)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approvals::{ApprovalRequest, Joined, Remember};
    use crate::clock::ManualClock;
    use crate::scope::ArgsChoice;
    use serde_json::json;

    struct Setup {
        _dir: tempfile::TempDir,
        store: Store,
        broker: Broker,
        durable: Durable,
        events: broadcast::Receiver<GateEvent>,
    }

    /// A broker over a real SQLite file, its events on a gate bus.
    fn setup() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("airlock.db")).unwrap();
        let (tx, events) = broadcast::channel(64);
        let broker = Broker::notifying(Arc::new(ManualClock::new(1_000)), gate_events(tx));
        let durable = Durable::new(store.clone(), broker.clone());
        Setup {
            _dir: dir,
            store,
            broker,
            durable,
            events,
        }
    }

    fn request() -> ApprovalRequest {
        ApprovalRequest {
            grant: "ci".into(),
            server: "pusher".into(),
            tool: "terminate_user_connections".into(),
            session_id: "s1".into(),
            client: None,
            arguments: json!({"userId": "u-42"}),
            args_hash: "h".into(),
            rule: "/tools/terminate_user_connections".into(),
            reason: None,
            timeout_ms: 600_000,
            passphrase: false,
        }
    }

    /// Files a request as the hold does; returns its waiter.
    async fn filed(s: &Setup) -> crate::approvals::Waiter {
        let Joined::Created(waiter) = s.broker.join(request(), &json!({"userId": "u-42"})) else {
            panic!("a new request");
        };
        let approval = s.broker.get(waiter.id()).unwrap();
        s.durable
            .file(&approval, &json!({"userId": "u-42"}))
            .await
            .unwrap();
        waiter
    }

    fn decision(approve: bool, remember: Remember) -> HumanDecision {
        HumanDecision {
            approve,
            remember,
            note: None,
            source: DecisionSource::Cli,
            args: ArgsChoice::Same,
        }
    }

    async fn stored_status(s: &Setup, id: &str) -> airlock_store::ApprovalStatus {
        s.store.get_approval(id).await.unwrap().unwrap().status
    }

    #[tokio::test]
    async fn a_request_is_stored_before_it_is_announced_and_a_decision_before_it_applies() {
        let mut s = setup();
        let mut waiter = filed(&s).await;
        let id = waiter.id().to_string();
        let Ok(GateEvent::Approval(announced)) = s.events.recv().await else {
            panic!("the new request is announced");
        };
        assert_eq!(announced.id, id);
        assert_eq!(
            stored_status(&s, &id).await,
            airlock_store::ApprovalStatus::Pending
        );

        let approved = s
            .durable
            .decide(&id, &decision(true, Remember::Always))
            .await
            .unwrap();
        assert_eq!(approved.status, ApprovalStatus::Approved);
        assert_eq!(waiter.settled().await, ApprovalStatus::Approved);
        let stored = s.store.get_approval(&id).await.unwrap().unwrap();
        assert_eq!(stored.status, airlock_store::ApprovalStatus::Approved);
        assert_eq!(stored.decided_by.as_deref(), Some("human"));
        assert_eq!(stored.source.as_deref(), Some("cli"));
        let rules = s.store.active_remembered(1_000).await.unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(s.broker.remembered()[0].id, rules[0].id.to_string());
        waiter.done();
    }

    #[tokio::test]
    async fn a_decision_that_loses_to_an_expiry_in_the_store_is_not_applied_and_forgets_its_rule() {
        let s = setup();
        let waiter = filed(&s).await;
        let id = waiter.id().to_string();
        // The clock's expiry has been written but not applied yet when the human approves.
        assert!(
            s.durable
                .write(&id, ApprovalStatus::Expired, 2_000, None, None)
                .await
                .unwrap()
        );
        let err = s
            .durable
            .decide(&id, &decision(true, Remember::Always))
            .await
            .unwrap_err();
        assert!(
            matches!(
                &err,
                GateError::Decide(DecideError::NotPending {
                    status: "expired",
                    ..
                })
            ),
            "{err:?}"
        );
        assert_eq!(s.broker.get(&id).unwrap().status, ApprovalStatus::Pending);
        assert!(!s.broker.claim(&id), "nothing to claim");
        assert!(s.broker.remembered().is_empty());
        assert!(s.store.active_remembered(1_000).await.unwrap().is_empty());
        // The expiry itself still applies when its writer gets to it.
        assert!(s.broker.apply_expired(&id).is_some());
        waiter.release();
    }

    #[tokio::test]
    async fn the_last_agent_leaving_is_written_as_withdrawn_then_shown() {
        let mut s = setup();
        let writer = tokio::spawn(s.durable.clone().write_withdrawals());
        let waiter = filed(&s).await;
        let id = waiter.id().to_string();
        drop(waiter);
        let withdrawn = loop {
            match s.events.recv().await.unwrap() {
                GateEvent::Approval(a) if a.status == ApprovalStatus::Withdrawn => break a,
                _ => {}
            }
        };
        assert_eq!(withdrawn.id, id);
        let stored = s.store.get_approval(&id).await.unwrap().unwrap();
        assert_eq!(stored.status, airlock_store::ApprovalStatus::Withdrawn);
        assert_eq!(stored.decided_by.as_deref(), Some("agent"));
        writer.abort();
    }

    #[tokio::test]
    async fn an_expiry_is_written_then_applied_once() {
        let clock = Arc::new(ManualClock::new(1_000));
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("airlock.db")).unwrap();
        let broker = Broker::new(clock.clone());
        let durable = Durable::new(store.clone(), broker.clone());
        let Joined::Created(mut waiter) = broker.join(request(), &json!({})) else {
            panic!("a new request");
        };
        let approval = broker.get(waiter.id()).unwrap();
        durable.file(&approval, &json!({})).await.unwrap();
        assert!(durable.expire_due().await.is_empty());
        clock.advance(600_000);
        let expired = durable.expire_due().await;
        assert_eq!(expired.len(), 1);
        assert_eq!(waiter.settled().await, ApprovalStatus::Expired);
        let stored = store.get_approval(waiter.id()).await.unwrap().unwrap();
        assert_eq!(stored.status, airlock_store::ApprovalStatus::Expired);
        assert_eq!(stored.decided_by.as_deref(), Some("timeout"));
        assert!(durable.expire(waiter.id()).await.is_none(), "once");
        waiter.done();
    }
}
