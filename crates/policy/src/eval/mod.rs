//! Pure evaluation of one `tools/call` against a policy.
//!
//! Order (DESIGN.md; grants are checked by the gate before this):
//! hide -> tool listed or `default` -> `action: deny` -> `require` -> `deny_if` ->
//! remembered human decision (deny stops; approve skips the approval step) ->
//! `approve_if` / `action: require_approval` -> limits (checked before asking a
//! human, so nobody is asked about a call that would be refused anyway).
//!
//! Fail closed: a condition that cannot be decided (a numeric op on a non-number,
//! a regex on a non-string, a path op on a path that cannot be normalized) denies in
//! `require` and `deny_if`, and asks a human in `approve_if`. A missing path makes
//! every op but `exists` false (Intercept's rule): a failed `require`, a `deny_if`
//! that does not fire. A spend limit whose
//! `increment_from` argument is missing, negative or not a number denies.
//!
//! The result names the rule that decided as a JSON Pointer into the policy, and a
//! message written for the agent.

use serde::Serialize;
use serde_json::Value;

use crate::Policy;
use crate::counters::{CounterView, LimitUse};
use crate::model::{DefaultAction, ToolAction};
use crate::paths::PathContext;

mod conditions;
mod limits;

use conditions::{Each, Outcome, describe, test};
use limits::{Pending, finish};

/// Who is calling what.
#[derive(Debug, Clone, Copy)]
pub struct CallFacts<'a> {
    /// The grant (agent identity) name.
    pub grant: &'a str,
    /// The agent session id.
    pub session: &'a str,
    /// The upstream server name.
    pub server: &'a str,
    /// The tool name.
    pub tool: &'a str,
    /// The call's `arguments` (an object, or null when absent).
    pub args: &'a Value,
}

/// What a human decided earlier for calls like this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RememberedDecision {
    /// Skip the approval step (conditions and limits still apply).
    Approve,
    /// Deny without asking.
    Deny,
}

/// A remembered human decision that matches this call, found by the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Remembered {
    /// Approve or deny.
    pub decision: RememberedDecision,
    /// The remembered rule's id, so the message can name it.
    pub id: String,
    /// A note from the human, passed to the agent on deny.
    pub note: Option<String>,
}

/// Why a call was denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DenyKind {
    /// The tool is in `hide`.
    Hidden,
    /// Not listed and `default` is `deny`.
    Default,
    /// `action: deny`.
    Action,
    /// A `require` condition did not hold.
    Require,
    /// A `deny_if` condition held (or could not be decided).
    DenyIf,
    /// A remembered human denial.
    Remembered,
    /// A limit is full, or a spend amount is unusable.
    #[serde(rename = "rate_limit")]
    Limit,
}

impl DenyKind {
    /// The kind's name as history stores it and the agent's `_meta` shows it (the serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            DenyKind::Hidden => "hidden",
            DenyKind::Default => "default",
            DenyKind::Action => "action",
            DenyKind::Require => "require",
            DenyKind::DenyIf => "deny_if",
            DenyKind::Remembered => "remembered",
            DenyKind::Limit => "rate_limit",
        }
    }
}

/// The decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "decision")]
pub enum Verdict {
    /// Forward the call (after reserving `limit_uses`).
    Allow,
    /// Refuse the call.
    Deny {
        /// Which kind of rule refused.
        kind: DenyKind,
        /// For full limits: when the call would fit again.
        retry_after_ms: Option<u64>,
    },
    /// Ask a human (after reserving `limit_uses`).
    RequireApproval {
        /// The tool's `approval_timeout`, if set; else the caller's default.
        timeout_ms: Option<u64>,
    },
}

/// The outcome of [`evaluate`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    /// The decision.
    #[serde(flatten)]
    pub verdict: Verdict,
    /// JSON Pointer of the deciding rule (`/tools/x/deny_if/0`), or `(default)`,
    /// `(hidden)`, `(remembered)`.
    pub rule: String,
    /// Text for the agent (and the history).
    pub message: String,
    /// The tool's `reason`, for the human who approves.
    pub reason: Option<String>,
    /// Limits to reserve before forwarding or asking; empty on deny.
    pub limit_uses: Vec<LimitUse>,
}

/// Special rule names for decisions no single policy entry made.
pub const RULE_DEFAULT: &str = "(default)";
/// The tool is hidden.
pub const RULE_HIDDEN: &str = "(hidden)";
/// A remembered human decision decided.
pub const RULE_REMEMBERED: &str = "(remembered)";

fn deny(kind: DenyKind, rule: String, text: &str) -> Evaluation {
    let message = if rule.starts_with('/') {
        format!("Denied by policy: {text} (rule {rule})")
    } else {
        format!("Denied by policy: {text}")
    };
    Evaluation {
        verdict: Verdict::Deny {
            kind,
            retry_after_ms: None,
        },
        rule,
        message,
        reason: None,
        limit_uses: Vec::new(),
    }
}

/// What [`evaluate`] normalizes paths against.
static NO_PATHS: PathContext = PathContext::EMPTY;

/// [`evaluate_with`] with [`PathContext::EMPTY`]: no base or home directory, so `under` and
/// `glob` fail closed on relative and `~` paths.
pub fn evaluate(
    policy: &Policy,
    facts: &CallFacts<'_>,
    remembered: Option<&Remembered>,
    counters: &impl CounterView,
    now_ms: u64,
) -> Evaluation {
    evaluate_with(policy, facts, &NO_PATHS, remembered, counters, now_ms)
}

/// Decides one call. Pure: counters are read through `counters` (nothing is
/// reserved; the caller reserves `limit_uses` with [`crate::SlidingWindows::reserve`]).
/// `paths` is what `under` and `glob` normalize path arguments against (the server's
/// base directories, the home directory, case, a symlink resolver).
pub fn evaluate_with(
    policy: &Policy,
    facts: &CallFacts<'_>,
    paths: &PathContext,
    remembered: Option<&Remembered>,
    counters: &impl CounterView,
    now_ms: u64,
) -> Evaluation {
    let p = &policy.compiled;
    let tool_name = facts.tool;
    if policy.is_hidden(tool_name) {
        return deny(
            DenyKind::Hidden,
            RULE_HIDDEN.to_owned(),
            &format!("tool `{tool_name}` is hidden"),
        );
    }
    let Some(tool) = p.tools.get(tool_name) else {
        let default = policy.document().default;
        if default == DefaultAction::Deny {
            return deny(
                DenyKind::Default,
                RULE_DEFAULT.to_owned(),
                &format!("tool `{tool_name}` is not listed in the policy and the default is deny"),
            );
        }
        if let Some(e) = remembered_deny(remembered) {
            return e;
        }
        let ask = default == DefaultAction::RequireApproval && !is_approved(remembered);
        return finish(
            &p.all_tools_limits,
            &[],
            facts,
            counters,
            now_ms,
            Pending {
                ask,
                rule: RULE_DEFAULT.to_owned(),
                text: format!("tool `{tool_name}` needs a human's approval (default)"),
                reason: None,
                timeout_ms: None,
                remembered,
            },
        );
    };
    if tool.action == ToolAction::Deny {
        let text = tool
            .reason
            .clone()
            .unwrap_or_else(|| format!("tool `{tool_name}` is not allowed"));
        let mut e = deny(DenyKind::Action, format!("{}/action", tool.pointer), &text);
        e.reason.clone_from(&tool.reason);
        return e;
    }
    for c in &tool.require {
        let (outcome, at) = test(c, facts.args, paths, Each::All);
        if outcome != Outcome::Holds {
            let why = || outcome.why(c, at.as_deref(), (facts.args, paths, Each::All));
            let text = match (&c.on_deny, outcome) {
                // The policy's message, and why the condition could not be checked: the agent
                // may be able to fix the argument.
                (Some(text), Outcome::Undecidable(_)) => format!("{text}{}", why()),
                (Some(text), _) => text.clone(),
                (None, _) => {
                    let element = match (&at, &outcome) {
                        (Some(at), Outcome::Fails) => format!(" (`{at}` does not)"),
                        _ => String::new(),
                    };
                    format!("requirement not met: {}{}{element}", describe(c), why())
                }
            };
            return deny(DenyKind::Require, c.pointer.clone(), &text);
        }
    }
    for c in &tool.deny_if {
        match test(c, facts.args, paths, Each::Any) {
            (Outcome::Holds, at) => {
                let text = c.on_deny.clone().unwrap_or_else(|| match at {
                    Some(at) => format!("matched {} at `{at}`", describe(c)),
                    None => format!("matched {}", describe(c)),
                });
                return deny(DenyKind::DenyIf, c.pointer.clone(), &text);
            }
            (o @ Outcome::Undecidable(_), at) => {
                let text = format!(
                    "cannot check {}{}",
                    describe(c),
                    o.why(c, at.as_deref(), (facts.args, paths, Each::Any))
                );
                return deny(DenyKind::DenyIf, c.pointer.clone(), &text);
            }
            (Outcome::Missing | Outcome::Fails, _) => {}
        }
    }
    if let Some(e) = remembered_deny(remembered) {
        return e;
    }
    let mut pending = Pending {
        ask: false,
        rule: tool.pointer.clone(),
        text: String::new(),
        reason: tool.reason.clone(),
        timeout_ms: tool.approval_timeout_ms,
        remembered,
    };
    if !is_approved(remembered) {
        for c in &tool.approve_if {
            let (outcome, at) = test(c, facts.args, paths, Each::Any);
            if matches!(outcome, Outcome::Holds | Outcome::Undecidable(_)) {
                pending.ask = true;
                pending.rule.clone_from(&c.pointer);
                let why = || outcome.why(c, at.as_deref(), (facts.args, paths, Each::Any));
                pending.text = match (&c.on_deny, &outcome, &at) {
                    (Some(text), Outcome::Undecidable(_), _) => format!("{text}{}", why()),
                    (Some(text), _, _) => text.clone(),
                    (None, Outcome::Holds, Some(at)) => {
                        format!("matched {} at `{at}`", describe(c))
                    }
                    (None, Outcome::Holds, None) => format!("matched {}", describe(c)),
                    (None, _, _) => format!("cannot check {}{}", describe(c), why()),
                };
                break;
            }
        }
        if !pending.ask && tool.action == ToolAction::RequireApproval {
            pending.ask = true;
            pending.rule = format!("{}/action", tool.pointer);
            pending.text = tool
                .reason
                .clone()
                .unwrap_or_else(|| format!("tool `{tool_name}` needs a human's approval"));
        }
    }
    finish(
        &p.all_tools_limits,
        &tool.limits,
        facts,
        counters,
        now_ms,
        pending,
    )
}

fn remembered_deny(remembered: Option<&Remembered>) -> Option<Evaluation> {
    let r = remembered.filter(|r| r.decision == RememberedDecision::Deny)?;
    let message = match &r.note {
        Some(note) => format!("Denied by a human (remembered decision {}): {note}", r.id),
        None => format!("Denied by a human (remembered decision {})", r.id),
    };
    Some(Evaluation {
        verdict: Verdict::Deny {
            kind: DenyKind::Remembered,
            retry_after_ms: None,
        },
        rule: RULE_REMEMBERED.to_owned(),
        message,
        reason: None,
        limit_uses: Vec::new(),
    })
}

fn is_approved(remembered: Option<&Remembered>) -> bool {
    remembered.is_some_and(|r| r.decision == RememberedDecision::Approve)
}
