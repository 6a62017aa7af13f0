//! Redaction on the per-call path: `Redactor::redact_to_string`, which the store runs on every
//! call's arguments (and every approval's) before they are written.
//!
//! Run: `cargo bench -p airlock-store --bench redact -- --warm-up-time 2 --measurement-time 5`
//!
//! Inputs:
//! - `small`: a typical `trigger_event` call (three members, a nested object, no secret);
//! - `small_with_secrets`: an HTTP-request-like call with a header, a JSON body in a string and a
//!   form-encoded query, each holding a secret;
//! - `large`: a `write_file`-like call: 64 KiB of source text and 200 small records.

use std::hint::black_box;

use airlock_store::Redactor;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};

fn small() -> Value {
    json!({
        "channel": "private-orders-42",
        "event": "orders-updated",
        "data": {"id": 42, "note": "orders payments item 42", "priority": "high"},
    })
}

fn small_with_secrets() -> Value {
    json!({
        "method": "POST",
        "url": "https://api.example.com/v1/orders?page=2&access_token=a8Kd92jfLq0Zx7Yt",
        "headers": {"Content-Type": "application/json", "Authorization": "Bearer 9fQk2LxT7wPz"},
        "body": "{\"customer\": \"ann\", \"password\": \"hunter2\", \"items\": [1, 2, 3]}",
    })
}

/// About 64 KiB of code-like text (assignments, URLs, prose) and 200 records.
fn large() -> Value {
    let mut text = String::new();
    let mut i = 0u32;
    while text.len() < 64 * 1024 {
        text.push_str(&format!(
            "fn handler_{i}(req: Request) -> Response {{\n    let limit = {i} * 2; // see https://docs.example.com/api/{i}\n    log::info!(\"user {{}} asked for page {{}}\", req.user, limit);\n    Response::ok(format!(\"items: {{}}\", limit))\n}}\n\n"
        ));
        i += 1;
    }
    let records: Vec<Value> = (0..200)
        .map(|i| {
            json!({
                "id": i,
                "name": format!("customer {i}"),
                "email": format!("c{i}@example.com"),
                "tags": ["retail", "eu"],
                "balance": i as f64 * 1.5,
            })
        })
        .collect();
    json!({"path": "src/handlers.rs", "content": text, "records": records})
}

fn bench(c: &mut Criterion) {
    let redactor = Redactor::default();
    let mut group = c.benchmark_group("redact_to_string");
    for (name, value) in [
        ("small", small()),
        ("small_with_secrets", small_with_secrets()),
        ("large", large()),
    ] {
        let bytes = serde_json::to_string(&value).map_or(0, |s| s.len());
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function(name, |b| {
            b.iter(|| redactor.redact_to_string(black_box(&value)));
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
