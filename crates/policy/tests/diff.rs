//! The semantic diff of two policies: sentences for the common changes, and two properties over
//! random policies: a policy never differs from itself, and a change with no looser difference
//! never decides a call more leniently (evaluated on random calls, counters and remembered
//! decisions).
#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test on a policy that does not parse"
)]

use std::collections::BTreeMap;

use airlock_policy::{
    CallFacts, CounterKey, CounterView, Direction, Policy, Remembered, RememberedDecision, Verdict,
    diff, evaluate,
};
use proptest::prelude::*;
use serde_json::{Value, json};

fn policy(text: &str) -> Policy {
    Policy::parse(text, "test.json").unwrap()
}

fn changes(old: &str, new: &str) -> Vec<(Direction, String, String)> {
    diff(&policy(old), &policy(new))
        .changes()
        .iter()
        .map(|c| (c.direction, c.pointer.clone(), c.text.clone()))
        .collect()
}

#[test]
fn a_denied_tool_that_becomes_allowed_is_looser_in_words() {
    let old = r#"{"version": "1", "default": "deny", "tools": {"write_file": {"action": "deny"}}}"#;
    let new = r#"{"version": "1", "default": "deny", "tools": {"write_file": {}}}"#;
    assert_eq!(
        changes(old, new),
        [(
            Direction::Looser,
            "/tools/write_file".to_owned(),
            "`write_file` would be allowed without asking".to_owned()
        )]
    );
    let back = changes(new, old);
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].0, Direction::Tighter);
    assert_eq!(back[0].2, "`write_file` would be denied");
}

#[test]
fn a_tool_added_under_default_deny_is_looser_and_its_removal_tighter() {
    let old = r#"{"version": "1", "default": "deny"}"#;
    let new = r#"{"version": "1", "default": "deny", "tools": {"read_file": {}}}"#;
    let c = changes(old, new);
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(c[0].0, Direction::Looser);
    assert_eq!(c[0].2, "`read_file` would be allowed without asking");
    assert_eq!(changes(new, old)[0].0, Direction::Tighter);
}

#[test]
fn the_default_moving_toward_allow_is_looser() {
    let c = changes(
        r#"{"version": "1", "default": "require_approval"}"#,
        r#"{"version": "1", "default": "allow"}"#,
    );
    assert_eq!(
        c,
        [(
            Direction::Looser,
            "/default/action".to_owned(),
            "tools the policy does not list would be allowed without asking".to_owned()
        )]
    );
}

#[test]
fn limits_conditions_and_hiding_are_classified_each_way() {
    let old = r#"{"version": "1", "default": "deny", "hide": ["admin"], "tools": {
        "send": {"deny_if": [{"path": "args.to", "op": "regex", "value": "@evil"}],
                 "limits": [{"counter": "sends", "window": "minute", "max": 30, "scope": "grant"}]}}}"#;
    let looser = r#"{"version": "1", "default": "deny", "tools": {
        "send": {"limits": [{"counter": "sends", "window": 10, "max": 60, "scope": "grant"}]}}}"#;
    let c = changes(old, looser);
    let texts: Vec<&str> = c.iter().map(|c| c.2.as_str()).collect();
    assert!(c.iter().all(|c| c.0 == Direction::Looser), "{c:?}");
    assert!(
        texts.contains(&"`admin` would no longer be hidden: denied")
            || texts
                .iter()
                .any(|t| t.starts_with("`admin` would no longer be hidden")),
        "{texts:?}"
    );
    assert!(
        texts.contains(&"`send` would no longer be denied when `args.to` regex \"@evil\""),
        "{texts:?}"
    );
    assert!(
        texts.contains(
            &"the limit `sends` of `send` would rise from 30 calls to 60 calls per 10 seconds"
        ),
        "{texts:?}"
    );
    assert!(
        texts.contains(
            &"the limit `sends` of `send` would count per 10 seconds instead of per minute"
        ),
        "{texts:?}"
    );
    let back = changes(looser, old);
    assert!(back.iter().all(|c| c.0 == Direction::Tighter), "{back:?}");
    assert_eq!(back.len(), 4, "{back:?}");
}

#[test]
fn a_changed_condition_is_a_removal_and_an_addition() {
    let old = r#"{"version": "1", "default": "deny", "tools": {"pay": {
        "require": [{"path": "args.amount", "op": "lt", "value": 100}]}}}"#;
    let new = r#"{"version": "1", "default": "deny", "tools": {"pay": {
        "require": [{"path": "args.amount", "op": "lt", "value": 1000, "on_deny": "too much"}]}}}"#;
    let c = changes(old, new);
    assert_eq!(c.len(), 2, "{c:?}");
    assert_eq!(c[0].0, Direction::Looser);
    assert_eq!(c[0].2, "`pay` would no longer require `args.amount` lt 100");
    assert_eq!(c[1].0, Direction::Tighter);
}

#[test]
fn what_only_the_agent_reads_is_no_difference_but_the_reason_a_human_reads_is() {
    let old = r#"{"version": "1", "default": "deny", "tools": {
        "x": {"deny_if": [{"path": "args.a", "op": "eq", "value": 1, "on_deny": "no"}]},
        "y": {"action": "require_approval", "reason": "moves money"}}}"#;
    let new = r#"{"version": "1", "default": "deny", "tools": {
        "x": {"deny_if": [{"path": "args.a", "op": "eq", "value": 1, "on_deny": "never"}]},
        "y": {"action": "require_approval", "reason": "harmless, approve it"}}}"#;
    let c = changes(old, new);
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(c[0].0, Direction::Looser);
    assert_eq!(c[0].1, "/tools/y/reason");
}

#[test]
fn every_shipped_policy_has_no_difference_with_itself() {
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies")).unwrap()
    {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            let p = policy(&text);
            assert!(diff(&p, &p).is_empty(), "{}", path.display());
        }
    }
}

// ---- random policies ----

const TOOLS: [&str; 3] = ["a", "b", "c"];
const COUNTERS: [&str; 2] = ["c1", "c2"];
const TIMEOUTS: [&str; 2] = ["30s", "10m"];

fn condition(i: usize) -> Value {
    match i % 7 {
        0 => json!({"path": "args.n", "op": "lt", "value": 10}),
        1 => json!({"path": "args.n", "op": "gt", "value": 5}),
        2 => json!({"path": "args.s", "op": "eq", "value": "x"}),
        3 => json!({"path": "args.s", "op": "regex", "value": "^y"}),
        4 => json!({"path": "args.n", "op": "exists"}),
        5 => json!({"path": "args.s", "op": "in", "value": ["x", "z"]}),
        _ => json!({"path": "args.n", "op": "gte", "value": 7}),
    }
}

#[derive(Debug, Clone)]
struct CounterSpec {
    window: u8,
    max: u8,
    scope: u8,
    spend: bool,
}

#[derive(Debug, Clone)]
struct ToolSpec {
    action: u8,
    require: Vec<usize>,
    deny_if: Vec<usize>,
    approve_if: Vec<usize>,
    limits: Vec<usize>,
    timeout: Option<usize>,
    reason: Option<u8>,
}

#[derive(Debug, Clone)]
struct Spec {
    default: u8,
    hide: Vec<usize>,
    hide_all: bool,
    tools: BTreeMap<usize, ToolSpec>,
    counters: Vec<CounterSpec>,
    all_tools: Vec<usize>,
}

fn counter_spec() -> impl Strategy<Value = CounterSpec> {
    (0u8..3, 1u8..40, 0u8..3, prop::bool::weighted(0.2)).prop_map(|(window, max, scope, spend)| {
        CounterSpec {
            window,
            max,
            scope,
            spend,
        }
    })
}

fn indices(n: usize, len: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0..n, 0..=len)
}

fn tool_spec() -> impl Strategy<Value = ToolSpec> {
    (
        0u8..3,
        indices(7, 2),
        indices(7, 2),
        indices(7, 2),
        indices(2, 2),
        prop::option::of(0usize..2),
        prop::option::of(0u8..2),
    )
        .prop_map(
            |(action, require, deny_if, approve_if, limits, timeout, reason)| ToolSpec {
                action,
                require,
                deny_if,
                approve_if,
                limits,
                timeout,
                reason,
            },
        )
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0u8..3,
        indices(4, 2),
        prop::bool::weighted(0.05),
        prop::collection::btree_map(0usize..3, tool_spec(), 0..=3),
        prop::collection::vec(counter_spec(), 2),
        indices(2, 1),
    )
        .prop_map(
            |(default, hide, hide_all, tools, counters, all_tools)| Spec {
                default,
                hide,
                hide_all,
                tools,
                counters,
                all_tools,
            },
        )
}

fn dedup(items: &[usize]) -> Vec<usize> {
    let mut v = items.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

fn render(spec: &Spec) -> String {
    let actions = ["allow", "deny", "require_approval"];
    let limit = |i: usize| {
        let c = &spec.counters[i];
        let window = [json!("minute"), json!(10), json!("hour")][usize::from(c.window)].clone();
        let scope = ["grant", "session", "global"][usize::from(c.scope)];
        let mut l = json!({
            "counter": COUNTERS[i],
            "window": window,
            "max": c.max,
            "scope": scope,
        });
        if c.spend {
            l["increment_from"] = json!("args.n");
        }
        l
    };
    let mut tools = serde_json::Map::new();
    for (&t, ts) in &spec.tools {
        let mut rule = json!({"action": actions[usize::from(ts.action)]});
        for (key, list) in [
            ("require", &ts.require),
            ("deny_if", &ts.deny_if),
            ("approve_if", &ts.approve_if),
        ] {
            rule[key] = Value::Array(dedup(list).into_iter().map(condition).collect());
        }
        rule["limits"] = Value::Array(dedup(&ts.limits).into_iter().map(limit).collect());
        if let Some(t) = ts.timeout {
            rule["approval_timeout"] = json!(TIMEOUTS[t]);
        }
        if let Some(r) = ts.reason {
            rule["reason"] = json!(format!("reason {r}"));
        }
        tools.insert(TOOLS[t].to_owned(), rule);
    }
    let mut hide: Vec<Value> = dedup(&spec.hide)
        .into_iter()
        .map(|i| json!(["a", "b", "d", "e"][i]))
        .collect();
    if spec.hide_all {
        hide.push(json!("*"));
    }
    let default = actions[usize::from(spec.default)];
    json!({
        "version": "1",
        "default": default,
        "hide": hide,
        "all_tools": {"limits": dedup(&spec.all_tools).into_iter().map(limit).collect::<Vec<_>>()},
        "tools": tools,
    })
    .to_string()
}

/// One small edit of a policy; random edits make tighter, looser and mixed changes.
#[derive(Debug, Clone)]
enum Edit {
    Default(u8),
    Hide(usize),
    Unhide(usize),
    HideAll(bool),
    RemoveTool(usize),
    AddTool(usize, ToolSpec),
    Action(usize, u8),
    AddCondition(usize, u8, usize),
    RemoveCondition(usize, u8, usize),
    AddLimit(usize, usize),
    RemoveLimit(usize, usize),
    Max(usize, u8),
    Window(usize, u8),
    AllTools(usize, bool),
    Timeout(usize, Option<usize>),
    Reason(usize, Option<u8>),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (0u8..3).prop_map(Edit::Default),
        (0usize..4).prop_map(Edit::Hide),
        (0usize..4).prop_map(Edit::Unhide),
        prop::bool::ANY.prop_map(Edit::HideAll),
        (0usize..3).prop_map(Edit::RemoveTool),
        (0usize..3, tool_spec()).prop_map(|(t, s)| Edit::AddTool(t, s)),
        (0usize..3, 0u8..3).prop_map(|(t, a)| Edit::Action(t, a)),
        (0usize..3, 0u8..3, 0usize..7).prop_map(|(t, l, c)| Edit::AddCondition(t, l, c)),
        (0usize..3, 0u8..3, 0usize..7).prop_map(|(t, l, c)| Edit::RemoveCondition(t, l, c)),
        (0usize..3, 0usize..2).prop_map(|(t, c)| Edit::AddLimit(t, c)),
        (0usize..3, 0usize..2).prop_map(|(t, c)| Edit::RemoveLimit(t, c)),
        (0usize..2, 1u8..40).prop_map(|(c, m)| Edit::Max(c, m)),
        (0usize..2, 0u8..3).prop_map(|(c, w)| Edit::Window(c, w)),
        (0usize..2, prop::bool::ANY).prop_map(|(c, on)| Edit::AllTools(c, on)),
        (0usize..3, prop::option::of(0usize..2)).prop_map(|(t, o)| Edit::Timeout(t, o)),
        (0usize..3, prop::option::of(0u8..2)).prop_map(|(t, r)| Edit::Reason(t, r)),
    ]
}

fn apply(spec: &mut Spec, edit: &Edit) {
    match edit.clone() {
        Edit::Default(d) => spec.default = d,
        Edit::Hide(i) => spec.hide.push(i),
        Edit::Unhide(i) => spec.hide.retain(|h| *h != i),
        Edit::HideAll(on) => spec.hide_all = on,
        Edit::RemoveTool(t) => {
            spec.tools.remove(&t);
        }
        Edit::AddTool(t, s) => {
            spec.tools.insert(t, s);
        }
        Edit::Action(t, a) => {
            if let Some(ts) = spec.tools.get_mut(&t) {
                ts.action = a;
            }
        }
        Edit::AddCondition(t, l, c) | Edit::RemoveCondition(t, l, c) => {
            if let Some(ts) = spec.tools.get_mut(&t) {
                let v = match l {
                    0 => &mut ts.require,
                    1 => &mut ts.deny_if,
                    _ => &mut ts.approve_if,
                };
                if matches!(edit, Edit::AddCondition(..)) {
                    v.push(c);
                } else {
                    v.retain(|x| *x != c);
                }
            }
        }
        Edit::AddLimit(t, c) => {
            if let Some(ts) = spec.tools.get_mut(&t) {
                ts.limits.push(c);
            }
        }
        Edit::RemoveLimit(t, c) => {
            if let Some(ts) = spec.tools.get_mut(&t) {
                ts.limits.retain(|x| *x != c);
            }
        }
        Edit::Max(c, m) => spec.counters[c].max = m,
        Edit::Window(c, w) => spec.counters[c].window = w,
        Edit::AllTools(c, on) => {
            spec.all_tools.retain(|x| *x != c);
            if on {
                spec.all_tools.push(c);
            }
        }
        Edit::Timeout(t, o) => {
            if let Some(ts) = spec.tools.get_mut(&t) {
                ts.timeout = o;
            }
        }
        Edit::Reason(t, r) => {
            if let Some(ts) = spec.tools.get_mut(&t) {
                ts.reason = r;
            }
        }
    }
}

/// Counters that have seen `rate[counter]` per second, steadily: a longer window holds more.
struct Steady(BTreeMap<String, f64>);

impl CounterView for Steady {
    fn used(&self, key: &CounterKey, window_ms: u64, _: u64) -> f64 {
        #[expect(clippy::cast_precision_loss, reason = "small test windows")]
        let secs = window_ms as f64 / 1000.0;
        self.0.get(&key.counter).copied().unwrap_or(0.0) * secs
    }
    fn retry_after_ms(&self, _: &CounterKey, _: u64, _: f64, _: f64, _: u64) -> Option<u64> {
        None
    }
}

#[derive(Debug, Clone)]
struct Call {
    tool: usize,
    n: u8,
    s: u8,
    remembered: u8,
    rates: (u8, u8),
}

fn call() -> impl Strategy<Value = Call> {
    (0usize..5, 0u8..6, 0u8..4, 0u8..3, (0u8..5, 0u8..5)).prop_map(
        |(tool, n, s, remembered, rates)| Call {
            tool,
            n,
            s,
            remembered,
            rates,
        },
    )
}

/// 0 allow, 1 ask a human, 2 deny.
fn strictness(policy: &Policy, c: &Call) -> u8 {
    let mut args = serde_json::Map::new();
    if let Some(n) = [
        None,
        Some(json!(3)),
        Some(json!(7)),
        Some(json!(12)),
        Some(json!("7")),
        Some(json!("x")),
    ][usize::from(c.n)]
    .clone()
    {
        args.insert("n".into(), n);
    }
    if let Some(s) = [None, Some("x"), Some("y1"), Some("z")][usize::from(c.s)] {
        args.insert("s".into(), json!(s));
    }
    let args = Value::Object(args);
    let tool = ["a", "b", "c", "d", "e"][c.tool];
    let facts = CallFacts {
        grant: "g",
        session: "s",
        server: "srv",
        tool,
        args: &args,
    };
    let remembered = match c.remembered {
        0 => None,
        1 => Some(RememberedDecision::Approve),
        _ => Some(RememberedDecision::Deny),
    }
    .map(|decision| Remembered {
        decision,
        id: "r".into(),
        note: None,
    });
    let rate = |r: u8| [0.0, 0.01, 0.1, 1.0, 100.0][usize::from(r)];
    let counters = Steady(BTreeMap::from([
        ("c1".to_owned(), rate(c.rates.0)),
        ("c2".to_owned(), rate(c.rates.1)),
    ]));
    match evaluate(
        policy,
        &facts,
        remembered.as_ref(),
        &counters,
        1_000_000_000,
    )
    .verdict
    {
        Verdict::Allow => 0,
        Verdict::RequireApproval { .. } => 1,
        Verdict::Deny { .. } => 2,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_policy_never_differs_from_itself(s in spec()) {
        let p = policy(&render(&s));
        prop_assert!(diff(&p, &p).is_empty(), "{}", diff(&p, &p));
    }

    #[test]
    fn a_change_with_no_looser_difference_never_decides_more_leniently(
        s in spec(),
        edits in prop::collection::vec(edit(), 1..4),
        calls in prop::collection::vec(call(), 40),
    ) {
        let mut t = s.clone();
        for e in &edits {
            apply(&mut t, e);
        }
        let (old, new) = (policy(&render(&s)), policy(&render(&t)));
        let d = diff(&old, &new);
        prop_assume!(!d.loosens());
        for c in &calls {
            let (a, b) = (strictness(&old, c), strictness(&new, c));
            prop_assert!(
                b >= a,
                "{c:?} was {a} under\n{}\nand is {b} under\n{}\ndiff:\n{d}",
                render(&s),
                render(&t)
            );
        }
    }
}
