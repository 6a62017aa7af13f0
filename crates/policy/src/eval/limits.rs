//! The last step of an evaluation: the limits a call would use, checked against the counters
//! before anyone is asked, and the denial when one is full.

use serde_json::Value;

use crate::compiled::{CompiledLimit, Num};
use crate::counters::{CounterKey, CounterView, LimitUse, fits};
use crate::model::Scope;

use super::conditions::fmt_num;
use super::{
    CallFacts, DenyKind, Evaluation, RULE_REMEMBERED, Remembered, RememberedDecision, Verdict, deny,
};

/// The decision so far, before limits.
pub(super) struct Pending<'r> {
    pub(super) ask: bool,
    pub(super) rule: String,
    pub(super) text: String,
    pub(super) reason: Option<String>,
    pub(super) timeout_ms: Option<u64>,
    pub(super) remembered: Option<&'r Remembered>,
}

pub(super) fn finish(
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
            Scope::Global | Scope::Team => "",
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

pub(super) fn limit_denial(
    l: &CompiledLimit,
    used: f64,
    amount: f64,
    retry: Option<u64>,
) -> Evaluation {
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

/// Rounds up so an agent that waits this long succeeds.
pub(super) fn fmt_wait(ms: u64) -> String {
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
