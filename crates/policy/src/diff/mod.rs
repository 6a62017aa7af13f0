//! The semantic difference of two policies: what a new version would let an agent do that the
//! one in force does not.
//!
//! Every difference is classified as [`Direction::Tighter`] (the new version permits a subset:
//! a tool hidden or denied, a condition added, a lower `max`, a longer window) or
//! [`Direction::Looser`]. The classification fails closed: a difference this module cannot prove
//! tighter (a changed condition, a renamed counter, a new `increment_from`, a changed approval
//! timeout it cannot compare) is looser. The gate applies an all-tighter change from disk at once
//! and stages anything looser for a human; `airlock check --diff` prints the same list.
//!
//! The comparison works tool by tool on what decides a call. A tool is either hidden or has a
//! rule; a tool the policy does not list has the rule its `default` stands for (`allow` is `{}`,
//! `require_approval` is `{"action": "require_approval"}`, `deny` is `{"action": "deny"}`, which
//! is how evaluation treats them), so moving a tool between `tools` and the default is compared
//! like any other change of its rule. Text only the agent reads (`on_deny`, a denied tool's
//! `reason`) is not a difference; the `reason` a human reads before approving is one (looser: it
//! may talk them into a yes).

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use crate::Policy;
use crate::model::{DefaultAction, PolicyDocument, ToolAction, ToolRule};

mod rules;
mod words;

/// Whether a difference narrows or widens what an agent may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The new version permits a subset of what the old one did.
    Tighter,
    /// The new version may permit something the old one did not (or this could not be ruled out).
    Looser,
}

impl Direction {
    /// `tighter` or `looser`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Tighter => "tighter",
            Direction::Looser => "looser",
        }
    }
}

/// One difference, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Tighter or looser.
    pub direction: Direction,
    /// JSON Pointer of the part that changed (in the new version, or the old one for what was
    /// removed), e.g. `/tools/write_file/deny_if/0`, `/default`, `/hide`.
    pub pointer: String,
    /// A sentence for the human: "`write_file` would be allowed without asking".
    pub text: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} ({})",
            self.direction.as_str(),
            self.text,
            self.pointer
        )
    }
}

/// Every difference between two policies, looser ones first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct PolicyDiff {
    changes: Vec<Change>,
}

impl PolicyDiff {
    /// Builds a diff from changes found elsewhere (the gate's config diff uses the same type).
    pub fn from_changes(mut changes: Vec<Change>) -> Self {
        // Stable: within a direction, the order the comparison found them (tool by tool).
        changes.sort_by_key(|c| std::cmp::Reverse(c.direction));
        PolicyDiff { changes }
    }

    /// True when the two versions decide every call alike.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// True when some difference is (or may be) looser: the change needs a human.
    pub fn loosens(&self) -> bool {
        self.changes
            .iter()
            .any(|c| c.direction == Direction::Looser)
    }

    /// Every difference, looser ones first.
    pub fn changes(&self) -> &[Change] {
        &self.changes
    }

    /// The looser differences.
    pub fn looser(&self) -> impl Iterator<Item = &Change> {
        self.changes
            .iter()
            .filter(|c| c.direction == Direction::Looser)
    }
}

impl fmt::Display for PolicyDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.changes {
            writeln!(f, "{c}")?;
        }
        Ok(())
    }
}

/// How one tool is decided before its arguments are looked at.
enum State<'a> {
    Hidden,
    Rule(ToolView<'a>),
}

/// A tool's rule as evaluation sees it, listed or standing in for the default.
struct ToolView<'a> {
    rule: std::borrow::Cow<'a, ToolRule>,
    /// The compiled `approval_timeout`, or `None` for the gate's default.
    timeout_ms: Option<u64>,
}

fn default_rule(default: DefaultAction) -> ToolRule {
    let action = match default {
        DefaultAction::Allow => ToolAction::Allow,
        DefaultAction::Deny => ToolAction::Deny,
        DefaultAction::RequireApproval => ToolAction::RequireApproval,
    };
    ToolRule {
        action,
        ..ToolRule::default()
    }
}

fn state_of<'a>(policy: &'a Policy, tool: Option<&str>) -> State<'a> {
    let doc = policy.document();
    let hidden = match tool {
        Some(name) => policy.is_hidden(name),
        None => policy.compiled.hide_all,
    };
    if hidden {
        return State::Hidden;
    }
    match tool.and_then(|name| doc.tools.get(name).map(|rule| (name, rule))) {
        Some((name, rule)) => State::Rule(ToolView {
            rule: std::borrow::Cow::Borrowed(rule),
            timeout_ms: policy.approval_timeout_ms(name),
        }),
        None => State::Rule(ToolView {
            rule: std::borrow::Cow::Owned(default_rule(doc.default)),
            timeout_ms: None,
        }),
    }
}

/// Every tool either version names, in `tools` or in `hide`.
fn named_tools<'a>(old: &'a PolicyDocument, new: &'a PolicyDocument) -> BTreeSet<&'a str> {
    let listed = old.tools.keys().chain(new.tools.keys()).map(String::as_str);
    let hidden = old.hide.iter().chain(&new.hide).map(|n| n.0.as_str());
    listed.chain(hidden).filter(|n| *n != "*").collect()
}

/// Compares `new` with `old` (the version in force).
pub fn diff<'a>(old: &'a Policy, new: &'a Policy) -> PolicyDiff {
    let mut out = Vec::new();
    let (old_doc, new_doc) = (old.document(), new.document());
    for name in named_tools(old_doc, new_doc) {
        let subject = words::Subject::Tool(name);
        let pointer = match (
            new_doc.tools.contains_key(name),
            old_doc.tools.contains_key(name),
        ) {
            (true, _) | (false, true) => {
                format!("/tools/{}", crate::diagnostics::escape_token(name))
            }
            (false, false) => "/default".to_owned(),
        };
        let (a, b) = (state_of(old, Some(name)), state_of(new, Some(name)));
        compare_states(&subject, &pointer, &a, &b, &mut out);
    }
    let (a, b) = (state_of(old, None), state_of(new, None));
    compare_states(&words::Subject::Unlisted, "/default", &a, &b, &mut out);
    let limits = |doc: &'a PolicyDocument| doc.all_tools.as_ref().map_or(&[][..], |a| &a.limits);
    rules::compare_limits(
        &words::Subject::AllTools,
        "/all_tools/limits",
        limits(old_doc),
        limits(new_doc),
        &mut out,
    );
    PolicyDiff::from_changes(out)
}

fn compare_states(
    subject: &words::Subject<'_>,
    pointer: &str,
    old: &State<'_>,
    new: &State<'_>,
    out: &mut Vec<Change>,
) {
    match (old, new) {
        (State::Hidden, State::Hidden) => {}
        (State::Rule(_), State::Hidden) => out.push(Change {
            direction: Direction::Tighter,
            pointer: "/hide".to_owned(),
            text: format!("{subject} would be hidden from agents (and denied if called)"),
        }),
        (State::Hidden, State::Rule(view)) => out.push(Change {
            direction: Direction::Looser,
            pointer: "/hide".to_owned(),
            text: format!(
                "{subject} would no longer be hidden: {}",
                words::summary(&view.rule)
            ),
        }),
        (State::Rule(a), State::Rule(b)) => rules::compare_rules(subject, pointer, a, b, out),
    }
}
