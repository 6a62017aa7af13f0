//! The redactor's behaviour through its public methods.

use super::*;
use serde_json::json;

fn r() -> Redactor {
    Redactor::default()
}

fn redacted(v: &Value) -> Value {
    serde_json::from_str(&r().redact_to_string(v)).unwrap()
}

#[test]
fn secret_keys_are_replaced_at_any_depth_and_in_arrays() {
    let v = json!({
        "user": "ann",
        "password": "hunter2",
        "nested": {"Api-Key": "k1", "deeper": [{"github_token": "t"}, {"ok": 1}]},
        "list": [{"Authorization": "Basic x"}, "plain"],
        "credentials": {"user": "a", "pass": "b"},
    });
    let out = redacted(&v);
    assert_eq!(
        out,
        json!({
            "user": "ann",
            "password": "[redacted]",
            "nested": {"Api-Key": "[redacted]", "deeper": [{"github_token": "[redacted]"}, {"ok": 1}]},
            "list": [{"Authorization": "[redacted]"}, "plain"],
            "credentials": "[redacted]",
        })
    );
    // The view and the copying form agree.
    assert_eq!(out, r().redact_value(&v));
}

#[test]
fn key_matching_is_case_insensitive_and_not_absurd() {
    let r = r();
    for k in [
        "token",
        "TOKEN",
        "accessToken",
        "refresh_token",
        "db_password",
        "PASSWD",
        "client_secret",
        "apiKey",
        "X-API-KEY",
        "authorization",
        "Cookie",
        "set-cookie",
        "private_key",
        "aws_access_key_id",
        "credential",
        "credentials",
        "session",
        "session_id",
        "auth",
        "pwd",
    ] {
        assert!(r.is_secret_key(k), "{k} should be secret");
    }
    for k in [
        "author",
        "authority",
        "sessions_count",
        "max_tokens",
        "total_tokens",
        "token_count",
        "tokenizer",
        "keyboard",
        "monkey",
        "keys",
        "channel",
        "user_id",
        "passage",
        "description",
    ] {
        assert!(!r.is_secret_key(k), "{k} should not be secret");
    }
}

#[test]
fn each_value_pattern_is_redacted_inside_strings() {
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    let pem =
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\nabc\n-----END RSA PRIVATE KEY-----";
    let cases = [
        (
            "curl -H 'Authorization: Bearer abc.def-123'",
            "curl -H 'Authorization: Bearer [redacted]'",
        ),
        ("bearer abcdefghijklmnopqrstuvwxyz", "bearer [redacted]"),
        ("Basic dXNlcjpwYXNzd29yZA==", "Basic [redacted]"),
        (
            &format!("token is {jwt} ok") as &str,
            "token is [redacted] ok",
        ),
        (
            &format!("key:\n{pem}\nafter") as &str,
            "key:\n[redacted]\nafter",
        ),
        ("-----BEGIN PRIVATE KEY-----\nMIIE cut off", "[redacted]"),
        ("id AKIAIOSFODNN7EXAMPLE here", "id [redacted] here"),
        ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "[redacted]"),
        (
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
            "[redacted]",
        ),
        ("xoxb-1234567890-abcdefghij", "[redacted]"),
        ("sk-proj-abcdefghijklmnopqrstuvwx", "[redacted]"),
        ("sk-ant-api03-abcdefghijklmnopqrstuvwx", "[redacted]"),
        (
            "postgres://admin:s3cret@db:5432/x",
            "postgres://admin:[redacted]@db:5432/x",
        ),
    ];
    for (input, want) in cases {
        let out = redacted(&json!({"text": input, "in_array": [input]}));
        assert_eq!(out["text"], want, "input {input:?}");
        assert_eq!(out["in_array"][0], want, "input {input:?} in an array");
    }
}

#[test]
fn harmless_strings_are_untouched() {
    let v = json!({"channel": "private-admin-x", "event": "sk-short", "n": 5, "b": true, "x": null,
        "text": "a basic question about bearer bonds"});
    assert_eq!(redacted(&v), v);
    assert!(matches!(
        r().redact_str("hello"),
        std::borrow::Cow::Borrowed(_)
    ));
}

#[test]
fn config_adds_keys_patterns_and_replacement() {
    let r = Redactor::new(&RedactionConfig {
        extra_keys: vec!["Customer-Email".into()],
        extra_patterns: vec![r"\bACME-[0-9]{4}\b".into()],
        replacement: Some("***".into()),
    })
    .unwrap();
    let v = json!({"customer_email": "a@b.c", "note": "code ACME-1234 used", "password": 1});
    let out: Value = serde_json::from_str(&r.redact_to_string(&v)).unwrap();
    assert_eq!(
        out,
        json!({"customer_email": "***", "note": "code *** used", "password": "***"})
    );
}

#[test]
fn a_bad_pattern_is_named_in_the_error() {
    let err = Redactor::new(&RedactionConfig {
        extra_patterns: vec!["(unclosed".into()],
        ..Default::default()
    })
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid redaction pattern `(unclosed`: "),
        "{err}"
    );
}
