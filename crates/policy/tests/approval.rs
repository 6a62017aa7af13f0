//! `"approval": "passphrase"`: parsed, checked with position and hint, kept in the model.

use airlock_policy::{ApprovalKind, Policy};

fn policy(tool: &str) -> String {
    format!(
        "{{\"version\": \"1\", \"default\": \"deny\", \"tools\": {{\n  \"refund\": {tool}\n}}}}"
    )
}

#[test]
fn a_passphrase_rule_is_known_per_tool() {
    let p = Policy::parse(
        &policy(r#"{"action": "require_approval", "approval": "passphrase"}"#),
        "p.json",
    )
    .unwrap_or_else(|d| panic!("{d}"));
    assert!(p.needs_passphrase("refund"));
    assert!(!p.needs_passphrase("other"));
    assert!(p.warnings().is_empty(), "{:?}", p.warnings());
    assert_eq!(
        p.document().tools["refund"].approval,
        ApprovalKind::Passphrase
    );

    let plain = Policy::parse(&policy(r#"{"action": "require_approval"}"#), "p.json")
        .unwrap_or_else(|d| panic!("{d}"));
    assert!(!plain.needs_passphrase("refund"));
    let human = Policy::parse(
        &policy(r#"{"approve_if": [{"path": "args.amount", "op": "gt", "value": 5}], "approval": "human"}"#),
        "p.json",
    )
    .unwrap_or_else(|d| panic!("{d}"));
    assert!(!human.needs_passphrase("refund") && human.warnings().is_empty());
}

#[test]
fn an_unknown_approval_word_is_an_error_with_its_position_and_a_hint() {
    let Err(d) = Policy::parse(
        &policy(r#"{"action": "require_approval", "approval": "passfrase"}"#),
        "p.json",
    ) else {
        panic!("valid");
    };
    assert_eq!(
        d.to_string(),
        "p.json:2:56: /tools/refund/approval: unknown approval `passfrase`, expected one of `human`, `passphrase`\n  = help: did you mean `passphrase`?"
    );
}

#[test]
fn a_passphrase_on_a_tool_that_never_asks_is_a_warning() {
    let p = Policy::parse(&policy(r#"{"approval": "passphrase"}"#), "p.json")
        .unwrap_or_else(|d| panic!("{d}"));
    let w = &p.warnings()[0];
    assert_eq!(w.pointer, "/tools/refund/approval");
    assert_eq!((w.line, w.column), (2, 26));
    assert!(w.message.contains("has no effect"), "{}", w.message);
    assert!(
        w.help
            .as_deref()
            .is_some_and(|h| h.contains("require_approval"))
    );
}
