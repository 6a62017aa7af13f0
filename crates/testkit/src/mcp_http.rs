//! Reading answers of MCP's Streamable HTTP transport in tests.

use serde_json::Value;

/// The messages of an answer to a POST: a plain JSON body (one response, or a batch's array), or
/// the `data:` payloads of an SSE body, in order.
pub fn answer_messages(text: &str) -> Vec<Value> {
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        return vec![v];
    }
    text.split("\n\n")
        .filter_map(|ev| {
            let data: Vec<&str> = ev
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim_start)
                .collect();
            (!data.is_empty()).then(|| data.join("\n"))
        })
        .filter(|d| !d.is_empty())
        .filter_map(|d| serde_json::from_str(&d).ok())
        .collect()
}
