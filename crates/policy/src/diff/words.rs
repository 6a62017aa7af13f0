//! The sentences of a diff: who is concerned, what a rule amounts to, a condition, a limit.

use std::fmt;

use serde_json::Value;

use crate::model::{Condition, Limit, Op, ToolAction, ToolRule};

/// What a change is about.
pub(super) enum Subject<'a> {
    /// A tool the policy names.
    Tool(&'a str),
    /// Every tool the policy does not list.
    Unlisted,
    /// Every call (`all_tools`).
    AllTools,
}

impl fmt::Display for Subject<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Tool(name) => write!(f, "`{name}`"),
            Subject::Unlisted => f.write_str("tools the policy does not list"),
            Subject::AllTools => f.write_str("all tools"),
        }
    }
}

/// What a (not hidden) rule lets through, e.g. "allowed without asking (2 conditions, 1 limit)".
pub(super) fn summary(rule: &ToolRule) -> String {
    let head = match rule.action {
        ToolAction::Deny => return "denied".to_owned(),
        ToolAction::RequireApproval => "allowed after a human approves each call",
        ToolAction::Allow if rule.approve_if.is_empty() => "allowed without asking",
        ToolAction::Allow => "allowed without asking unless an `approve_if` condition holds",
    };
    let conditions = rule.require.len() + rule.deny_if.len();
    let mut extras = Vec::new();
    if conditions > 0 {
        extras.push(plural(conditions, "condition"));
    }
    if !rule.limits.is_empty() {
        extras.push(plural(rule.limits.len(), "limit"));
    }
    if extras.is_empty() {
        head.to_owned()
    } else {
        format!("{head} ({})", extras.join(", "))
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// "`args.channel` regex \"^private-\"".
pub(super) fn condition(c: &Condition) -> String {
    let path = &c.path;
    let value = c.value.as_ref().map(Value::to_string);
    match (c.op, value) {
        (Op::Exists, None) => format!("`{path}` exists"),
        (Op::Exists, Some(v)) if v == "true" => format!("`{path}` exists"),
        (Op::Exists, Some(v)) if v == "false" => format!("`{path}` does not exist"),
        (op, Some(v)) => format!("`{path}` {} {v}", op.as_str()),
        (op, None) => format!("`{path}` {}", op.as_str()),
    }
}

/// "at most 30 calls per minute per grant", "at most 100 of `args.amount` per day per server".
pub(super) fn limit(l: &Limit) -> String {
    format!(
        "at most {} {} per {}",
        amount(l),
        l.window.per(),
        l.scope.as_str()
    )
}

/// "30 calls", "100 of `args.amount`".
pub(super) fn amount(l: &Limit) -> String {
    match &l.increment_from {
        None => format!("{} calls", number(l.max)),
        Some(path) => format!("{} of `{path}`", number(l.max)),
    }
}

/// 30 rather than 30.0.
pub(super) fn number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{n:.0}")
    } else {
        format!("{n}")
    }
}

/// "10 s", "5 min", "2 h" for an approval timeout, or "the gate's default".
pub(super) fn timeout(ms: Option<u64>) -> String {
    match ms {
        None => "the gate's default (`gate.approval_timeout`)".to_owned(),
        Some(ms) if ms % 3_600_000 == 0 => format!("{} h", ms / 3_600_000),
        Some(ms) if ms % 60_000 == 0 => format!("{} min", ms / 60_000),
        Some(ms) => format!("{} s", ms.div_ceil(1000)),
    }
}
