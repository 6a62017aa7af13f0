//! Fuzzes `Policy::parse` (and, for policies that load, `evaluate`).
//!
//! Checks beyond "no panic": every error has a 1-based position and renders;
//! our spanned JSON parser agrees with serde_json on every document both accept;
//! a loaded policy evaluates a few calls without panicking.
#![no_main]

use airlock_policy::{CallFacts, NoCounters, Policy, SlidingWindows, evaluate, json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(ours) = json::parse(source) {
        if let Ok(theirs) = serde_json::from_str::<serde_json::Value>(source) {
            let ours = ours.to_value();
            assert!(same(&ours, &theirs), "json parsers disagree: {ours} vs {theirs}");
        }
    }
    match Policy::parse(source, "fuzz.json") {
        Ok(policy) => {
            assert!(policy.revision().starts_with("sha256:"));
            let args = serde_json::json!({"channel": "private-admin-x", "amount": 5, "events": [{"channel": "a"}]});
            let mut windows = SlidingWindows::new();
            let names: Vec<String> = policy.document().tools.keys().cloned().chain(["unlisted".to_owned()]).collect();
            for (i, tool) in names.iter().enumerate() {
                let facts = CallFacts { grant: "g", session: "s", server: "srv", tool, args: &args };
                let e = evaluate(&policy, &facts, None, &NoCounters, 1_000);
                assert!(!e.message.is_empty());
                let _ = windows.reserve(&e.limit_uses, 1_000 + i as u64);
                let e2 = evaluate(&policy, &facts, None, &windows, 1_000 + i as u64);
                assert!(!e2.rule.is_empty());
            }
        }
        Err(diagnostics) => {
            assert!(!diagnostics.is_empty());
            for d in &diagnostics {
                assert!(d.line >= 1 && d.column >= 1);
            }
            let _ = diagnostics.to_string();
        }
    }
});

/// Equal, except that floats may differ in the last bit: serde_json's default float
/// parser is not correctly rounded (found by this target: `1e105`), Rust's is.
fn same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => x == y || ((x - y) / x).abs() < 1e-15,
                _ => false,
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|((kx, vx), (ky, vy))| kx == ky && same(vx, vy))
        }
        _ => a == b,
    }
}
