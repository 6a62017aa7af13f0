//! The broker's state machine, in memory: the requests by id and fingerprint, their status, the
//! agents waiting, and the remembered rules in force.
//!
//! The broker never decides when a status changes: it applies a change the caller has already
//! written to the store (`approvals/durable.rs`, the only writer of approval status). What it
//! does by itself is bookkeeping that is not a status: who waits, who claimed an approval, and
//! marking a request whose last agent left as *withdrawing*, so nobody joins or decides it while
//! its withdrawal is written.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tokio::sync::{mpsc, watch};

use crate::clock::Clock;

use super::{
    Approval, ApprovalRequest, ApprovalStatus, DecideError, HumanDecision, RememberedRule, Waiter,
};

/// Something changed that a UI or a notifier wants to know.
#[derive(Debug, Clone)]
pub enum BrokerEvent {
    /// A request was created (after it was persisted), changed status, or its waiting count.
    Approval(Box<Approval>),
    /// A remembered rule was added or revoked.
    Remembered,
}

/// Where the broker's events go (see `durable::gate_events`); called outside the broker's lock
/// and must not block.
pub type Notify = Arc<dyn Fn(BrokerEvent) + Send + Sync>;

/// How long a settled request stays visible (to the UI and to late retries) before it is
/// forgotten.
const KEEP_SETTLED_MS: u64 = 300_000;

/// How long a denial answers identical retries at least.
const DENIAL_STANDS_MS: u64 = 60_000;

struct Entry {
    approval: Approval,
    /// The arguments as the agent sent them (never shown or stored: the request has the
    /// redacted copy), for checking an argument pattern the human chooses.
    arguments: Value,
    /// Watchers see every status change.
    tx: watch::Sender<ApprovalStatus>,
    /// An approved request runs once: the first caller to claim it.
    claimed: bool,
    /// The last agent left a pending request: its withdrawal is being written. It can no longer
    /// be joined or decided; it is still `Pending` until the write is applied.
    withdrawing: bool,
}

impl Entry {
    /// Pending and open to joining and deciding.
    fn open(&self) -> bool {
        self.approval.status == ApprovalStatus::Pending && !self.withdrawing
    }

    /// Moves to `status` (already persisted) and wakes the waiters.
    fn settle(&mut self, status: ApprovalStatus, now: u64) {
        self.approval.status = status;
        self.approval.decided_ms = Some(now);
        self.tx.send_replace(status);
    }
}

#[derive(Default)]
pub(super) struct State {
    entries: HashMap<String, Entry>,
    /// Fingerprint -> id of the newest request with that fingerprint.
    by_fingerprint: HashMap<String, String>,
    pub(super) remembered: Vec<RememberedRule>,
}

/// The broker. Cheap to clone.
#[derive(Clone)]
pub struct Broker {
    state: Arc<Mutex<State>>,
    notify: Notify,
    /// Ids of requests whose last agent left; `durable` writes each withdrawal, then applies it.
    withdrawals: mpsc::UnboundedSender<String>,
    withdrawn_rx: Arc<Mutex<Option<mpsc::UnboundedReceiver<String>>>>,
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
    /// A broker that tells nobody about its changes (tests of the state machine).
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Broker::notifying(clock, Arc::new(|_| {}))
    }

    /// A broker whose changes go to `notify`.
    pub fn notifying(clock: Arc<dyn Clock>, notify: Notify) -> Self {
        let (withdrawals, rx) = mpsc::unbounded_channel();
        Broker {
            state: Arc::new(Mutex::new(State::default())),
            notify,
            withdrawals,
            withdrawn_rx: Arc::new(Mutex::new(Some(rx))),
            clock,
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave it half-updated in a way that approves
        // anything, so a poisoned lock is still safe to use.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The ids of withdrawn requests, for the one task that writes them (taken once).
    pub(super) fn take_withdrawals(&self) -> Option<mpsc::UnboundedReceiver<String>> {
        self.withdrawn_rx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    fn emit(&self, approval: &Approval) {
        (self.notify)(BrokerEvent::Approval(Box::new(approval.clone())));
    }

    pub(super) fn emit_remembered(&self) {
        (self.notify)(BrokerEvent::Remembered);
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
                ApprovalStatus::Pending if entry.open() && entry.approval.expires_ms > now => {
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
                withdrawing: false,
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

    /// Requests a human can still decide, oldest first.
    pub fn pending(&self) -> Vec<Approval> {
        let mut list: Vec<Approval> = self
            .lock()
            .entries
            .values()
            .filter(|e| e.open())
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
        if !entry.open() {
            return Err(not_pending(entry));
        }
        Ok(entry.approval.clone())
    }

    /// Applies a human decision (already persisted) and, when given, the remembered rule it
    /// creates (see [`super::remembered_rule`]; persisted first too, so it has its store id).
    /// Only `durable` calls it, after the store accepted the decision, so it applies whatever
    /// the request's state in memory (a withdrawal that lost to it in the store is not applied).
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
            return Err(not_pending(entry));
        }
        let status = if decision.approve {
            ApprovalStatus::Approved
        } else {
            ApprovalStatus::Denied
        };
        entry.withdrawing = false;
        entry.approval.decided_by = Some(decision.source);
        entry.approval.note = decision.note.clone();
        entry.approval.remembered = rule.as_ref().map(RememberedRule::describe);
        if !decision.approve {
            // A denial answers retries for as long as the request would have waited.
            entry.approval.expires_ms = entry.approval.expires_ms.max(now + DENIAL_STANDS_MS);
        }
        entry.settle(status, now);
        let approval = entry.approval.clone();
        let remembered = rule.is_some();
        if let Some(rule) = rule {
            state.remembered.push(rule);
        }
        drop(state);
        self.emit(&approval);
        if remembered {
            self.emit_remembered();
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

    /// The pending requests whose time is up (to be expired by `durable`), after forgetting
    /// settled requests nobody can join any more.
    pub fn due(&self) -> Vec<String> {
        let now = self.clock.now_ms();
        let mut state = self.lock();
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
            !(settled && now.saturating_sub(e.approval.decided_ms.unwrap_or(now)) > KEEP_SETTLED_MS)
        });
        by_fingerprint.retain(|_, id| entries.contains_key(id));
        entries
            .values()
            // A withdrawing request belongs to its withdrawal's writer: expiring it too would
            // give it a second ending in history.
            .filter(|e| e.open() && e.approval.expires_ms <= now)
            .map(|e| e.approval.id.clone())
            .collect()
    }

    /// Applies an expiry (already persisted). Returns the request when it was still pending.
    pub fn apply_expired(&self, id: &str) -> Option<Approval> {
        self.apply_settled(id, ApprovalStatus::Expired)
    }

    /// Applies a withdrawal (already persisted). Returns the request when it was still pending.
    pub fn apply_withdrawn(&self, id: &str) -> Option<Approval> {
        self.apply_settled(id, ApprovalStatus::Withdrawn)
    }

    fn apply_settled(&self, id: &str, status: ApprovalStatus) -> Option<Approval> {
        let now = self.clock.now_ms();
        let mut state = self.lock();
        let entry = state.entries.get_mut(id)?;
        if entry.approval.status != ApprovalStatus::Pending {
            return None;
        }
        entry.withdrawing = false;
        entry.settle(status, now);
        let snapshot = entry.approval.clone();
        drop(state);
        self.emit(&snapshot);
        Some(snapshot)
    }

    /// An agent stops waiting. When it withdrew and was the last one on a request still open,
    /// the request is marked withdrawing and handed to `durable`, which writes the withdrawal and
    /// then applies it.
    pub(super) fn leave(&self, id: &str, withdraw_if_last: bool) {
        let mut state = self.lock();
        let Some(entry) = state.entries.get_mut(id) else {
            return;
        };
        entry.approval.waiting = entry.approval.waiting.saturating_sub(1);
        let withdraw = withdraw_if_last && entry.approval.waiting == 0 && entry.open();
        if withdraw {
            entry.withdrawing = true;
        }
        let snapshot = entry.approval.clone();
        drop(state);
        if withdraw && self.withdrawals.send(snapshot.id.clone()).is_err() {
            // Nobody writes withdrawals (a broker without `durable`): the request stays
            // withdrawing, which no one can join or decide, until it expires.
            tracing::debug!(id = %snapshot.id, "no writer for a withdrawal");
        }
        self.emit(&snapshot);
    }
}

fn not_pending(entry: &Entry) -> DecideError {
    DecideError::NotPending {
        id: entry.approval.id.clone(),
        status: if entry.withdrawing {
            ApprovalStatus::Withdrawn.as_str()
        } else {
            entry.approval.status.as_str()
        },
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
    use crate::approvals::{CallKey, DecisionSource, Remember, remembered_rule};
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
    async fn the_last_waiter_withdrawing_hands_the_request_over_to_be_withdrawn() {
        let clock = Arc::new(ManualClock::new(1_000));
        let broker = Broker::new(clock.clone());
        let mut withdrawals = broker.take_withdrawals().unwrap();
        let waiter = created(broker.join(request("h"), &serde_json::json!({})));
        let id = waiter.id().to_string();
        drop(waiter);
        // Not withdrawn until the withdrawal is written, but nobody can decide or join it.
        assert_eq!(broker.get(&id).unwrap().status, ApprovalStatus::Pending);
        assert_eq!(withdrawals.try_recv().unwrap(), id);
        assert!(broker.pending().is_empty());
        assert_eq!(
            decide(&broker, &id, &approve(Remember::Once)).unwrap_err(),
            (DecideError::NotPending {
                id: id.clone(),
                status: "withdrawn"
            })
        );
        let again = created(broker.join(request("h"), &serde_json::json!({})));
        assert_ne!(
            again.id(),
            id,
            "an identical call files a request of its own"
        );
        clock.advance(600_000);
        assert_eq!(
            broker.due(),
            vec![again.id().to_string()],
            "the withdrawing request is not expired as well"
        );
        assert_eq!(
            broker.apply_withdrawn(&id).unwrap().status,
            ApprovalStatus::Withdrawn
        );
        assert!(broker.apply_withdrawn(&id).is_none(), "applied once");
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
        assert!(broker.due().is_empty());
        clock.advance(600_000);
        assert_eq!(broker.due(), vec![waiter.id().to_string()]);
        assert!(broker.apply_expired(waiter.id()).is_some());
        assert!(broker.due().is_empty());
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
