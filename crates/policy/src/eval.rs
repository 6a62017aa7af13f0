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
use crate::compiled::{CompiledCondition, CompiledLimit, Num, Test};
use crate::counters::{CounterKey, CounterView, LimitUse, fits};
use crate::model::{DefaultAction, Scope, ToolAction};
use crate::paths::PathContext;

mod path_ops;

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

/// The decision so far, before limits.
struct Pending<'r> {
    ask: bool,
    rule: String,
    text: String,
    reason: Option<String>,
    timeout_ms: Option<u64>,
    remembered: Option<&'r Remembered>,
}

fn finish(
    all_tools: &[CompiledLimit],
    own: &[CompiledLimit],
    facts: &CallFacts<'_>,
    counters: &impl CounterView,
    now_ms: u64,
    pending: Pending<'_>,
) -> Evaluation {
    let mut uses: Vec<LimitUse> = Vec::with_capacity(all_tools.len() + own.len());
    for l in all_tools.iter().chain(own) {
        let scope_value = match l.scope {
            Scope::Grant => facts.grant,
            Scope::Session => facts.session,
            Scope::Server => facts.server,
            Scope::Global => "",
        };
        // The same counter listed twice (all_tools and the tool) is one counter.
        if uses.iter().any(|u| {
            u.key.counter == l.counter && u.key.scope == l.scope && u.key.scope_value == scope_value
        }) {
            continue;
        }
        let amount = match &l.increment_from {
            None => 1.0,
            Some(path) => {
                let found = path.lookup(facts.args);
                let amount = found.and_then(Num::of).map(Num::as_f64);
                match amount {
                    Some(a) if a.is_finite() && a >= 0.0 => a,
                    _ => {
                        let why = match found {
                            None | Some(Value::Null) => "is missing".to_owned(),
                            Some(v) if Num::of(v).is_some() => "is negative".to_owned(),
                            Some(_) => "is not a number".to_owned(),
                        };
                        return deny(
                            DenyKind::Limit,
                            l.pointer.clone(),
                            &format!(
                                "spend limit `{}` counts `{}`, which {why}",
                                l.counter, path.text
                            ),
                        );
                    }
                }
            }
        };
        let key = CounterKey {
            counter: l.counter.clone(),
            scope: l.scope,
            scope_value: scope_value.to_owned(),
        };
        let used = counters.used(&key, l.window_ms, now_ms);
        if !fits(used, amount, l.max) {
            let retry = counters.retry_after_ms(&key, l.window_ms, l.max, amount, now_ms);
            return limit_denial(l, used, amount, retry);
        }
        uses.push(LimitUse {
            key,
            window_ms: l.window_ms,
            max: l.max,
            amount,
            rule: l.pointer.clone(),
        });
    }
    let suffix = |rule: &str| {
        if rule.starts_with('/') {
            format!(" (rule {rule})")
        } else {
            String::new()
        }
    };
    if pending.ask {
        let message = format!(
            "Approval required: {}{}",
            pending.text,
            suffix(&pending.rule)
        );
        Evaluation {
            verdict: Verdict::RequireApproval {
                timeout_ms: pending.timeout_ms,
            },
            rule: pending.rule,
            message,
            reason: pending.reason,
            limit_uses: uses,
        }
    } else {
        let (rule, message) = match pending.remembered {
            Some(r) if r.decision == RememberedDecision::Approve => (
                RULE_REMEMBERED.to_owned(),
                format!("Allowed by a remembered approval ({})", r.id),
            ),
            _ => {
                let m = format!("Allowed by policy{}", suffix(&pending.rule));
                (pending.rule, m)
            }
        };
        Evaluation {
            verdict: Verdict::Allow,
            rule,
            message,
            reason: pending.reason,
            limit_uses: uses,
        }
    }
}

fn limit_denial(l: &CompiledLimit, used: f64, amount: f64, retry: Option<u64>) -> Evaluation {
    let per = l.window.per();
    let max = fmt_num(l.max);
    let retry_text = match retry {
        Some(ms) => format!("retry in {}", fmt_wait(ms)),
        None => format!("this call alone ({}) exceeds the limit", fmt_num(amount)),
    };
    let text = match &l.increment_from {
        None => format!(
            "Rate limit reached: at most {max} calls {per} for `{}`; {retry_text}",
            l.counter
        ),
        Some(path) => format!(
            "Spend limit reached: at most {max} of `{}` {per} for `{}` ({} used, {} requested); {retry_text}",
            path.text,
            l.counter,
            fmt_num(used),
            fmt_num(amount)
        ),
    };
    Evaluation {
        verdict: Verdict::Deny {
            kind: DenyKind::Limit,
            retry_after_ms: retry,
        },
        rule: l.pointer.clone(),
        message: format!("{text} (rule {})", l.pointer),
        reason: None,
        limit_uses: Vec::new(),
    }
}

fn fmt_num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{n:.0}")
    } else {
        format!("{n}")
    }
}

/// Rounds up so an agent that waits this long succeeds.
fn fmt_wait(ms: u64) -> String {
    let secs = ms.div_ceil(1000).max(1);
    if secs < 120 {
        format!("{secs} s")
    } else if secs < 7200 {
        format!("{} min", secs.div_ceil(60))
    } else {
        format!("{} h", secs.div_ceil(3600))
    }
}

// Copy, without drop glue, keeps the per-condition cost of policies without path ops as it
// was: the details of a path that cannot be checked are recomputed only for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Holds,
    Fails,
    /// The path is absent.
    Missing,
    /// The condition cannot be decided on this value.
    Undecidable(Why),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    /// The value has the wrong type for the op: "a number".
    NotA(&'static str),
    /// A path that cannot be normalized, or context a path pattern needs
    /// ([`path_ops::first_problem`] tells which).
    Path,
}

impl Outcome {
    fn of(holds: bool) -> Outcome {
        if holds {
            Outcome::Holds
        } else {
            Outcome::Fails
        }
    }

    /// Why a condition did not simply hold or fail, naming the concrete path `at` when a `*`
    /// path decided on one element.
    fn why(
        self,
        c: &CompiledCondition,
        at: Option<&str>,
        (args, paths, each): (&Value, &PathContext, Each),
    ) -> String {
        let path = at.unwrap_or(&c.path.text);
        match self {
            Outcome::Missing => format!(" (`{path}` is missing)"),
            Outcome::Undecidable(Why::NotA(what)) => format!(" (`{path}` is not {what})"),
            Outcome::Undecidable(Why::Path) => {
                match path_ops::first_problem(c, args, paths, each) {
                    Some(problem) => format!(" (`{path}`: {problem})"),
                    None => format!(" (`{path}` cannot be checked)"),
                }
            }
            Outcome::Holds | Outcome::Fails => String::new(),
        }
    }
}

fn describe(c: &CompiledCondition) -> String {
    let path = &c.path.text;
    match &c.test {
        Test::Eq(o) => format!("`{path}` eq {}", o.value),
        Test::Neq(o) => format!("`{path}` neq {}", o.value),
        Test::In(os) => format!("`{path}` in {}", list(os.iter().map(|o| &o.value))),
        Test::NotIn(os) => format!("`{path}` not_in {}", list(os.iter().map(|o| &o.value))),
        Test::Lt(n) => format!("`{path}` lt {}", fmt_num(n.as_f64())),
        Test::Lte(n) => format!("`{path}` lte {}", fmt_num(n.as_f64())),
        Test::Gt(n) => format!("`{path}` gt {}", fmt_num(n.as_f64())),
        Test::Gte(n) => format!("`{path}` gte {}", fmt_num(n.as_f64())),
        Test::Regex(re) => format!("`{path}` regex `{}`", re.as_str()),
        Test::Contains(o) => format!("`{path}` contains {}", o.value),
        Test::Exists(true) => format!("`{path}` exists"),
        Test::Exists(false) => format!("`{path}` does not exist"),
        Test::Under(u) => format!("`{path}` under {}", strings(&u.dirs)),
        Test::Glob(g) => format!("`{path}` glob {}", strings(&g.patterns)),
    }
}

/// `"a"`, or `["a", "b"]`.
fn strings(items: &[String]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|s| Value::from(s.as_str()).to_string())
        .collect();
    match quoted.as_slice() {
        [one] => one.clone(),
        _ => format!("[{}]", quoted.join(", ")),
    }
}

fn list<'v>(values: impl Iterator<Item = &'v Value>) -> String {
    let items: Vec<String> = values.map(Value::to_string).collect();
    format!("[{}]", items.join(", "))
}

/// How a condition on a `*` path combines the elements it reaches: `require` needs every one to
/// hold; `deny_if` and `approve_if` fire when any one does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Each {
    All,
    Any,
}

/// A condition's outcome; for a `*` path also the concrete path that decided it
/// (`args.events.3.channel`), for messages. A `*` that reaches nothing counts as a missing path.
fn test(
    c: &CompiledCondition,
    args: &Value,
    paths: &PathContext,
    each: Each,
) -> (Outcome, Option<String>) {
    if !c.path.wildcard {
        return (test_value(c, c.path.lookup(args), paths, each), None);
    }
    let reached = c.path.lookup_each(args);
    if reached.is_empty() {
        return (test_value(c, None, paths, each), None);
    }
    match each {
        Each::All => reached
            .into_iter()
            .map(|(at, v)| (test_value(c, v, paths, each), Some(at)))
            .find(|(o, _)| *o != Outcome::Holds)
            .unwrap_or((Outcome::Holds, None)),
        Each::Any => {
            let mut undecidable = None;
            let mut all_missing = true;
            for (at, v) in reached {
                match test_value(c, v, paths, each) {
                    Outcome::Holds => return (Outcome::Holds, Some(at)),
                    o @ Outcome::Undecidable(_) => {
                        undecidable.get_or_insert((o, Some(at)));
                    }
                    Outcome::Fails => all_missing = false,
                    Outcome::Missing => {}
                }
            }
            undecidable.unwrap_or(if all_missing {
                (Outcome::Missing, None)
            } else {
                (Outcome::Fails, None)
            })
        }
    }
}

fn test_value(
    c: &CompiledCondition,
    found: Option<&Value>,
    paths: &PathContext,
    each: Each,
) -> Outcome {
    if let Test::Exists(want) = c.test {
        let present = found.is_some_and(|v| !v.is_null());
        return if present == want {
            Outcome::Holds
        } else {
            Outcome::Fails
        };
    }
    let Some(v) = found else {
        return Outcome::Missing;
    };
    let b = Outcome::of;
    match &c.test {
        Test::Eq(o) => b(o.equals(v)),
        Test::Neq(o) => b(!o.equals(v)),
        Test::In(os) => b(os.iter().any(|o| o.equals(v))),
        Test::NotIn(os) => b(!os.iter().any(|o| o.equals(v))),
        Test::Lt(n) | Test::Lte(n) | Test::Gt(n) | Test::Gte(n) => {
            let Some(ord) = Num::of(v).and_then(|a| a.compare(*n)) else {
                return Outcome::Undecidable(Why::NotA("a number"));
            };
            b(match &c.test {
                Test::Lt(_) => ord.is_lt(),
                Test::Lte(_) => ord.is_le(),
                Test::Gt(_) => ord.is_gt(),
                _ => ord.is_ge(),
            })
        }
        Test::Regex(re) => match v {
            Value::String(s) => b(re.is_match(s)),
            Value::Array(items) if items.iter().all(Value::is_string) => b(items
                .iter()
                .filter_map(Value::as_str)
                .any(|s| re.is_match(s))),
            _ => Outcome::Undecidable(Why::NotA("a string")),
        },
        Test::Contains(needle) => match v {
            Value::String(s) => match &needle.value {
                Value::String(n) => b(s.contains(n.as_str())),
                Value::Number(n) => b(s.contains(&n.to_string())),
                _ => Outcome::Fails,
            },
            Value::Array(items) => b(items.iter().any(|i| needle.equals(i))),
            _ => Outcome::Undecidable(Why::NotA("a string or an array")),
        },
        Test::Exists(_) => Outcome::Fails,
        Test::Under(_) | Test::Glob(_) => path_ops::test(&c.test, v, paths, each, &mut None),
    }
}
