//! Remembered decisions: what a human asked Airlock to apply to later calls too, and the rule a
//! decision creates. What each covers (who, which arguments) is `crate::scope`; the broker in
//! `crate::approvals` keeps the rules and looks them up for each call.

use serde::Serialize;
use serde_json::Value;

use crate::approvals::{Approval, Broker, HumanDecision, Remember};
use crate::identity::{client_key, is_tokenless};
use crate::scope::{ArgMatch, ArgsChoice, ScopeError, describe, describe_duration, describe_who};

/// A human decision that applies to later calls too.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RememberedRule {
    pub id: String,
    pub grant: String,
    pub server: String,
    pub tool: String,
    /// For a tokenless agent's timed or "always" rule: the declared client name it covers (`""`
    /// for a client that declared none). `None` covers every client of `grant` (grant agents, and
    /// deny rules kept from before scopes existed).
    pub client: Option<String>,
    /// Which arguments match.
    pub args: ArgMatch,
    /// When set, only calls from this agent session match.
    pub session_id: Option<String>,
    pub approve: bool,
    pub note: Option<String>,
    pub created_ms: u64,
    pub expires_ms: Option<u64>,
    /// The request whose decision created it.
    pub approval_id: String,
}

impl RememberedRule {
    pub(crate) fn matches(&self, call: &CallKey<'_>, now_ms: u64) -> bool {
        self.grant == call.grant
            && self.server == call.server
            && self.tool == call.tool
            && self.client.as_deref().is_none_or(|c| c == call.client)
            && self.args.matches(call.arguments, call.args_hash)
            && self
                .session_id
                .as_deref()
                .is_none_or(|s| s == call.session_id)
            && self.expires_ms.is_none_or(|t| now_ms < t)
    }

    /// The agent it covers, in words.
    pub fn who(&self) -> String {
        match &self.client {
            Some(client) => describe_who(
                &self.grant,
                Some(client.as_str()),
                self.session_id.is_some(),
            ),
            None if is_tokenless(&self.grant) && self.session_id.is_none() => {
                "every agent without a token".to_owned()
            }
            None => describe_who(&self.grant, None, self.session_id.is_some()),
        }
    }

    /// What it covers, in one sentence: "approve `x` on `y` for grant `ci`, with these arguments
    /// only, until revoked". A timed rule says how long it was made for; when it ends is
    /// `expires_ms`, which each surface shows in its own clock.
    pub fn describe(&self) -> String {
        let duration = match (self.expires_ms, &self.session_id) {
            (Some(t), _) => {
                let minutes = t.saturating_sub(self.created_ms).div_ceil(60_000);
                describe_duration(Remember::Minutes(
                    u32::try_from(minutes).unwrap_or(u32::MAX),
                ))
            }
            (None, Some(_)) => describe_duration(Remember::Session),
            (None, None) => describe_duration(Remember::Always),
        };
        describe(
            self.approve,
            &self.who(),
            &self.server,
            &self.tool,
            &self.args,
            &duration,
        )
    }
}

/// The parts of a call that remembered rules match on.
#[derive(Debug, Clone, Copy)]
pub struct CallKey<'a> {
    pub grant: &'a str,
    pub server: &'a str,
    pub tool: &'a str,
    pub session_id: &'a str,
    /// The declared client name (`""` when none), see [`client_key`].
    pub client: &'a str,
    pub args_hash: &'a str,
    /// The arguments as the agent sent them (for argument patterns).
    pub arguments: &'a Value,
}

/// The rule a decision asks to remember, if any. `id` is left empty for the caller to fill in
/// (with the store's id) before passing it to [`Broker::decide`].
///
/// `arguments` are the call's arguments as the agent sent them (the request keeps only a
/// redacted copy): an argument pattern is checked against them. The rule covers the agent's
/// identity (see `crate::scope`), the server, the tool and the arguments chosen.
pub fn remembered_rule(
    approval: &Approval,
    decision: &HumanDecision,
    arguments: &Value,
    now: u64,
) -> Result<Option<RememberedRule>, ScopeError> {
    let request = &approval.request;
    let (expires_ms, session_id) = match decision.remember {
        Remember::Once if decision.args == ArgsChoice::Same => return Ok(None),
        Remember::Once => return Err(ScopeError::OnceWidened),
        Remember::Minutes(m) => (Some(now + u64::from(m) * 60_000), None),
        Remember::Session => (None, Some(request.session_id.clone())),
        Remember::Always => (None, None),
    };
    let args = ArgMatch::from_choice(&decision.args, arguments, &request.args_hash)?;
    // A tokenless agent's session is its identity for "this session"; otherwise its declared
    // client name is all that tells it from other tokenless agents.
    let client = (is_tokenless(&request.grant) && session_id.is_none())
        .then(|| client_key(request.client_name()).to_owned());
    Ok(Some(RememberedRule {
        id: String::new(),
        grant: request.grant.clone(),
        server: request.server.clone(),
        tool: request.tool.clone(),
        client,
        args,
        session_id,
        approve: decision.approve,
        note: decision.note.clone(),
        created_ms: now,
        expires_ms,
        approval_id: approval.id.clone(),
    }))
}

/// The broker's remembered rules: matched on every call that would ask a human.
impl Broker {
    /// The remembered decision that applies to this call, if any. A deny wins over an approve.
    pub fn remembered_for(&self, call: &CallKey<'_>) -> Option<RememberedRule> {
        let now = self.now_ms();
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
        let now = self.now_ms();
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
            self.emit_remembered();
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
            self.emit_remembered();
        }
        changed
    }
}
