//! Argument checks with zod 4's issue shapes, so invalid arguments read as the real server's
//! SDK writes them.

use std::borrow::Cow;

use serde_json::{Map, Value, json};

use super::error;
use crate::world;

pub(super) fn invalid_arguments(tool: &str, issues: &[Value]) -> Value {
    let issues = serde_json::to_string_pretty(issues).unwrap_or_default();
    error(format!(
        "MCP error -32602: Input validation error: Invalid arguments for tool {tool}: {issues}"
    ))
}

// ---- zod-like argument checks ------------------------------------------------------------

/// A JSON path as zod reports it (`["events", 0, "channel"]`).
pub(super) type Path<'p> = &'p [Value];

pub(super) fn path_with(path: Path<'_>, seg: impl Into<Value>) -> Vec<Value> {
    let mut p = path.to_vec();
    p.push(seg.into());
    p
}

/// The name zod gives a value's type in "received ..." messages.
pub(super) fn other_type(value: Option<&Value>) -> &'static str {
    match value {
        None => "undefined",
        Some(Value::Null) => "null",
        Some(Value::Bool(_)) => "boolean",
        Some(Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Array(_)) => "array",
        Some(Value::Object(_)) => "object",
    }
}

pub(super) fn invalid_type(expected: &str, received: &str, path: Path<'_>) -> Value {
    json!({
        "expected": expected,
        "code": "invalid_type",
        "path": path,
        "message": format!("Invalid input: expected {expected}, received {received}"),
    })
}

pub(super) fn too_small(origin: &str, minimum: usize, path: Path<'_>) -> Value {
    let unit = if origin == "array" {
        "items"
    } else {
        "characters"
    };
    json!({
        "origin": origin,
        "code": "too_small",
        "minimum": minimum,
        "inclusive": true,
        "path": path,
        "message": format!("Too small: expected {origin} to have >={minimum} {unit}"),
    })
}

pub(super) fn too_big(origin: &str, maximum: usize, path: Path<'_>) -> Value {
    let unit = if origin == "array" {
        "items"
    } else {
        "characters"
    };
    json!({
        "origin": origin,
        "code": "too_big",
        "maximum": maximum,
        "inclusive": true,
        "path": path,
        "message": format!("Too big: expected {origin} to have <={maximum} {unit}"),
    })
}

pub(super) fn invalid_union(errors: Vec<Vec<Value>>, path: Path<'_>) -> Value {
    json!({ "code": "invalid_union", "errors": errors, "path": path, "message": "Invalid input" })
}

/// String length as JavaScript counts it (UTF-16 code units), which is what zod checks.
pub(super) fn js_len(s: &str) -> usize {
    // A UTF-16 count never exceeds the UTF-8 byte count, so short ASCII-ish strings skip the walk.
    if s.is_ascii() {
        s.len()
    } else {
        s.encode_utf16().count()
    }
}

/// Checks a string of `min..=max` characters; `None` (with issues) when it is not one.
pub(super) fn string_check<'a>(
    value: Option<&'a Value>,
    path: Path<'_>,
    min: usize,
    max: Option<usize>,
    issues: &mut Vec<Value>,
) -> Option<&'a str> {
    let Some(Value::String(s)) = value else {
        issues.push(invalid_type("string", other_type(value), path));
        return None;
    };
    let len = js_len(s);
    let before = issues.len();
    if len < min {
        issues.push(too_small("string", min, path));
    }
    if let Some(max) = max
        && len > max
    {
        issues.push(too_big("string", max, path));
    }
    (issues.len() == before).then_some(s.as_str())
}

/// Like [`string_check`] for an optional field: absent is fine.
pub(super) fn optional_string<'a>(
    value: Option<&'a Value>,
    path: Path<'_>,
    min: usize,
    max: Option<usize>,
    issues: &mut Vec<Value>,
) -> Option<&'a str> {
    value.and_then(|v| string_check(Some(v), path, min, max, issues))
}

/// The `data` union: a string, or an object sent as its JSON text.
pub(super) fn data_check<'a>(
    value: Option<&'a Value>,
    path: Path<'_>,
    issues: &mut Vec<Value>,
) -> Option<Cow<'a, str>> {
    match value {
        Some(Value::String(s)) => Some(Cow::Borrowed(s)),
        Some(object @ Value::Object(_)) => Some(Cow::Owned(object.to_string())),
        other => {
            let received = other_type(other);
            issues.push(invalid_union(
                vec![
                    vec![invalid_type("string", received, &[])],
                    vec![invalid_type("record", received, &[])],
                ],
                path,
            ));
            None
        }
    }
}

/// The `channel` union of `trigger_event`: one name, or 1 to 100 names.
pub(super) fn channels_check<'a>(
    value: Option<&'a Value>,
    issues: &mut Vec<Value>,
) -> Option<Vec<&'a str>> {
    let path = [Value::from("channel")];
    let mut as_string = Vec::new();
    let mut as_array = Vec::new();
    match value {
        Some(Value::String(_)) => {
            if let Some(s) = string_check(value, &[], 1, Some(200), &mut as_string) {
                return Some(vec![s]);
            }
            as_array.push(invalid_type("array", "string", &[]));
        }
        Some(Value::Array(items)) => {
            as_string.push(invalid_type("string", "array", &[]));
            if items.is_empty() {
                as_array.push(too_small("array", 1, &[]));
            }
            if items.len() > world::MAX_CHANNELS_PER_TRIGGER {
                as_array.push(too_big("array", world::MAX_CHANNELS_PER_TRIGGER, &[]));
            }
            let names: Vec<&str> = items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| {
                    string_check(Some(item), &[i.into()], 1, Some(200), &mut as_array)
                })
                .collect();
            if as_array.is_empty() {
                return Some(names);
            }
        }
        other => {
            as_string.push(invalid_type("string", other_type(other), &[]));
            as_array.push(invalid_type("array", other_type(other), &[]));
        }
    }
    issues.push(invalid_union(vec![as_string, as_array], &path));
    None
}

pub(super) const INFO_VALUES: [&str; 2] = ["user_count", "subscription_count"];

/// The optional `info` list: which counts to return.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct InfoWanted {
    pub(super) user_count: bool,
    pub(super) subscription_count: bool,
}

pub(super) fn info_check(value: Option<&Value>, issues: &mut Vec<Value>) -> InfoWanted {
    let mut wanted = InfoWanted::default();
    let path = [Value::from("info")];
    match value {
        None => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                match item.as_str() {
                    Some("user_count") => wanted.user_count = true,
                    Some("subscription_count") => wanted.subscription_count = true,
                    _ => issues.push(json!({
                        "code": "invalid_value",
                        "values": INFO_VALUES,
                        "path": path_with(&path, i),
                        "message": "Invalid option: expected one of \"user_count\"|\"subscription_count\"",
                    })),
                }
            }
        }
        Some(other) => issues.push(invalid_type("array", other_type(Some(other)), &path)),
    }
    wanted
}

pub(super) fn field<'a>(args: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    args.get(key)
}

// ---- the tools -----------------------------------------------------------------------------
