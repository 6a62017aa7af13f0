//! The broker's state machine: the requests by id and fingerprint, their status, the waiting
//! count, and the remembered rules in force.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tokio::sync::{broadcast, watch};

use crate::clock::Clock;

use super::{
    Approval, ApprovalRequest, ApprovalStatus, CallKey, DecideError, HumanDecision, RememberedRule,
    Waiter,
};

/// Something changed that a UI or a notifier wants to know.
#[derive(Debug, Clone)]
pub enum BrokerEvent {
    /// A request was created (after it was persisted) or changed status.
    Approval(Box<Approval>),
    /// A remembered rule was added or revoked.
    Remembered,
}

struct Entry {
    approval: Approval,
    /// The arguments as the agent sent them (never shown or stored: the request has the
    /// redacted copy), for checking an argument pattern the human chooses.
    arguments: Value,
    /// Watchers see every status change.
    tx: watch::Sender<ApprovalStatus>,
    /// An approved request runs once: the first caller to claim it.
    claimed: bool,
}

#[derive(Default)]
struct State {
    entries: HashMap<String, Entry>,
    /// Fingerprint -> id of the newest request with that fingerprint.
    by_fingerprint: HashMap<String, String>,
    remembered: Vec<RememberedRule>,
}

/// The broker. Cheap to clone.
#[derive(Clone)]
pub struct Broker {
    state: Arc<Mutex<State>>,
    events: broadcast::Sender<BrokerEvent>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker").finish_non_exhaustive()
    }
}

/// Result of [`Broker::join`].
#[derive(Debug)]
pub enum Joined {
    /// A new request was created: persist it, then call [`Broker::announce`].
    Created(Waiter),
    /// The caller is now waiting on an existing pending request.
    Waiting(Waiter),
    /// An identical request was already approved and not yet used: the caller has claimed it.
    Approved(Approval),
    /// An identical request was denied; the denial stands until it expires.
    Denied(Approval),
}

impl Broker {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        let (events, _) = broadcast::channel(1024);
        Broker {
            state: Arc::new(Mutex::new(State::default())),
            events,
            clock,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave it half-updated in a way that approves
        // anything, so a poisoned lock is still safe to use.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn subscribe(&self) -> broadcast::Receiver<BrokerEvent> {
        self.events.subscribe()
    }

    fn emit(&self, approval: &Approval) {
        let _ = self
            .events
            .send(BrokerEvent::Approval(Box::new(approval.clone())));
    }

    /// Joins the request for this call (`arguments` as sent), creating it when there is none.
    pub fn join(&self, request: ApprovalRequest, arguments: &Value) -> Joined {
        let now = self.clock.now_ms();
        let fingerprint = request.fingerprint();
        let mut state = self.lock();
        if let Some(id) = state.by_fingerprint.get(&fingerprint).cloned()
            && let Some(entry) = state.entries.get_mut(&id)
        {
            match entry.approval.status {
                ApprovalStatus::Pending if entry.approval.expires_ms > now => {
                    entry.approval.waiting += 1;
                    let waiter = Waiter::new(self.clone(), &id, entry.tx.subscribe());
                    let snapshot = entry.approval.clone();
                    drop(state);
                    self.emit(&snapshot);
                    return Joined::Waiting(waiter);
                }
                ApprovalStatus::Approved if !entry.claimed => {
                    entry.claimed = true;
                    return Joined::Approved(entry.approval.clone());
                }
                ApprovalStatus::Denied if entry.approval.expires_ms > now => {
                    return Joined::Denied(entry.approval.clone());
                }
                _ => {}
            }
        }
        let id = short_id();
        let (tx, rx) = watch::channel(ApprovalStatus::Pending);
        let approval = Approval {
            id: id.clone(),
            created_ms: now,
            expires_ms: now.saturating_add(request.timeout_ms),
            status: ApprovalStatus::Pending,
            request,
            waiting: 1,
            decided_ms: None,
            decided_by: None,
            note: None,
            remembered: None,
        };
        state.by_fingerprint.insert(fingerprint, id.clone());
        state.entries.insert(
            id.clone(),
            Entry {
                approval,
                arguments: arguments.clone(),
                tx,
                claimed: false,
            },
        );
        Joined::Created(Waiter::new(self.clone(), &id, rx))
    }

    /// Tells subscribers about a newly created request (after it was persisted).
    pub fn announce(&self, id: &str) {
        let snapshot = self.lock().entries.get(id).map(|e| e.approval.clone());
        if let Some(approval) = snapshot {
            self.emit(&approval);
        }
    }

    /// The arguments a request's call was made with, as sent.
    pub fn arguments(&self, id: &str) -> Option<Value> {
        self.lock().entries.get(id).map(|e| e.arguments.clone())
    }

    pub fn get(&self, id: &str) -> Option<Approval> {
        self.lock().entries.get(id).map(|e| e.approval.clone())
    }

    /// Pending requests, oldest first.
    pub fn pending(&self) -> Vec<Approval> {
        let mut list: Vec<Approval> = self
            .lock()
            .entries
            .values()
            .filter(|e| e.approval.status == ApprovalStatus::Pending)
            .map(|e| e.approval.clone())
            .collect();
        list.sort_by(|a, b| a.created_ms.cmp(&b.created_ms).then(a.id.cmp(&b.id)));
        list
    }

    /// Checks that `id` can still be decided, without changing anything.
    pub fn check_pending(&self, id: &str) -> Result<Approval, DecideError> {
        let state = self.lock();
        let entry = state
            .entries
            .get(id)
            .ok_or_else(|| DecideError::NotFound(id.to_string()))?;
        if entry.approval.status != ApprovalStatus::Pending {
            return Err(DecideError::NotPending {
                id: id.to_string(),
                status: entry.approval.status.as_str(),
            });
        }
        Ok(entry.approval.clone())
    }

    /// Applies a human decision (already persisted by the caller) and, when given, the remembered
    /// rule it creates (see [`remembered_rule`]; persisted first too, so it has its store id).
    pub fn decide(
        &self,
        id: &str,
        decision: &HumanDecision,
        rule: Option<RememberedRule>,
    ) -> Result<Approval, DecideError> {
        let now = self.clock.now_ms();
        let mut state = self.lock();
        let entry = state
            .entries
            .get_mut(id)
            .ok_or_else(|| DecideError::NotFound(id.to_string()))?;
        if entry.approval.status != ApprovalStatus::Pending {
            return Err(DecideError::NotPending {
                id: id.to_string(),
                status: entry.approval.status.as_str(),
            });
        }
        let status = if decision.approve {
            ApprovalStatus::Approved
        } else {
            ApprovalStatus::Denied
        };
        entry.approval.status = status;
        entry.approval.decided_ms = Some(now);
        entry.approval.decided_by = Some(decision.source);
        entry.approval.note = decision.note.clone();
        entry.approval.remembered = rule.as_ref().map(RememberedRule::describe);
        if !decision.approve {
            // A denial answers retries for as long as the request would have waited.
            entry.approval.expires_ms = entry.approval.expires_ms.max(now + 60_000);
        }
        entry.tx.send_replace(status);
        let approval = entry.approval.clone();
        let remembered = rule.is_some();
        if let Some(rule) = rule {
            state.remembered.push(rule);
        }
        drop(state);
        self.emit(&approval);
        if remembered {
            let _ = self.events.send(BrokerEvent::Remembered);
        }
        Ok(approval)
    }

    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// The caller that saw `Approved` on its waiter claims the single run. False when another
    /// identical call got there first.
    pub fn claim(&self, id: &str) -> bool {
        let mut state = self.lock();
        match state.entries.get_mut(id) {
            Some(entry) if entry.approval.status == ApprovalStatus::Approved && !entry.claimed => {
                entry.claimed = true;
                true
            }
            _ => false,
        }
    }

    /// Expires every pending request whose time is up. Returns the expired ones.
    pub fn expire_due(&self) -> Vec<Approval> {
        let now = self.clock.now_ms();
        let mut expired = Vec::new();
        let mut state = self.lock();
        for entry in state.entries.values_mut() {
            if entry.approval.status == ApprovalStatus::Pending && entry.approval.expires_ms <= now
            {
                entry.approval.status = ApprovalStatus::Expired;
                entry.approval.decided_ms = Some(now);
                entry.tx.send_replace(ApprovalStatus::Expired);
                expired.push(entry.approval.clone());
            }
        }
        // Forget settled requests nobody can join any more.
        let State {
            entries,
            by_fingerprint,
            ..
        } = &mut *state;
        entries.retain(|_, e| {
            let settled = match e.approval.status {
                ApprovalStatus::Pending => false,
                ApprovalStatus::Approved => e.claimed && e.approval.waiting == 0,
                ApprovalStatus::Denied => e.approval.expires_ms <= now && e.approval.waiting == 0,
                ApprovalStatus::Expired | ApprovalStatus::Withdrawn => e.approval.waiting == 0,
            };
            // Keep settled entries a little while so the UI and late retries can still see them.
            !(settled && now.saturating_sub(e.approval.decided_ms.unwrap_or(now)) > 300_000)
        });
        by_fingerprint.retain(|_, id| entries.contains_key(id));
        drop(state);
        for approval in &expired {
            self.emit(approval);
        }
        expired
    }

    /// Expires one pending request now (its holder waited until its expiry). Returns it when it
    /// was still pending.
    pub fn expire(&self, id: &str) -> Option<Approval> {
        let now = self.clock.now_ms();
        let mut state = self.lock();
        let entry = state.entries.get_mut(id)?;
        if entry.approval.status != ApprovalStatus::Pending {
            return None;
        }
        entry.approval.status = ApprovalStatus::Expired;
        entry.approval.decided_ms = Some(now);
        entry.tx.send_replace(ApprovalStatus::Expired);
        let snapshot = entry.approval.clone();
        drop(state);
        self.emit(&snapshot);
        Some(snapshot)
    }

    /// The remembered decision that applies to this call, if any. A deny wins over an approve.
    pub fn remembered_for(&self, call: &CallKey<'_>) -> Option<RememberedRule> {
        let now = self.clock.now_ms();
        let state = self.lock();
        let mut found: Option<&RememberedRule> = None;
        for rule in state.remembered.iter().filter(|r| r.matches(call, now)) {
            if !rule.approve {
                return Some(rule.clone());
            }
            found.get_or_insert(rule);
        }
        found.cloned()
    }

    /// Remembered rules still in force.
    pub fn remembered(&self) -> Vec<RememberedRule> {
        let now = self.clock.now_ms();
        self.lock()
            .remembered
            .iter()
            .filter(|r| r.expires_ms.is_none_or(|t| now < t))
            .cloned()
            .collect()
    }

    /// Loads rules persisted by an earlier run.
    pub fn restore_remembered(&self, rules: Vec<RememberedRule>) {
        self.lock().remembered = rules;
    }

    /// Forgets the "this session" rules of a session that ended: they can never match again.
    pub fn session_ended(&self, session_id: &str) {
        let mut state = self.lock();
        let before = state.remembered.len();
        state
            .remembered
            .retain(|r| r.session_id.as_deref() != Some(session_id));
        let changed = state.remembered.len() != before;
        drop(state);
        if changed {
            let _ = self.events.send(BrokerEvent::Remembered);
        }
    }

    /// Revokes a remembered rule. False when there is none with that id.
    pub fn revoke(&self, id: &str) -> bool {
        let mut state = self.lock();
        let before = state.remembered.len();
        state.remembered.retain(|r| r.id != id);
        let changed = state.remembered.len() != before;
        drop(state);
        if changed {
            let _ = self.events.send(BrokerEvent::Remembered);
        }
        changed
    }

    pub(super) fn leave(&self, id: &str, withdraw_if_last: bool) {
        let now = self.clock.now_ms();
        let mut state = self.lock();
        let Some(entry) = state.entries.get_mut(id) else {
            return;
        };
        entry.approval.waiting = entry.approval.waiting.saturating_sub(1);
        if withdraw_if_last
            && entry.approval.waiting == 0
            && entry.approval.status == ApprovalStatus::Pending
        {
            entry.approval.status = ApprovalStatus::Withdrawn;
            entry.approval.decided_ms = Some(now);
            entry.tx.send_replace(ApprovalStatus::Withdrawn);
        }
        let snapshot = entry.approval.clone();
        drop(state);
        self.emit(&snapshot);
    }
}

/// A short random id that is easy to read out and type (`airlock approve 7f3a9c2e`).
fn short_id() -> String {
    let bytes: [u8; 5] = rand::random();
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approvals::{DecisionSource, Remember, remembered_rule};
    use crate::clock::ManualClock;
    use crate::identity::ClientInfo;
    use crate::scope::{ArgsChoice, ScopeError};

    fn request(args_hash: &str) -> ApprovalRequest {
        ApprovalRequest {
            grant: "default".into(),
            server: "pusher".into(),
            tool: "terminate_user_connections".into(),
            session_id: "s1".into(),
            client: None,
            arguments: serde_json::json!({"userId": "u-42"}),
            args_hash: args_hash.into(),
            rule: "/tools/terminate_user_connections".into(),
            reason: None,
            timeout_ms: 600_000,
            passphrase: false,
        }
    }

    /// Decides like the gate does: builds the remembered rule, gives it an id, applies both.
    fn decide(
        broker: &Broker,
        id: &str,
        decision: &HumanDecision,
    ) -> Result<(Approval, Option<RememberedRule>), DecideError> {
        let current = broker.check_pending(id)?;
        let rule = remembered_rule(&current, decision, &serde_json::json!({}), broker.now_ms())?
            .map(|mut r| {
                r.id = format!("r-{id}");
                r
            });
        let approval = broker.decide(id, decision, rule.clone())?;
        Ok((approval, rule))
    }

    fn approve(remember: Remember) -> HumanDecision {
        HumanDecision {
            approve: true,
            remember,
            note: None,
            source: DecisionSource::Api,
            args: ArgsChoice::Same,
        }
    }

    fn created(joined: Joined) -> Waiter {
        match joined {
            Joined::Created(w) => w,
            other => panic!("expected a new request, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn identical_calls_join_one_request_and_an_approval_runs_once() {
        let broker = Broker::new(Arc::new(ManualClock::new(1_000)));
        let mut first = created(broker.join(request("h"), &serde_json::json!({})));
        let Joined::Waiting(mut second) = broker.join(request("h"), &serde_json::json!({})) else {
            panic!("second identical call must join");
        };
        assert_eq!(first.id(), second.id());
        assert_eq!(broker.pending().len(), 1);
        assert_eq!(broker.pending()[0].waiting, 2);

        decide(&broker, first.id(), &approve(Remember::Once)).unwrap();
        assert_eq!(first.settled().await, ApprovalStatus::Approved);
        assert_eq!(second.settled().await, ApprovalStatus::Approved);
        assert!(broker.claim(first.id()));
        assert!(!broker.claim(second.id()), "an approval runs exactly once");
        first.done();
        second.done();
    }

    #[tokio::test]
    async fn a_retry_after_the_hold_picks_up_the_approval() {
        let broker = Broker::new(Arc::new(ManualClock::new(1_000)));
        let waiter = created(broker.join(request("h"), &serde_json::json!({})));
        let id = waiter.id().to_string();
        waiter.release();
        assert_eq!(
            broker.pending().len(),
            1,
            "the hold ending leaves the request pending"
        );
        decide(&broker, &id, &approve(Remember::Once)).unwrap();
        match broker.join(request("h"), &serde_json::json!({})) {
            Joined::Approved(a) => assert_eq!(a.id, id),
            other => panic!("expected the approval, got {other:?}"),
        }
        // Used once: the next identical call asks again.
        assert!(matches!(
            broker.join(request("h"), &serde_json::json!({})),
            Joined::Created(_)
        ));
    }

    #[tokio::test]
    async fn the_last_waiter_withdrawing_withdraws_the_request() {
        let broker = Broker::new(Arc::new(ManualClock::new(1_000)));
        let waiter = created(broker.join(request("h"), &serde_json::json!({})));
        let id = waiter.id().to_string();
        drop(waiter);
        assert_eq!(broker.get(&id).unwrap().status, ApprovalStatus::Withdrawn);
        assert_eq!(
            decide(&broker, &id, &approve(Remember::Once)).unwrap_err(),
            (DecideError::NotPending {
                id: id.clone(),
                status: "withdrawn"
            })
        );
    }

    #[tokio::test]
    async fn a_waiter_left_behind_keeps_the_request_when_another_withdraws() {
        let broker = Broker::new(Arc::new(ManualClock::new(1_000)));
        let first = created(broker.join(request("h"), &serde_json::json!({})));
        let Joined::Waiting(second) = broker.join(request("h"), &serde_json::json!({})) else {
            panic!("must join");
        };
        drop(first);
        assert_eq!(broker.pending().len(), 1);
        drop(second);
        assert!(broker.pending().is_empty());
    }

    #[tokio::test]
    async fn timeouts_expire_and_never_approve() {
        let clock = Arc::new(ManualClock::new(1_000));
        let broker = Broker::new(clock.clone());
        let mut waiter = created(broker.join(request("h"), &serde_json::json!({})));
        assert!(broker.expire_due().is_empty());
        clock.advance(600_000);
        let expired = broker.expire_due();
        assert_eq!(expired.len(), 1);
        assert_eq!(waiter.settled().await, ApprovalStatus::Expired);
        assert!(!broker.claim(waiter.id()));
    }

    #[tokio::test]
    async fn a_denial_answers_retries() {
        let broker = Broker::new(Arc::new(ManualClock::new(1_000)));
        let waiter = created(broker.join(request("h"), &serde_json::json!({})));
        let id = waiter.id().to_string();
        waiter.release();
        let deny = HumanDecision {
            approve: false,
            remember: Remember::Once,
            note: Some("not today".into()),
            source: DecisionSource::Cli,
            args: ArgsChoice::Same,
        };
        decide(&broker, &id, &deny).unwrap();
        match broker.join(request("h"), &serde_json::json!({})) {
            Joined::Denied(a) => assert_eq!(a.note.as_deref(), Some("not today")),
            other => panic!("expected the denial, got {other:?}"),
        }
    }

    fn key<'a>(client: &'a str, session_id: &'a str, args_hash: &'a str) -> CallKey<'a> {
        static NO_ARGS: Value = Value::Null;
        CallKey {
            grant: "default",
            server: "pusher",
            tool: "terminate_user_connections",
            session_id,
            client,
            args_hash,
            arguments: &NO_ARGS,
        }
    }

    fn tokenless(client: &str, session: &str, args_hash: &str) -> ApprovalRequest {
        ApprovalRequest {
            client: Some(ClientInfo {
                name: client.into(),
                version: Some("1.0".into()),
            }),
            session_id: session.into(),
            ..request(args_hash)
        }
    }

    #[test]
    fn a_timed_rule_covers_this_client_tool_and_arguments_and_expires() {
        let clock = Arc::new(ManualClock::new(1_000));
        let broker = Broker::new(clock.clone());
        let waiter = created(broker.join(tokenless("py", "s1", "h"), &Value::Null));
        let id = waiter.id().to_string();
        waiter.release();
        let (approval, rule) = decide(&broker, &id, &approve(Remember::Minutes(10))).unwrap();
        let rule = rule.unwrap();
        assert_eq!(rule.client.as_deref(), Some("py"));
        assert_eq!(
            approval.remembered.as_deref(),
            Some(
                "approve `terminate_user_connections` on `pusher` for any tokenless agent that \
                 says it is `py`, with these arguments only, for 10 min"
            )
        );
        let same = key("py", "another-session", "h");
        assert_eq!(broker.remembered_for(&same), Some(rule.clone()));
        assert!(
            broker.remembered_for(&key("ts", "s1", "h")).is_none(),
            "another client"
        );
        assert!(
            broker.remembered_for(&key("py", "s1", "other")).is_none(),
            "other arguments"
        );
        assert!(
            broker
                .remembered_for(&CallKey {
                    grant: "ci",
                    ..same
                })
                .is_none()
        );
        clock.advance(10 * 60_000);
        assert!(
            broker.remembered_for(&same).is_none(),
            "expired after 10 minutes"
        );
        assert!(broker.remembered().is_empty());
    }

    #[test]
    fn any_arguments_is_chosen_explicitly_and_only_with_a_remembered_decision() {
        let broker = Broker::new(Arc::new(ManualClock::new(1_000)));
        let waiter = created(broker.join(tokenless("py", "s1", "h"), &Value::Null));
        let id = waiter.id().to_string();
        waiter.release();
        let once_any = HumanDecision {
            args: ArgsChoice::Any,
            ..approve(Remember::Once)
        };
        assert!(matches!(
            decide(&broker, &id, &once_any),
            Err(DecideError::Scope(ScopeError::OnceWidened))
        ));
        let always_any = HumanDecision {
            args: ArgsChoice::Any,
            ..approve(Remember::Always)
        };
        let (approval, _) = decide(&broker, &id, &always_any).unwrap();
        assert!(
            approval
                .remembered
                .unwrap()
                .contains("with any arguments, until revoked")
        );
        assert!(broker.remembered_for(&key("py", "s9", "other")).is_some());
        assert!(broker.remembered_for(&key("ts", "s9", "other")).is_none());
    }

    #[test]
    fn two_tokenless_programs_never_share_a_request_but_a_retry_does() {
        let broker = Broker::new(Arc::new(ManualClock::new(1_000)));
        let _first = created(broker.join(tokenless("py", "s1", "h"), &Value::Null));
        let _second = created(broker.join(tokenless("ts", "s2", "h"), &Value::Null));
        assert_eq!(broker.pending().len(), 2);
        let Joined::Waiting(_retry) = broker.join(tokenless("py", "s3", "h"), &Value::Null) else {
            panic!("the same program's retry from a new session joins its request");
        };
    }

    #[test]
    fn session_rules_only_match_their_session_and_deny_wins() {
        let broker = Broker::new(Arc::new(ManualClock::new(1_000)));
        let w = created(broker.join(request("h"), &Value::Null));
        let id = w.id().to_string();
        w.release();
        let (_, rule) = decide(&broker, &id, &approve(Remember::Session)).unwrap();
        assert_eq!(rule.unwrap().client, None, "the session is the identity");
        let in_session = key("", "s1", "h");
        assert!(broker.remembered_for(&in_session).unwrap().approve);
        assert!(broker.remembered_for(&key("", "s2", "h")).is_none());

        let w = created(broker.join(request("other"), &Value::Null));
        let id = w.id().to_string();
        w.release();
        let deny_always = HumanDecision {
            approve: false,
            remember: Remember::Always,
            note: None,
            source: DecisionSource::Window,
            args: ArgsChoice::Any,
        };
        let (_, rule) = decide(&broker, &id, &deny_always).unwrap();
        assert!(
            !broker.remembered_for(&in_session).unwrap().approve,
            "deny wins"
        );
        assert!(broker.revoke(&rule.unwrap().id));
        assert!(broker.remembered_for(&in_session).unwrap().approve);
    }

    #[test]
    fn a_session_rule_is_forgotten_when_its_session_ends() {
        let broker = Broker::new(Arc::new(ManualClock::new(1_000)));
        let w = created(broker.join(request("h"), &Value::Null));
        let id = w.id().to_string();
        w.release();
        decide(&broker, &id, &approve(Remember::Session)).unwrap();
        assert_eq!(broker.remembered().len(), 1);
        broker.session_ended("another");
        assert_eq!(broker.remembered().len(), 1);
        broker.session_ended("s1");
        assert!(broker.remembered().is_empty());
        assert!(broker.remembered_for(&key("", "s1", "h")).is_none());
    }
}
