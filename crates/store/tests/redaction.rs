//! Redaction measured on a corpus of secret shapes and look-alikes (`tests/redaction/corpus.json`),
//! properties over arbitrary nesting, hostile inputs, and the store's own write path.
//!
//! `cargo test -p airlock-store --test redaction -- --nocapture` prints the detection and
//! false-positive rates.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test on any error"
)]

use std::borrow::Cow;

use airlock_store::{Redactor, Store, canonical_args_hash};
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use proptest::prelude::*;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
struct Corpus {
    secrets: Vec<SecretShape>,
    look_alikes: Vec<LookAlike>,
}

#[derive(Debug, Deserialize)]
struct SecretShape {
    shape: String,
    args: Value,
    secrets: Vec<String>,
    keep: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct LookAlike {
    shape: String,
    args: Value,
}

/// One redactor for the property tests: building one compiles its patterns.
static REDACTOR: std::sync::LazyLock<Redactor> = std::sync::LazyLock::new(Redactor::default);

fn corpus() -> Corpus {
    let text = include_str!("redaction/corpus.json");
    serde_json::from_str(text).unwrap()
}

/// The output as a person or a script could read it: the JSON text, every string in it, and
/// those again with percent-encoding and JSON string escapes undone, layer after layer.
fn readings(output: &str) -> Vec<String> {
    let mut out = vec![output.to_owned()];
    let value: Value = serde_json::from_str(output).unwrap();
    let mut strings = Vec::new();
    collect_strings(&value, &mut strings);
    let mut layer = strings;
    for _ in 0..10 {
        out.extend(layer.iter().cloned());
        layer = layer
            .iter()
            .flat_map(|s| {
                let pct = percent_decode_str(s).decode_utf8_lossy().into_owned();
                let unescaped = s.replace("\\\\", "\\").replace("\\\"", "\"");
                [pct, unescaped]
            })
            .filter(|s| !out.contains(s))
            .collect();
        if layer.is_empty() {
            break;
        }
    }
    out
}

fn collect_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        Value::Object(map) => map.iter().for_each(|(k, v)| {
            out.push(k.clone());
            collect_strings(v, out);
        }),
        _ => {}
    }
}

fn revealed<'a>(output: &str, secrets: &'a [String]) -> Vec<&'a str> {
    let readings = readings(output);
    secrets
        .iter()
        .filter(|s| readings.iter().any(|r| r.contains(s.as_str())))
        .map(String::as_str)
        .collect()
}

#[test]
fn the_corpus_is_redacted_without_misses_or_false_positives() {
    let corpus = corpus();
    let r = Redactor::default();
    let mut misses = Vec::new();
    for case in &corpus.secrets {
        let out = r.redact_to_string(&case.args);
        let leaked = revealed(&out, &case.secrets);
        let strings = {
            let mut s = Vec::new();
            collect_strings(&serde_json::from_str(&out).unwrap(), &mut s);
            s.join("\n")
        };
        let lost: Vec<&String> = case
            .keep
            .iter()
            .filter(|k| !strings.contains(k.as_str()))
            .collect();
        let marked = readings(&out).iter().any(|x| x.contains(r.replacement()));
        if !leaked.is_empty() || !lost.is_empty() || !marked {
            misses.push(format!(
                "{}: leaked {leaked:?}, lost {lost:?}\n    in:  {}\n    out: {out}",
                case.shape, case.args
            ));
        }
    }
    let mut false_positives = Vec::new();
    for case in &corpus.look_alikes {
        let out: Value = serde_json::from_str(&r.redact_to_string(&case.args)).unwrap();
        if out != case.args {
            false_positives.push(format!(
                "{}\n    in:  {}\n    out: {out}",
                case.shape, case.args
            ));
        }
    }
    let (n_s, n_l) = (corpus.secrets.len(), corpus.look_alikes.len());
    let detected = n_s - misses.len();
    println!(
        "redaction corpus: {detected}/{n_s} secret shapes redacted (detection rate {:.1}%), \
         {}/{n_l} look-alikes changed (false-positive rate {:.1}%)",
        100.0 * detected as f64 / n_s as f64,
        false_positives.len(),
        100.0 * false_positives.len() as f64 / n_l as f64,
    );
    assert!(n_s + n_l >= 60, "the corpus must keep at least 60 shapes");
    assert!(
        misses.is_empty() && false_positives.is_empty(),
        "misses:\n{}\nfalse positives:\n{}",
        misses.join("\n"),
        false_positives.join("\n")
    );
}

#[test]
fn both_forms_agree_and_redacting_twice_is_redacting_once_on_the_corpus() {
    let corpus = corpus();
    let r = Redactor::default();
    let all = corpus
        .secrets
        .iter()
        .map(|c| &c.args)
        .chain(corpus.look_alikes.iter().map(|c| &c.args));
    for args in all {
        let once = r.redact_value(args);
        let text: Value = serde_json::from_str(&r.redact_to_string(args)).unwrap();
        assert_eq!(
            once, text,
            "redact_value and redact_to_string differ on {args}"
        );
        assert_eq!(r.redact_value(&once), once, "not idempotent on {args}");
    }
}

#[test]
fn unchanged_json_and_form_strings_keep_their_exact_text() {
    let r = Redactor::default();
    let body = "{ \"user\" : \"ann\",\n  \"n\": 1.50 }";
    assert!(matches!(r.redact_str(body), Cow::Borrowed(_)));
    assert!(matches!(r.redact_str("a=1&b=2"), Cow::Borrowed(_)));
    // A changed JSON text is written back as JSON, pretty when it was on several lines.
    let out = r.redact_str("{\"a\": 1, \"pin\": \"1234\"}");
    assert_eq!(out, r#"{"a":1,"pin":"[redacted]"}"#);
    let out = r.redact_str("{\n  \"pin\": \"1234\"\n}");
    assert_eq!(out, "{\n  \"pin\": \"[redacted]\"\n}");
    // A percent-encoded part stays percent-encoded.
    assert_eq!(
        r.redact_str("next=%2Fcb%3Ftoken%3Dabc%26x%3D1"),
        "next=%2Fcb%3Ftoken%3D%5Bredacted%5D%26x%3D1"
    );
}

// ---- hostile inputs ---------------------------------------------------------------------

#[test]
fn nesting_past_the_bounds_is_replaced_whole_not_stored_in_clear() {
    let r = Redactor::default();
    // 12 layers of JSON text in a JSON string (each doubles the escapes), a secret at the bottom.
    let mut inner = json!({"note": "x", "token": "deep-secret-12"});
    for _ in 0..12 {
        inner = json!({"body": inner.to_string()});
    }
    let out = r.redact_to_string(&inner);
    assert!(
        revealed(&out, &["deep-secret-12".to_owned()]).is_empty(),
        "{out}"
    );
    assert!(out.contains(r.replacement()));
    // The same through 40 layers of percent-encoding.
    let mut text = "token=pct-secret-40".to_owned();
    for _ in 0..40 {
        text = utf8_percent_encode(&text, NON_ALPHANUMERIC).to_string();
    }
    let out = r.redact_to_string(&json!({ "q": text }));
    assert!(
        revealed(&out, &["pct-secret-40".to_owned()]).is_empty(),
        "{out}"
    );
    // An object nested deeper than serde_json's own limit, built in code.
    let mut deep = json!("leaf");
    for _ in 0..1000 {
        deep = json!([deep]);
    }
    let out = r.redact_to_string(&json!({ "deep": deep }));
    assert!(out.contains(r.replacement()));
}

#[test]
fn large_and_adversarial_strings_are_redacted_without_failing() {
    let r = Redactor::default();
    // Many secret names with quotes that never close.
    let many = "pw:\"".repeat(200_000);
    let _ = r.redact_str(&many);
    let many = "pw: x1\n".repeat(100_000);
    assert!(!r.redact_str(&many).contains("x1"));
    // A megabyte of JSON-looking text that does not parse, and one just over the decode bound.
    let broken = format!(
        "{{\"password\": \"p1-secret\", {}",
        "\"a\": [".repeat(150_000)
    );
    assert!(!r.redact_str(&broken).contains("p1-secret"));
    let big = format!(
        "{{\"password\": \"big-secret\", \"pad\": \"{}\"}}",
        "x".repeat(airlock_store::redact::MAX_DECODE_BYTES)
    );
    assert!(!r.redact_str(&big).contains("big-secret"));
    // Percent signs everywhere.
    let _ = r.redact_str(&"%41%".repeat(300_000));
}

// ---- the store's write path --------------------------------------------------------------

#[tokio::test]
async fn the_store_keeps_corpus_secrets_out_of_the_file_and_hashes_the_unredacted_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("airlock.db");
    let store = Store::open(&path).unwrap();
    let corpus = corpus();
    for (i, case) in corpus.secrets.iter().enumerate() {
        let call = airlock_store::NewCall {
            at_ms: 1000 + i as i64,
            grant: None,
            session_id: None,
            client_name: None,
            client_version: None,
            server: "s".into(),
            tool: "t".into(),
            arguments: &case.args,
            args_hash: None,
            decision: airlock_store::Decision::Allow,
            decision_kind: None,
            rule: None,
            message: None,
            decided_by: airlock_store::DecidedBy::Policy,
            approval_id: None,
            policy_revision: None,
        };
        let id = store.record_call(call).await.unwrap();
        let got = store.get_call(id).await.unwrap().unwrap();
        assert_eq!(
            got.args_hash,
            canonical_args_hash(&case.args),
            "{}",
            case.shape
        );
        assert!(
            revealed(&got.arguments, &case.secrets).is_empty(),
            "{}: {}",
            case.shape,
            got.arguments
        );
    }
    store.close().await.unwrap();
    // No secret reached the database file or its WAL (short ones, like a 4-digit PIN, also occur
    // by chance in hashes and page bytes, so only those of 8 characters or more are looked for).
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let file = String::from_utf8_lossy(&bytes);
    for case in &corpus.secrets {
        for secret in case.secrets.iter().filter(|s| s.len() >= 8) {
            assert!(
                !file.contains(secret.as_str()),
                "{}: `{secret}` in the file",
                case.shape
            );
        }
    }
}

// ---- properties over nesting -------------------------------------------------------------

#[tokio::test]
async fn a_denial_message_and_an_upstream_error_are_redacted_like_the_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let store = airlock_store::Store::open(dir.path().join("h.db")).unwrap();
    let token = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";
    let args = serde_json::json!({"q": "x"});
    let call = airlock_store::NewCall {
        at_ms: 1,
        grant: None,
        session_id: None,
        client_name: None,
        client_version: None,
        server: "s".into(),
        tool: "t".into(),
        arguments: &args,
        args_hash: None,
        decision: airlock_store::Decision::Allow,
        decision_kind: None,
        rule: None,
        message: Some(format!("Allowed although `{token}` was seen")),
        decided_by: airlock_store::DecidedBy::Policy,
        approval_id: None,
        policy_revision: None,
    };
    let id = store.record_call(call).await.unwrap();
    let completion = airlock_store::Completion {
        outcome: airlock_store::Outcome::RpcError,
        latency_us: 5,
        error: Some(format!("bad credentials: Authorization: Bearer {token}")),
        at_ms: 2,
    };
    store.complete_call(id, completion).await.unwrap();
    let got = store.get_call(id).await.unwrap().unwrap();
    let message = got.message.unwrap_or_default();
    let error = got.completion.and_then(|c| c.error).unwrap_or_default();
    assert!(!message.contains(token), "{message}");
    assert!(!error.contains(token), "{error}");
    assert!(
        error.starts_with("bad credentials"),
        "the rest stays readable: {error}"
    );
}

/// A secret in one of the shapes the redactor knows, and the secret text itself.
fn leaf() -> impl Strategy<Value = (Value, String)> {
    let word = "[A-Za-z0-9]{10,24}";
    prop_oneof![
        word.prop_map(|s| (json!({ "password": s }), s)),
        word.prop_map(|s| (json!({ "meta": {"pw": s, "n": 1} }), s)),
        word.prop_map(|s| (Value::String(format!("a=1&access_token={s}&b=2")), s)),
        word.prop_map(|s| (Value::String(format!("Authorization: Bearer {s}")), s)),
        word.prop_map(|s| (Value::String(format!("postgres://app:{s}@db/x")), s)),
        word.prop_map(|s| (Value::String(format!("AWS_SECRET_ACCESS_KEY={s}\nX=1")), s)),
        word.prop_map(|s| (json!([{"name": "API_TOKEN", "value": s}]), s)),
        "[A-Za-z0-9]{36}".prop_map(|s| {
            let t = format!("ghp_{s}");
            (Value::String(format!("use {t} now")), t)
        }),
        "[A-Za-z0-9]{30}".prop_map(|s| {
            let t = format!("sk-ant-api03-{s}");
            (Value::String(t.clone()), t)
        }),
        "[A-Z0-9]{16}".prop_map(|s| {
            let t = format!("AKIA{s}");
            (Value::String(format!("id={t}")), t)
        }),
    ]
}

#[derive(Debug, Clone, Copy)]
enum Wrap {
    Member,
    JsonText,
    Array,
    Form,
    QueryUrl,
    PercentEncoded,
    Prose,
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn pct(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

fn wrap(v: Value, how: Wrap) -> Value {
    match how {
        Wrap::Member => json!({ "data": v, "id": 7 }),
        Wrap::JsonText => json!({ "body": v.to_string() }),
        Wrap::Array => json!([v, "x"]),
        Wrap::Form => Value::String(format!("a=1&data={}&b=2", pct(&as_text(&v)))),
        Wrap::QueryUrl => Value::String(format!(
            "https://example.com/cb?x=1&next={}",
            pct(&as_text(&v))
        )),
        Wrap::PercentEncoded => Value::String(pct(&as_text(&v))),
        Wrap::Prose => Value::String(format!("see {} thanks", as_text(&v))),
    }
}

fn wraps() -> impl Strategy<Value = Vec<Wrap>> {
    let one = prop_oneof![
        Just(Wrap::Member),
        Just(Wrap::JsonText),
        Just(Wrap::Array),
        Just(Wrap::Form),
        Just(Wrap::QueryUrl),
        Just(Wrap::PercentEncoded),
        Just(Wrap::Prose),
    ];
    prop::collection::vec(one, 0..6)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn nested_secrets_never_survive_and_redaction_is_idempotent(
        (leaf, secret) in leaf(),
        layers in wraps(),
    ) {
        let r = &*REDACTOR;
        let mut v = leaf;
        for how in &layers {
            v = wrap(v, *how);
        }
        let args = if v.is_object() { v } else { json!({ "arg": v }) };
        let text = r.redact_to_string(&args);
        let once = r.redact_value(&args);
        prop_assert_eq!(&serde_json::from_str::<Value>(&text).unwrap(), &once);
        prop_assert_eq!(&r.redact_value(&once), &once);
        let leaked = revealed(&text, std::slice::from_ref(&secret));
        prop_assert!(leaked.is_empty(), "leaked {} through {:?}: {}", secret, layers, text);
    }

    #[test]
    fn any_string_is_redacted_without_panicking_and_idempotently(s in any::<String>()) {
        let r = &*REDACTOR;
        let once = r.redact_str(&s).into_owned();
        prop_assert_eq!(r.redact_str(&once).into_owned(), once);
    }

    #[test]
    fn text_made_of_redaction_syntax_is_redacted_idempotently(
        s in r#"([a-z_]{1,8}|password|token|pw|Bearer |Authorization: |%[0-9A-F]{2}|[=&:;,"'\\{}\[\] \n-]|sk-|ghp_|eyJ){0,40}"#
    ) {
        let r = &*REDACTOR;
        let once = r.redact_str(&s).into_owned();
        prop_assert_eq!(r.redact_str(&once).into_owned(), once);
    }
}
