//! Decision tables: every operator, every decision path and the evaluation order.
#![expect(clippy::panic, reason = "test helpers fail the test by panicking")]

use airlock_policy::{
    CallFacts, DenyKind, Evaluation, NoCounters, Policy, Remembered, RememberedDecision,
    SlidingWindows, Verdict, evaluate,
};
use serde_json::{Value, json};

fn policy(src: &str) -> Policy {
    Policy::parse(src, "test.json").unwrap_or_else(|e| panic!("invalid test policy:\n{e}"))
}

fn call(p: &Policy, tool: &str, args: Value) -> Evaluation {
    call_with(p, tool, args, None)
}

fn call_with(p: &Policy, tool: &str, args: Value, remembered: Option<&Remembered>) -> Evaluation {
    let facts = CallFacts {
        grant: "alice",
        session: "s1",
        server: "pusher",
        tool,
        args: &args,
    };
    evaluate(p, &facts, remembered, &NoCounters, 1_000_000)
}

/// Does a single `require` condition hold for these args? (Allow = holds.)
fn holds(op: &str, value: Value, arg: Value) -> bool {
    let cond = json!({"path": "args.x", "op": op, "value": value});
    let src = json!({"version": "1", "default": "deny", "tools": {"t": {"require": [cond]}}});
    let p = policy(&src.to_string());
    let args = if arg == json!("<missing>") {
        json!({})
    } else {
        json!({ "x": arg })
    };
    match call(&p, "t", args).verdict {
        Verdict::Allow => true,
        Verdict::Deny {
            kind: DenyKind::Require,
            ..
        } => false,
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn operator_table() {
    let table: Vec<(&str, Value, Value, bool)> = vec![
        // eq / neq: numbers and numeric strings compare as numbers, else as JSON values
        ("eq", json!(5), json!(5), true),
        ("eq", json!(5), json!(5.0), true),
        ("eq", json!(5), json!("5"), true),
        ("eq", json!("5.0"), json!(5), true),
        ("eq", json!("abc"), json!("abc"), true),
        ("eq", json!("abc"), json!("ABC"), false),
        ("eq", json!(true), json!(true), true),
        ("eq", json!(true), json!("true"), false),
        ("eq", json!(null), json!(null), true),
        ("eq", json!({"a": [1]}), json!({"a": [1]}), true),
        ("eq", json!("héllo 👋"), json!("héllo 👋"), true),
        ("eq", json!(5), json!("<missing>"), false),
        ("neq", json!(5), json!(6), true),
        ("neq", json!(5), json!("5"), false),
        ("neq", json!("a"), json!("b"), true),
        ("neq", json!("a"), json!("<missing>"), false),
        // huge integers compare exactly, beyond f64 precision
        (
            "eq",
            json!(9007199254740993_u64),
            json!(9007199254740992_u64),
            false,
        ),
        (
            "eq",
            json!(18446744073709551615_u64),
            json!("18446744073709551615"),
            true,
        ),
        (
            "gt",
            json!(9007199254740992_u64),
            json!(9007199254740993_u64),
            true,
        ),
        ("lt", json!(1e300), json!(1e301), false),
        // "NaN"/"inf" are not numbers
        ("eq", json!(1), json!("inf"), false),
        // in / not_in
        ("in", json!(["a", "b"]), json!("a"), true),
        ("in", json!(["a", "b"]), json!("c"), false),
        ("in", json!([1, 2]), json!("2"), true),
        ("in", json!([]), json!("a"), false),
        ("in", json!(["a"]), json!("<missing>"), false),
        ("not_in", json!(["a", "b"]), json!("c"), true),
        ("not_in", json!(["a", "b"]), json!("b"), false),
        ("not_in", json!(["a"]), json!("<missing>"), false),
        // numeric ops: numbers and numeric strings; anything else fails closed
        ("lt", json!(10), json!(9), true),
        ("lt", json!(10), json!(10), false),
        ("lte", json!(10), json!(10), true),
        ("lte", json!(10), json!(10.5), false),
        ("gt", json!(10), json!(11), true),
        ("gt", json!(10), json!("11"), true),
        ("gt", json!(10), json!(-11), false),
        ("gte", json!(10), json!(10), true),
        ("gte", json!(-1.5), json!(-1.5), true),
        ("gt", json!(10), json!("eleven"), false),
        ("gt", json!(10), json!(true), false),
        ("gt", json!(10), json!(null), false),
        ("lt", json!(10), json!([1]), false),
        ("lt", json!(10), json!("<missing>"), false),
        // regex: strings, or any string of an array of strings
        ("regex", json!("^private-"), json!("private-x"), true),
        ("regex", json!("^private-"), json!("public-x"), false),
        (
            "regex",
            json!("^private-"),
            json!(["public", "private-x"]),
            true,
        ),
        ("regex", json!("^private-"), json!(["public"]), false),
        ("regex", json!("^\\p{Greek}+$"), json!("αβγ"), true),
        ("regex", json!("^a"), json!(5), false),
        ("regex", json!("^a"), json!("<missing>"), false),
        // contains: substring, or array element
        ("contains", json!("admin"), json!("private-admin-x"), true),
        ("contains", json!("admin"), json!("private-x"), false),
        ("contains", json!("é"), json!("café"), true),
        ("contains", json!("b"), json!(["a", "b"]), true),
        ("contains", json!(2), json!([1, "2"]), true),
        ("contains", json!("z"), json!(["a", "b"]), false),
        ("contains", json!("a"), json!(5), false),
        ("contains", json!("a"), json!("<missing>"), false),
        // exists
        ("exists", json!(true), json!("x"), true),
        ("exists", json!(true), json!(null), false),
        ("exists", json!(true), json!("<missing>"), false),
        ("exists", json!(false), json!("<missing>"), true),
        ("exists", json!(false), json!(null), true),
        ("exists", json!(false), json!(0), false),
    ];
    for (op, value, arg, want) in table {
        assert_eq!(
            holds(op, value.clone(), arg.clone()),
            want,
            "{op} {value} on {arg}"
        );
    }
}

#[test]
fn exists_defaults_to_true() {
    let p = policy(
        r#"{"version":"1","default":"deny","tools":{"t":{"require":[{"path":"args.x","op":"exists"}]}}}"#,
    );
    assert_eq!(call(&p, "t", json!({"x": 1})).verdict, Verdict::Allow);
    assert!(matches!(
        call(&p, "t", json!({})).verdict,
        Verdict::Deny { .. }
    ));
}

#[test]
fn nested_paths_and_array_indices() {
    let p = policy(
        r#"{"version":"1","default":"deny","tools":{"t":{"deny_if":[
            {"path":"args.events.1.channel","op":"eq","value":"admin"},
            {"path":"args.a.b.c","op":"gt","value":3}]}}}"#,
    );
    let e = call(
        &p,
        "t",
        json!({"events": [{"channel": "x"}, {"channel": "admin"}]}),
    );
    assert_eq!(e.rule, "/tools/t/deny_if/0");
    assert_eq!(
        call(&p, "t", json!({"events": [{"channel": "admin"}]})).verdict,
        Verdict::Allow
    );
    assert_eq!(
        call(&p, "t", json!({"a": {"b": {"c": 4}}})).rule,
        "/tools/t/deny_if/1"
    );
    assert_eq!(
        call(&p, "t", json!({"a": {"b": [4]}})).verdict,
        Verdict::Allow
    );
    // `args.events.x` on an array: not an index, so missing
    assert_eq!(
        call(&p, "t", json!({"events": "admin"})).verdict,
        Verdict::Allow
    );
    assert_eq!(call(&p, "t", Value::Null).verdict, Verdict::Allow);
}

const ORDER: &str = r#"{
  "version": "1",
  "default": "deny",
  "hide": ["secret_tool"],
  "tools": {
    "secret_tool": {},
    "blocked": { "action": "deny", "reason": "Never from an agent" },
    "t": {
      "action": "require_approval",
      "reason": "Sends messages",
      "approval_timeout": "10m",
      "require": [ { "path": "args.channel", "op": "exists", "on_deny": "Say which channel" } ],
      "deny_if": [
        { "path": "args.channel", "op": "regex", "value": "^private-admin-", "on_deny": "Admin channels are off limits" },
        { "path": "args.size", "op": "gt", "value": 100 }
      ],
      "limits": [ { "counter": "t_rate", "window": "minute", "max": 2, "scope": "grant" } ]
    },
    "auth": {
      "approve_if": [ { "path": "args.channel", "op": "regex", "value": "^presence-" } ]
    },
    "free": {}
  }
}"#;

fn kind(e: &Evaluation) -> Option<DenyKind> {
    match e.verdict {
        Verdict::Deny { kind, .. } => Some(kind),
        _ => None,
    }
}

#[test]
fn decision_paths_in_order() {
    let p = policy(ORDER);
    let approve = Remembered {
        decision: RememberedDecision::Approve,
        id: "r1".into(),
        note: None,
    };
    let deny = Remembered {
        decision: RememberedDecision::Deny,
        id: "r2".into(),
        note: Some("use #general".into()),
    };

    // hide beats everything, even a remembered approval
    let e = call_with(&p, "secret_tool", json!({}), Some(&approve));
    assert_eq!(
        (kind(&e), e.rule.as_str()),
        (Some(DenyKind::Hidden), "(hidden)")
    );
    assert_eq!(e.message, "Denied by policy: tool `secret_tool` is hidden");

    // unlisted + default deny
    let e = call(&p, "other", json!({}));
    assert_eq!(
        (kind(&e), e.rule.as_str()),
        (Some(DenyKind::Default), "(default)")
    );

    // action deny, with its reason
    let e = call_with(&p, "blocked", json!({}), Some(&approve));
    assert_eq!(kind(&e), Some(DenyKind::Action));
    assert_eq!(
        e.message,
        "Denied by policy: Never from an agent (rule /tools/blocked/action)"
    );

    // require before deny_if
    let e = call(&p, "t", json!({"size": 1000}));
    assert_eq!(
        (kind(&e), e.rule.as_str()),
        (Some(DenyKind::Require), "/tools/t/require/0")
    );
    assert_eq!(
        e.message,
        "Denied by policy: Say which channel (rule /tools/t/require/0)"
    );

    // deny_if before a remembered approval
    let e = call_with(
        &p,
        "t",
        json!({"channel": "private-admin-ops"}),
        Some(&approve),
    );
    assert_eq!(kind(&e), Some(DenyKind::DenyIf));
    assert_eq!(
        e.message,
        "Denied by policy: Admin channels are off limits (rule /tools/t/deny_if/0)"
    );
    // default message names the condition
    let e = call(&p, "t", json!({"channel": "c", "size": 101}));
    assert_eq!(
        e.message,
        "Denied by policy: matched `args.size` gt 100 (rule /tools/t/deny_if/1)"
    );
    // fail closed: deny_if on a non-number denies
    let e = call(&p, "t", json!({"channel": "c", "size": "big"}));
    assert_eq!(kind(&e), Some(DenyKind::DenyIf));
    assert_eq!(
        e.message,
        "Denied by policy: cannot check `args.size` gt 100 (`args.size` is not a number) (rule /tools/t/deny_if/1)"
    );

    // remembered deny, with the human's note
    let e = call_with(&p, "t", json!({"channel": "c"}), Some(&deny));
    assert_eq!(
        (kind(&e), e.rule.as_str()),
        (Some(DenyKind::Remembered), "(remembered)")
    );
    assert_eq!(
        e.message,
        "Denied by a human (remembered decision r2): use #general"
    );

    // require_approval, with timeout, reason and the limits it would use
    let e = call(&p, "t", json!({"channel": "c"}));
    assert_eq!(
        e.verdict,
        Verdict::RequireApproval {
            timeout_ms: Some(600_000)
        }
    );
    assert_eq!(e.rule, "/tools/t/action");
    assert_eq!(
        e.message,
        "Approval required: Sends messages (rule /tools/t/action)"
    );
    assert_eq!(e.reason.as_deref(), Some("Sends messages"));
    assert_eq!(e.limit_uses.len(), 1);
    assert_eq!(e.limit_uses[0].key.scope_value, "alice");

    // a remembered approval skips the human
    let e = call_with(&p, "t", json!({"channel": "c"}), Some(&approve));
    assert_eq!(
        (e.verdict, e.rule.as_str()),
        (Verdict::Allow, "(remembered)")
    );
    assert_eq!(e.limit_uses.len(), 1);

    // approve_if
    let e = call(&p, "auth", json!({"channel": "presence-room"}));
    assert_eq!(e.verdict, Verdict::RequireApproval { timeout_ms: None });
    assert_eq!(e.rule, "/tools/auth/approve_if/0");
    let e = call(&p, "auth", json!({"channel": "private-room"}));
    assert_eq!(
        (e.verdict, e.rule.as_str()),
        (Verdict::Allow, "/tools/auth")
    );
    // fail closed toward a human: approve_if that cannot be decided asks
    let e = call(&p, "auth", json!({"channel": 7}));
    assert!(matches!(e.verdict, Verdict::RequireApproval { .. }));

    // a listed `{}` tool is allowed
    let e = call(&p, "free", json!({}));
    assert_eq!(e.verdict, Verdict::Allow);
    assert_eq!(e.message, "Allowed by policy (rule /tools/free)");
}

#[test]
fn limits_are_checked_before_asking_a_human() {
    let p = policy(ORDER);
    let mut w = SlidingWindows::new();
    let args = json!({"channel": "c"});
    let facts = CallFacts {
        grant: "alice",
        session: "s",
        server: "pusher",
        tool: "t",
        args: &args,
    };
    for i in 0..2 {
        let e = evaluate(&p, &facts, None, &w, 1_000 + i);
        assert!(matches!(e.verdict, Verdict::RequireApproval { .. }));
        w.reserve(&e.limit_uses, 1_000 + i).unwrap();
    }
    let e = evaluate(&p, &facts, None, &w, 13_000);
    assert_eq!(
        e.verdict,
        Verdict::Deny {
            kind: DenyKind::Limit,
            retry_after_ms: Some(48_000)
        }
    );
    assert_eq!(
        e.message,
        "Rate limit reached: at most 2 calls per minute for `t_rate`; retry in 48 s (rule /tools/t/limits/0)"
    );
    // another grant has its own counter
    let bob = CallFacts {
        grant: "bob",
        ..facts
    };
    assert!(matches!(
        evaluate(&p, &bob, None, &w, 13_000).verdict,
        Verdict::RequireApproval { .. }
    ));
    // the window slides: one minute after the first call it fits again
    let e = evaluate(&p, &facts, None, &w, 61_000);
    assert!(matches!(e.verdict, Verdict::RequireApproval { .. }));
}

const SPEND: &str = r#"{"version":"1","default":"allow",
  "all_tools":{"limits":[{"counter":"all","window":"minute","max":100,"scope":"global"}]},
  "tools":{"refund":{"limits":[
    {"counter":"all","window":"minute","max":100,"scope":"global"},
    {"counter":"spend","window":"day","max":100,"scope":"server","increment_from":"args.amount"}]}}}"#;

#[test]
fn spend_limits_sum_the_argument_and_fail_closed_on_bad_amounts() {
    let p = policy(SPEND);
    let mut w = SlidingWindows::new();
    let reserve = |w: &mut SlidingWindows, amount: Value, now: u64| {
        let args = json!({ "amount": amount });
        let facts = CallFacts {
            grant: "g",
            session: "s",
            server: "shop",
            tool: "refund",
            args: &args,
        };
        let e = evaluate(&p, &facts, None, &*w, now);
        if e.verdict == Verdict::Allow {
            w.reserve(&e.limit_uses, now).unwrap();
        }
        e
    };
    // the same counter in all_tools and the tool counts once
    let e = reserve(&mut w, json!(60), 0);
    assert_eq!(e.limit_uses.len(), 2);
    assert_eq!(e.limit_uses[1].amount, 60.0);
    assert_eq!(reserve(&mut w, json!("39.5"), 10).verdict, Verdict::Allow);
    let e = reserve(&mut w, json!(1), 20);
    assert_eq!(kind(&e), Some(DenyKind::Limit));
    assert_eq!(
        e.message,
        "Spend limit reached: at most 100 of `args.amount` per day for `spend` (99.5 used, 1 requested); retry in 24 h (rule /tools/refund/limits/1)"
    );
    assert_eq!(reserve(&mut w, json!(0.5), 20).verdict, Verdict::Allow);
    for (bad, why) in [
        (Value::Null, "is missing"),
        (json!("ten"), "is not a number"),
        (json!(-5), "is negative"),
    ] {
        let e = reserve(&mut w, bad, 30);
        assert_eq!(kind(&e), Some(DenyKind::Limit));
        assert_eq!(
            e.message,
            format!(
                "Denied by policy: spend limit `spend` counts `args.amount`, which {why} (rule /tools/refund/limits/1)"
            )
        );
    }
    let e = reserve(&mut w, json!(1000), 100_000_000);
    assert_eq!(
        e.verdict,
        Verdict::Deny {
            kind: DenyKind::Limit,
            retry_after_ms: None
        }
    );
    assert!(
        e.message
            .contains("this call alone (1000) exceeds the limit"),
        "{}",
        e.message
    );
}

#[test]
fn default_allow_and_default_require_approval_still_count_all_tools_limits() {
    let p = policy(
        r#"{"version":"1","default":"require_approval","all_tools":{"limits":[{"counter":"c","window":10,"max":1,"scope":"session"}]}}"#,
    );
    let e = call(&p, "anything", json!({}));
    assert_eq!(e.verdict, Verdict::RequireApproval { timeout_ms: None });
    assert_eq!(e.rule, "(default)");
    assert_eq!(e.limit_uses[0].key.scope_value, "s1");
    assert_eq!(e.limit_uses[0].window_ms, 10_000);
    let p = policy(r#"{"version":"1","default":"allow","hide":["*"]}"#);
    assert!(p.is_hidden("anything"));
    assert_eq!(
        kind(&call(&p, "anything", json!({}))),
        Some(DenyKind::Hidden)
    );
}

#[test]
fn policylayer_policies_load_unchanged() {
    let pl = r#"{"version":"1","default":"deny","tools":{"terminate_user_connections":{"limits":[{"counter":"terminate_user_connections_rate","window":"minute","max":30,"scope":"grant"}]}}}"#;
    let p = policy(pl);
    assert_eq!(
        call(&p, "terminate_user_connections", json!({"userId": "u"})).verdict,
        Verdict::Allow
    );
    let docs = r#"{"version":"1","default":"deny","hide":["delete_account"],"all_tools":{"limits":[]},"tools":{"create_charge":{"require":[],"deny_if":[],"limits":[]}}}"#;
    let p = policy(docs);
    assert!(p.is_hidden("delete_account"));
    assert_eq!(call(&p, "create_charge", json!({})).verdict, Verdict::Allow);
}

#[test]
fn the_design_example_loads_and_decides() {
    let p = policy(include_str!("data/design-example.json"));
    assert_eq!(
        kind(&call(&p, "authorize_channel", json!({}))),
        Some(DenyKind::Hidden)
    );
    assert_eq!(call(&p, "list_channels", json!({})).limit_uses.len(), 1);
    let e = call(
        &p,
        "trigger_event",
        json!({"channel": "private-admin-x", "event": "e", "data": "d"}),
    );
    assert_eq!(
        e.message,
        "Denied by policy: Admin channels are off limits (rule /tools/trigger_event/deny_if/0)"
    );
    let e = call(&p, "terminate_user_connections", json!({"userId": "u-42"}));
    assert_eq!(
        e.verdict,
        Verdict::RequireApproval {
            timeout_ms: Some(600_000)
        }
    );
}

#[test]
fn revision_ignores_formatting_but_not_meaning() {
    let a = policy(r#"{"version":"1","default":"deny","tools":{"a":{},"b":{"action":"allow"}}}"#);
    let b = policy(
        "{\n \"tools\": {\"b\": {}, \"a\": {}},\n \"default\": \"deny\", \"version\": \"1\"\n}",
    );
    let c = policy(r#"{"version":"1","default":"allow","tools":{"a":{},"b":{}}}"#);
    assert_eq!(a.revision(), b.revision());
    assert_ne!(a.revision(), c.revision());
    assert!(a.revision().starts_with("sha256:"));
}

#[test]
fn may_ask_human_names_the_tools_whose_calls_can_wait_for_a_human() {
    let p = policy(
        r#"{"version":"1","default":"deny","hide":["secret"],"tools":{
            "gated":{"action":"require_approval"},
            "sometimes":{"approve_if":[{"path":"args.amount","op":"gt","value":100}]},
            "free":{},
            "blocked":{"action":"deny"},
            "secret":{"action":"require_approval"}}}"#,
    );
    assert!(p.may_ask_human("gated"));
    assert!(p.may_ask_human("sometimes"));
    assert!(!p.may_ask_human("free"));
    assert!(!p.may_ask_human("blocked"));
    assert!(!p.may_ask_human("secret"), "hidden tools are never offered");
    assert!(!p.may_ask_human("unlisted"), "default deny");
    let p = policy(r#"{"version":"1","default":"require_approval","tools":{"free":{}}}"#);
    assert!(p.may_ask_human("unlisted"));
    assert!(!p.may_ask_human("free"));
}

#[test]
fn a_star_path_checks_every_element_any_for_deny_if_and_approve_if_all_for_require() {
    let p = policy(
        r#"{"version":"1","default":"deny","tools":{
            "batch":{"deny_if":[{"path":"args.events.*.channel","op":"regex","value":"^private-admin-"}]},
            "strict":{"require":[{"path":"args.events.*.channel","op":"regex","value":"^public-"}]},
            "ask":{"approve_if":[{"path":"args.events.*.size","op":"gt","value":100}]},
            "labels":{"deny_if":[{"path":"args.labels.*","op":"eq","value":"secret"}]}}}"#,
    );
    let events = |channels: &[Value]| json!({"events": channels.iter().map(|c| json!({"channel": c, "size": 1})).collect::<Vec<_>>()});

    // deny_if fires when any element matches, and names it.
    let e = call(
        &p,
        "batch",
        events(&[json!("public-a"), json!("private-admin-x")]),
    );
    assert_eq!(kind(&e), Some(DenyKind::DenyIf));
    assert_eq!(e.rule, "/tools/batch/deny_if/0");
    assert!(
        e.message.contains("`args.events.1.channel`"),
        "{}",
        e.message
    );
    assert_eq!(
        call(&p, "batch", events(&[json!("public-a"), json!("public-b")])).verdict,
        Verdict::Allow
    );
    // An element that cannot be checked denies (fail closed), naming it; a missing one does not fire.
    let e = call(&p, "batch", events(&[json!("public-a"), json!(7)]));
    assert_eq!(kind(&e), Some(DenyKind::DenyIf));
    assert!(
        e.message
            .contains("`args.events.1.channel` is not a string"),
        "{}",
        e.message
    );
    assert_eq!(
        call(&p, "batch", json!({"events": [{"size": 1}]})).verdict,
        Verdict::Allow
    );

    // require needs every element, and says which one failed or is missing.
    assert_eq!(
        call(
            &p,
            "strict",
            events(&[json!("public-a"), json!("public-b")])
        )
        .verdict,
        Verdict::Allow
    );
    let e = call(
        &p,
        "strict",
        events(&[json!("public-a"), json!("private-b")]),
    );
    assert_eq!(kind(&e), Some(DenyKind::Require));
    assert!(
        e.message.contains("(`args.events.1.channel` does not)"),
        "{}",
        e.message
    );
    let e = call(
        &p,
        "strict",
        json!({"events": [{"channel": "public-a"}, {}]}),
    );
    assert!(
        e.message.contains("`args.events.1.channel` is missing"),
        "{}",
        e.message
    );
    // Nothing reached (no array, or an empty one) counts as a missing path: require denies.
    for args in [json!({}), json!({"events": []}), json!({"events": "x"})] {
        assert_eq!(
            kind(&call(&p, "strict", args.clone())),
            Some(DenyKind::Require),
            "{args}"
        );
    }

    // approve_if asks when any element matches.
    let ask = call(&p, "ask", json!({"events": [{"size": 1}, {"size": 500}]}));
    assert!(
        matches!(ask.verdict, Verdict::RequireApproval { .. }),
        "{ask:?}"
    );
    assert!(
        ask.message.contains("`args.events.1.size`"),
        "{}",
        ask.message
    );
    assert_eq!(
        call(&p, "ask", json!({"events": [{"size": 1}]})).verdict,
        Verdict::Allow
    );

    // On an object, `*` is every value.
    assert_eq!(
        kind(&call(
            &p,
            "labels",
            json!({"labels": {"team": "core", "class": "secret"}})
        )),
        Some(DenyKind::DenyIf)
    );
    assert_eq!(
        call(&p, "labels", json!({"labels": {"team": "core"}})).verdict,
        Verdict::Allow
    );
}

#[test]
fn a_spend_limit_counts_one_number_so_a_star_path_is_refused_at_load() {
    let err = Policy::parse(
        r#"{"version":"1","default":"allow","tools":{"pay":{"limits":[
            {"counter":"spend","window":"day","max":100,"scope":"grant","increment_from":"args.items.*.amount"}]}}}"#,
        "spend.json",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("spend.json:2:"), "{err}");
    assert!(err.contains("a spend limit counts one number"), "{err}");
    assert!(err.contains("/tools/pay/limits/0/increment_from"), "{err}");
}

#[test]
fn a_team_limit_is_one_counter_for_every_agent_session_and_server_apart_from_global() {
    let p = policy(
        r#"{"version":"1","default":"allow","tools":{"t":{"limits":[
          {"counter":"team_t","window":"minute","max":2,"scope":"team"},
          {"counter":"own_t","window":"minute","max":5,"scope":"global"}]}}}"#,
    );
    let mut w = SlidingWindows::new();
    let args = json!({});
    let callers = [
        ("alice", "s1", "a"),
        ("bob", "s2", "b"),
        ("carol", "s3", "c"),
    ];
    let mut verdicts = Vec::new();
    for (i, (grant, session, server)) in callers.into_iter().enumerate() {
        let facts = CallFacts {
            grant,
            session,
            server,
            tool: "t",
            args: &args,
        };
        let e = evaluate(&p, &facts, None, &w, 1_000 + i as u64);
        if e.verdict == Verdict::Allow {
            assert_eq!(e.limit_uses[0].key.scope, airlock_policy::Scope::Team);
            assert_eq!(e.limit_uses[0].key.scope_value, "");
            w.reserve(&e.limit_uses, 1_000 + i as u64).unwrap();
        }
        verdicts.push(kind(&e));
    }
    // Two fit the team's counter whoever asks; the third is over it, though `global` has room.
    assert_eq!(verdicts, [None, None, Some(DenyKind::Limit)]);
    assert_eq!(
        airlock_policy::CounterKey {
            counter: "team_t".into(),
            scope: airlock_policy::Scope::Team,
            scope_value: String::new(),
        }
        .to_string(),
        "`team_t` (team)"
    );
}
