//! Rule against rule: action, conditions, limits, and what a human reads when asked.

use serde_json::Value;

use super::words::{self, Subject};
use super::{Change, Direction, ToolView};
use crate::model::{Condition, Limit, Op, ToolAction, ToolRule};

fn push(out: &mut Vec<Change>, direction: Direction, pointer: String, text: String) {
    out.push(Change {
        direction,
        pointer,
        text,
    });
}

/// True when some call of the tool may be put to a human under `rule`.
fn may_ask(rule: &ToolRule) -> bool {
    rule.action == ToolAction::RequireApproval || !rule.approve_if.is_empty()
}

pub(super) fn compare_rules(
    subject: &Subject<'_>,
    base: &str,
    old: &ToolView<'_>,
    new: &ToolView<'_>,
    out: &mut Vec<Change>,
) {
    let (a, b) = (old.rule.as_ref(), new.rule.as_ref());
    match (a.action, b.action) {
        // `action: deny` decides before anything else of the rule is looked at.
        (ToolAction::Deny, ToolAction::Deny) => return,
        (_, ToolAction::Deny) => {
            let text = format!("{subject} would be denied");
            return push(out, Direction::Tighter, format!("{base}/action"), text);
        }
        (ToolAction::Deny, _) => {
            let text = format!("{subject} would be {}", words::summary(b));
            return push(out, Direction::Looser, base.to_owned(), text);
        }
        (ToolAction::Allow, ToolAction::RequireApproval) => {
            let text = format!("{subject} would need a human's approval for every call");
            push(out, Direction::Tighter, format!("{base}/action"), text);
        }
        (ToolAction::RequireApproval, ToolAction::Allow) => {
            let text = format!("{subject} would be {}", words::summary(b));
            push(out, Direction::Looser, format!("{base}/action"), text);
        }
        _ => {}
    }
    compare_conditions(
        (&a.require, &b.require),
        &format!("{base}/require"),
        |c| format!("{subject} would no longer require {c}"),
        |c| format!("{subject} would also require {c}"),
        out,
    );
    compare_conditions(
        (&a.deny_if, &b.deny_if),
        &format!("{base}/deny_if"),
        |c| format!("{subject} would no longer be denied when {c}"),
        |c| format!("{subject} would also be denied when {c}"),
        out,
    );
    // Under `action: require_approval` every call is asked about whatever `approve_if` says.
    if b.action != ToolAction::RequireApproval {
        compare_conditions(
            (&a.approve_if, &b.approve_if),
            &format!("{base}/approve_if"),
            |c| format!("{subject} would no longer ask a human when {c}"),
            |c| format!("{subject} would also ask a human when {c}"),
            out,
        );
    }
    compare_limits(
        subject,
        &format!("{base}/limits"),
        &a.limits,
        &b.limits,
        out,
    );
    if may_ask(b) {
        compare_asking(subject, base, old, new, out);
    }
}

/// What the human sees and how long they have: the `reason` and the approval timeout.
fn compare_asking(
    subject: &Subject<'_>,
    base: &str,
    old: &ToolView<'_>,
    new: &ToolView<'_>,
    out: &mut Vec<Change>,
) {
    let (a, b) = (old.rule.as_ref(), new.rule.as_ref());
    if a.reason != b.reason {
        // The reason is what a human reads before answering: whoever writes it can argue for a
        // yes, so a new one is not provably harmless.
        let text = match &b.reason {
            Some(reason) => format!(
                "the reason a human reads before approving {subject} would become {}",
                Value::from(reason.as_str())
            ),
            None => format!("the reason a human reads before approving {subject} would be removed"),
        };
        push(out, Direction::Looser, format!("{base}/reason"), text);
    }
    if a.approval != b.approval {
        // A passphrase approval is one an agent holding the API token cannot give itself.
        let (direction, text) = if b.approval == crate::model::ApprovalKind::Passphrase {
            (
                Direction::Tighter,
                format!("approving {subject} would need the user's passphrase"),
            )
        } else {
            (
                Direction::Looser,
                format!("approving {subject} would no longer need the user's passphrase"),
            )
        };
        push(out, direction, format!("{base}/approval"), text);
    }
    let direction = match (old.timeout_ms, new.timeout_ms) {
        (x, y) if x == y => return,
        (Some(x), Some(y)) if y < x => Direction::Tighter,
        // Longer, or compared with the gate's default, which the policy cannot see.
        _ => Direction::Looser,
    };
    let text = format!(
        "approval requests for {subject} would wait up to {} instead of {}",
        words::timeout(new.timeout_ms),
        words::timeout(old.timeout_ms)
    );
    push(out, direction, format!("{base}/approval_timeout"), text);
}

/// Conditions are compared as sets of (path, op, value): order and `on_deny` do not change
/// which calls pass. A condition changed in place is one removed and one added.
fn compare_conditions(
    (old, new): (&[Condition], &[Condition]),
    base: &str,
    removed: impl Fn(&str) -> String,
    added: impl Fn(&str) -> String,
    out: &mut Vec<Change>,
) {
    for (i, c) in old.iter().enumerate() {
        if !new.iter().any(|n| same_condition(c, n)) {
            let text = removed(&words::condition(c));
            push(out, Direction::Looser, format!("{base}/{i}"), text);
        }
    }
    for (i, c) in new.iter().enumerate() {
        if !old.iter().any(|o| same_condition(o, c)) {
            let text = added(&words::condition(c));
            push(out, Direction::Tighter, format!("{base}/{i}"), text);
        }
    }
}

fn same_condition(a: &Condition, b: &Condition) -> bool {
    let operand = |c: &Condition| match (c.op, &c.value) {
        // `exists` without a value means `true`.
        (Op::Exists, None) => Some(Value::Bool(true)),
        (_, v) => v.clone(),
    };
    a.path == b.path && a.op == b.op && operand(a) == operand(b)
}

/// Limits are matched by counter name (the checker makes one name mean one set of settings
/// within a policy). A renamed counter starts empty: removed (looser) and added.
pub(super) fn compare_limits(
    subject: &Subject<'_>,
    base: &str,
    old: &[Limit],
    new: &[Limit],
    out: &mut Vec<Change>,
) {
    for (i, a) in old.iter().enumerate() {
        let pointer = |j: usize| format!("{base}/{j}");
        let Some((j, b)) = new.iter().enumerate().find(|(_, b)| b.counter == a.counter) else {
            let text = format!(
                "{subject} would lose the limit `{}` ({})",
                a.counter,
                words::limit(a)
            );
            push(out, Direction::Looser, pointer(i), text);
            continue;
        };
        compare_limit(subject, &pointer(j), a, b, out);
    }
    for (j, b) in new.iter().enumerate() {
        if !old.iter().any(|a| a.counter == b.counter) {
            let text = format!(
                "{subject} would get the limit `{}`: {}",
                b.counter,
                words::limit(b)
            );
            push(out, Direction::Tighter, format!("{base}/{j}"), text);
        }
    }
}

fn compare_limit(
    subject: &Subject<'_>,
    pointer: &str,
    a: &Limit,
    b: &Limit,
    out: &mut Vec<Change>,
) {
    let counter = &a.counter;
    if a.scope != b.scope || a.increment_from != b.increment_from {
        // Another scope or amount is another count, which starts where the old one did not.
        let text = format!(
            "the limit `{counter}` of {subject} would count differently: {} instead of {}",
            words::limit(b),
            words::limit(a)
        );
        return push(out, Direction::Looser, pointer.to_owned(), text);
    }
    if b.max != a.max {
        let (direction, verb) = if b.max > a.max {
            (Direction::Looser, "rise")
        } else {
            (Direction::Tighter, "drop")
        };
        let text = format!(
            "the limit `{counter}` of {subject} would {verb} from {} to {} {}",
            words::amount(a),
            words::amount(b),
            b.window.per()
        );
        push(out, direction, format!("{pointer}/max"), text);
    }
    let (wa, wb) = (a.window.millis(), b.window.millis());
    if wa != wb {
        // The same events over a longer window never sum to less.
        let direction = if wb > wa {
            Direction::Tighter
        } else {
            Direction::Looser
        };
        let text = format!(
            "the limit `{counter}` of {subject} would count {} instead of {}",
            b.window.per(),
            a.window.per()
        );
        push(out, direction, format!("{pointer}/window"), text);
    }
}
