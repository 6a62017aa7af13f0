//! The standard request headers of the 2026-07-28 Streamable HTTP transport (SEP-2243), on both
//! sides of the relay.
//!
//! A 2026-07-28 POST repeats parts of its body as headers, so that gateways can route without
//! parsing JSON: `Mcp-Method` (= `method`), `Mcp-Name` (= `params.name` of `tools/call` and
//! `prompts/get`, `params.uri` of `resources/read|subscribe|unsubscribe`, and, for the tasks
//! extension, `params.taskId` of `tasks/get|update|cancel`), `MCP-Protocol-Version` (= the
//! `_meta` protocol version) and, for `tools/call`, one `Mcp-Param-<Token>` per input property
//! the tool annotated with `"x-mcp-header": "<Token>"` (the argument's string form; no header when
//! the argument is absent, null or not a string, number or boolean). A value that cannot travel
//! as a plain header value (leading or trailing space or tab, control or non-ASCII characters,
//! or one that looks like the sentinel itself) is sent as `=?base64?<standard base64>?=`.
//!
//! **Why a gate checks them.** A header that disagrees with the body is a confused-deputy
//! vector: something in front of Airlock may route or authorize on `Mcp-Name: read_file` while the
//! body calls `delete_file`. So a stateless request from an agent whose headers are missing,
//! duplicated or different from its body is refused with HTTP 400 and JSON-RPC -32020
//! (`HeaderMismatch`), the message naming the header ([`check`]), before anything reaches the
//! interceptor or the server. `Mcp-Name` for the task methods is checked only when present: the
//! spec's own list does not include them, and a client that follows it must not be refused.
//! Unknown extra headers (an `Mcp-Param-*` no annotation names) are ignored, as servers do.
//!
//! **Annotations are learned, not fetched.** `Mcp-Param-*` depends on the tool's input schema,
//! so [`ToolHeaders`] keeps, per server, the annotations of the `tools/list` results that pass
//! through: the relay learns from the list the agent was shown (after the interceptor), the HTTP
//! upstream link from the list the server sent. A call of a tool not (yet) listed is checked and
//! sent without `Mcp-Param-*`: an agent that never listed cannot know the annotations either, but
//! a strict server will refuse such a call when the tool has annotations (a known limit).
//!
//! Only annotations that are non-empty header tokens (RFC 9110 `tchar`s) on properties reached
//! from the schema root through `properties` alone are taken; others cannot be sent as headers.
//! Handshake-era (2025) requests are not touched by any of this.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use crate::jsonrpc;

/// The JSON-RPC error code for a header that disagrees with the body (SEP-2243).
pub(crate) const HEADER_MISMATCH: i64 = -32020;

const METHOD: &str = "Mcp-Method";
const NAME: &str = "Mcp-Name";
const PARAM_PREFIX: &str = "Mcp-Param-";
const PROTOCOL_VERSION: &str = "MCP-Protocol-Version";
/// The first revision with these headers. Versions are dates, so they compare as strings.
const FIRST_VERSION: &str = "2026-07-28";

const SENTINEL_START: &str = "=?base64?";
const SENTINEL_END: &str = "?=";

/// Whether a request's version asks for the standard headers: a `_meta` version of 2026-07-28
/// or later, or none at all (`server/discover`).
pub(crate) fn applies(msg: &Value) -> bool {
    meta_version(msg).is_none_or(|v| v >= FIRST_VERSION)
}

fn meta_version(msg: &Value) -> Option<&str> {
    msg.get("params")?
        .get("_meta")?
        .get(jsonrpc::META_VERSION)?
        .as_str()
}

/// How a method names its target in `Mcp-Name`.
enum NameRule {
    Required(&'static str),
    /// Checked when present; sent always.
    IfPresent(&'static str),
}

fn name_rule(method: &str) -> Option<NameRule> {
    match method {
        "tools/call" | "prompts/get" => Some(NameRule::Required("name")),
        "resources/read" | "resources/subscribe" | "resources/unsubscribe" => {
            Some(NameRule::Required("uri"))
        }
        "tasks/get" | "tasks/update" | "tasks/cancel" => Some(NameRule::IfPresent("taskId")),
        _ => None,
    }
}

/// The `Mcp-Name` value of a request and whether it is required, if its method has one.
fn name_of(msg: &Value) -> Option<(&str, bool)> {
    let (field, required) = match name_rule(jsonrpc::method(msg))? {
        NameRule::Required(f) => (f, true),
        NameRule::IfPresent(f) => (f, false),
    };
    let value = msg.get("params")?.get(field)?.as_str()?;
    Some((value, required))
}

/// The value as it travels in a header: itself, or `=?base64?...?=` when it cannot.
pub(crate) fn encode_value(value: &str) -> String {
    let edge = |c: Option<char>| matches!(c, Some(' ' | '\t'));
    let needs_wrapping = edge(value.chars().next())
        || edge(value.chars().next_back())
        || value.chars().any(|c| !(' '..='~').contains(&c))
        || unwrap_sentinel(value).is_some();
    if needs_wrapping {
        format!(
            "{SENTINEL_START}{}{SENTINEL_END}",
            BASE64_STANDARD.encode(value)
        )
    } else {
        value.to_owned()
    }
}

/// The value a header carries: unwrapped from `=?base64?...?=` when wrapped. None when the
/// wrapped text is not base64 of UTF-8.
pub(crate) fn decode_value(raw: &str) -> Option<String> {
    match unwrap_sentinel(raw) {
        None => Some(raw.to_owned()),
        Some(inner) => String::from_utf8(BASE64_STANDARD.decode(inner).ok()?).ok(),
    }
}

fn unwrap_sentinel(value: &str) -> Option<&str> {
    value
        .strip_prefix(SENTINEL_START)?
        .strip_suffix(SENTINEL_END)
}

/// One `x-mcp-header` annotation: the argument at `path` travels as `Mcp-Param-<token>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParamHeader {
    /// Property names from the root of the arguments to the annotated property.
    path: Vec<String>,
    token: String,
}

impl ParamHeader {
    fn header(&self) -> String {
        format!("{PARAM_PREFIX}{}", self.token)
    }

    /// The argument's header form: None when absent, null, or not a string, number or boolean.
    fn value_in(&self, arguments: Option<&Value>) -> Option<String> {
        let value = self.path.iter().try_fold(arguments?, |v, key| v.get(key))?;
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

/// RFC 9110 token characters: what a header name may be made of.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The usable `x-mcp-header` annotations of a tool's input schema, in schema order.
pub(crate) fn annotations(input_schema: &Value) -> Vec<ParamHeader> {
    fn walk(properties: Option<&Value>, path: &mut Vec<String>, out: &mut Vec<ParamHeader>) {
        let Some(Value::Object(properties)) = properties else {
            return;
        };
        for (name, schema) in properties {
            path.push(name.clone());
            if let Some(token) = schema.get("x-mcp-header").and_then(Value::as_str) {
                if is_token(token) {
                    out.push(ParamHeader {
                        path: path.clone(),
                        token: token.to_owned(),
                    });
                } else {
                    tracing::debug!(token, "x-mcp-header is not a header token; ignored");
                }
            }
            walk(schema.get("properties"), path, out);
            path.pop();
        }
    }
    let mut out = Vec::new();
    walk(input_schema.get("properties"), &mut Vec::new(), &mut out);
    out
}

/// Per tool, the `Mcp-Param-*` headers its calls carry, as learned from `tools/list` results.
#[derive(Debug, Default)]
pub(crate) struct ToolHeaders {
    tools: Mutex<HashMap<String, Arc<[ParamHeader]>>>,
}

impl ToolHeaders {
    /// Notes the annotations of every tool in a `tools/list` result (one page of it).
    pub(crate) fn learn(&self, list_result: &Value) {
        let Some(tools) = list_result.get("tools").and_then(Value::as_array) else {
            return;
        };
        let mut map = self.tools.lock().unwrap_or_else(PoisonError::into_inner);
        for tool in tools {
            let Some(name) = tool.get("name").and_then(Value::as_str) else {
                continue;
            };
            let found = tool.get("inputSchema").map(annotations).unwrap_or_default();
            map.insert(name.to_owned(), found.into());
        }
    }

    /// The annotations of the tool a `tools/call` names; None for other requests and for tools
    /// not listed yet.
    pub(crate) fn for_call(&self, msg: &Value) -> Option<Arc<[ParamHeader]>> {
        if jsonrpc::method(msg) != "tools/call" {
            return None;
        }
        let name = msg.get("params")?.get("name")?.as_str()?;
        self.tools
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }
}

/// A header of a stateless request that does not fit its body. The message names the header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Mismatch {
    #[error("missing `{header}` header; the request says `{expected}`")]
    Missing { header: String, expected: String },
    #[error("`{header}` header is sent more than once")]
    Duplicate { header: String },
    #[error("`{header}` header is `{found}` but the request says `{expected}`")]
    Differs {
        header: String,
        found: String,
        expected: String,
    },
    #[error("`{header}` header is not visible ASCII, or wraps invalid base64 or UTF-8")]
    Malformed { header: String },
    #[error("`{header}` header is sent but the argument `{argument}` is absent or not a value")]
    Unexpected { header: String, argument: String },
}

/// The one value of a header: None when absent, an error when repeated or not visible ASCII.
fn single<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, Mismatch> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Mismatch::Duplicate {
            header: name.to_owned(),
        });
    }
    first.to_str().map(Some).map_err(|_| Mismatch::Malformed {
        header: name.to_owned(),
    })
}

/// Compares a (possibly base64-wrapped) header value with the body's.
fn compare(header: &str, raw: Option<&str>, expected: &str) -> Result<(), Mismatch> {
    let Some(raw) = raw else {
        return Err(Mismatch::Missing {
            header: header.to_owned(),
            expected: expected.to_owned(),
        });
    };
    let found = decode_value(raw).ok_or_else(|| Mismatch::Malformed {
        header: header.to_owned(),
    })?;
    if found != expected {
        return Err(Mismatch::Differs {
            header: header.to_owned(),
            found,
            expected: expected.to_owned(),
        });
    }
    Ok(())
}

/// Checks the standard headers of a stateless request against its body. `params` are the
/// called tool's annotations when known (see [`ToolHeaders::for_call`]).
pub(crate) fn check(
    headers: &HeaderMap,
    msg: &Value,
    params: Option<&[ParamHeader]>,
) -> Result<(), Mismatch> {
    if let Some(version) = meta_version(msg) {
        let found = single(headers, PROTOCOL_VERSION)?;
        match found {
            None => {
                return Err(Mismatch::Missing {
                    header: PROTOCOL_VERSION.to_owned(),
                    expected: version.to_owned(),
                });
            }
            Some(found) if found != version => {
                return Err(Mismatch::Differs {
                    header: PROTOCOL_VERSION.to_owned(),
                    found: found.to_owned(),
                    expected: version.to_owned(),
                });
            }
            Some(_) => {}
        }
    }
    if !applies(msg) {
        return Ok(());
    }
    let method = jsonrpc::method(msg);
    match single(headers, METHOD)? {
        None => {
            return Err(Mismatch::Missing {
                header: METHOD.to_owned(),
                expected: method.to_owned(),
            });
        }
        Some(found) if found != method => {
            return Err(Mismatch::Differs {
                header: METHOD.to_owned(),
                found: found.to_owned(),
                expected: method.to_owned(),
            });
        }
        Some(_) => {}
    }
    if let Some((expected, required)) = name_of(msg) {
        let raw = single(headers, NAME)?;
        if required || raw.is_some() {
            compare(NAME, raw, expected)?;
        }
    }
    let arguments = msg.get("params").and_then(|p| p.get("arguments"));
    for param in params.unwrap_or_default() {
        let header = param.header();
        let raw = single(headers, &header)?;
        match param.value_in(arguments) {
            Some(expected) => compare(&header, raw, &expected)?,
            None if raw.is_some() => {
                return Err(Mismatch::Unexpected {
                    header,
                    argument: param.path.join("."),
                });
            }
            None => {}
        }
    }
    Ok(())
}

/// The standard headers for sending a stateless request upstream. Values that are not valid
/// header values even after encoding (a method with control characters) are left out.
pub(crate) fn outgoing(msg: &Value, params: Option<&[ParamHeader]>) -> HeaderMap {
    let mut out = HeaderMap::new();
    let mut put = |name: &str, value: &str| {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            out.insert(name, value);
        }
    };
    if let Some(version) = meta_version(msg) {
        put(PROTOCOL_VERSION, version);
    }
    if !applies(msg) {
        return out;
    }
    put(METHOD, jsonrpc::method(msg));
    if let Some((name, _)) = name_of(msg) {
        put(NAME, &encode_value(name));
    }
    let arguments = msg.get("params").and_then(|p| p.get("arguments"));
    for param in params.unwrap_or_default() {
        if let Some(value) = param.value_in(arguments) {
            put(&param.header(), &encode_value(&value));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                map.append(n, v);
            }
        }
        map
    }

    fn call(name: &str, arguments: Value) -> Value {
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            "name": name, "arguments": arguments,
            "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}})
    }

    fn deploy_schema() -> Value {
        json!({"type": "object", "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "image": {"type": "string"},
            "location": {"type": "object", "properties": {
                "zone": {"type": "integer", "x-mcp-header": "Zone"}}},
            "dry": {"type": "boolean", "x-mcp-header": "Dry-Run"}
        }})
    }

    #[test]
    fn plain_values_travel_as_they_are() {
        for v in ["deploy", "file:///a b.txt", "", "x=?base64", "a?="] {
            assert_eq!(encode_value(v), v);
            assert_eq!(decode_value(v).as_deref(), Some(v));
        }
    }

    #[test]
    fn values_a_header_cannot_carry_are_wrapped_in_base64() {
        let cases = [
            (" lead", "=?base64?IGxlYWQ=?="),
            ("trail\t", "=?base64?dHJhaWwJ?="),
            ("line\nbreak", "=?base64?bGluZQpicmVhaw==?="),
            ("café", "=?base64?Y2Fmw6k=?="),
            ("del\u{7f}", "=?base64?ZGVsfw==?="),
            ("=?base64?abc?=", "=?base64?PT9iYXNlNjQ/YWJjPz0=?="),
        ];
        for (value, wire) in cases {
            assert_eq!(encode_value(value), wire, "{value:?}");
            assert_eq!(decode_value(wire).as_deref(), Some(value), "{wire}");
        }
    }

    #[test]
    fn a_wrapped_value_that_is_not_base64_of_utf8_does_not_decode() {
        assert_eq!(decode_value("=?base64?not base64!?="), None);
        // 0xff 0xfe is not UTF-8.
        assert_eq!(decode_value("=?base64?//4=?="), None);
    }

    #[test]
    fn annotations_follow_properties_chains_only() {
        let found = annotations(&deploy_schema());
        let paths: Vec<(String, &str)> = found
            .iter()
            .map(|a| (a.path.join("."), a.token.as_str()))
            .collect();
        assert_eq!(
            paths,
            vec![
                ("region".to_owned(), "Region"),
                ("location.zone".to_owned(), "Zone"),
                ("dry".to_owned(), "Dry-Run"),
            ]
        );
        let off_chain = json!({"type": "object",
        "x-mcp-header": "Root",
        "$defs": {"a": {"type": "string", "x-mcp-header": "Def"}},
        "properties": {
            "list": {"type": "array", "items": {"type": "string", "x-mcp-header": "Item"}},
            "bad": {"type": "string", "x-mcp-header": "has space"},
            "empty": {"type": "string", "x-mcp-header": ""},
            "number": {"type": "string", "x-mcp-header": 7}
        }});
        assert_eq!(annotations(&off_chain), vec![]);
    }

    #[test]
    fn tool_headers_learn_from_tools_list_and_answer_for_calls() {
        let cache = ToolHeaders::default();
        let msg = call("deploy", json!({"region": "eu"}));
        assert!(cache.for_call(&msg).is_none(), "unknown before a list");
        cache.learn(&json!({"tools": [
            {"name": "deploy", "inputSchema": deploy_schema()},
            {"name": "plain", "inputSchema": {"type": "object"}}
        ]}));
        assert_eq!(cache.for_call(&msg).map(|a| a.len()), Some(3));
        assert_eq!(
            cache.for_call(&call("plain", json!({}))).map(|a| a.len()),
            Some(0)
        );
        let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
        assert!(cache.for_call(&list).is_none());
    }

    #[test]
    fn outgoing_headers_repeat_the_body() {
        let params = annotations(&deploy_schema());
        let msg = call(
            "deploy",
            json!({"region": " eu", "location": {"zone": 3}, "dry": null, "image": "x"}),
        );
        let out = outgoing(&msg, Some(&params));
        let get = |n: &str| out.get(n).and_then(|v| v.to_str().ok());
        assert_eq!(get("mcp-method"), Some("tools/call"));
        assert_eq!(get("mcp-name"), Some("deploy"));
        assert_eq!(get("mcp-protocol-version"), Some("2026-07-28"));
        assert_eq!(get("mcp-param-region"), Some("=?base64?IGV1?="));
        assert_eq!(get("mcp-param-zone"), Some("3"));
        assert_eq!(get("mcp-param-dry-run"), None, "null sends no header");
        assert_eq!(out.len(), 5);
        // The headers it sends pass its own check.
        assert_eq!(check(&out, &msg, Some(&params)), Ok(()));
    }

    #[test]
    fn a_resource_read_names_its_uri_and_a_task_its_id() {
        let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28"});
        let read = json!({"jsonrpc": "2.0", "id": 1, "method": "resources/read",
            "params": {"uri": "file:///tmp/ä", "_meta": meta}});
        let out = outgoing(&read, None);
        assert_eq!(
            out.get("mcp-name").and_then(|v| v.to_str().ok()),
            Some("=?base64?ZmlsZTovLy90bXAvw6Q=?=")
        );
        let get = json!({"jsonrpc": "2.0", "id": 2, "method": "tasks/get",
            "params": {"taskId": "t-1", "_meta": meta}});
        assert_eq!(
            outgoing(&get, None)
                .get("mcp-name")
                .and_then(|v| v.to_str().ok()),
            Some("t-1")
        );
        // Optional on the way in: absent passes, wrong fails.
        let base = [
            ("mcp-method", "tasks/get"),
            ("mcp-protocol-version", "2026-07-28"),
        ];
        assert_eq!(check(&headers(&base), &get, None), Ok(()));
        let mut wrong = base.to_vec();
        wrong.push(("mcp-name", "t-2"));
        assert!(matches!(
            check(&headers(&wrong), &get, None),
            Err(Mismatch::Differs { .. })
        ));
    }

    #[test]
    fn check_names_the_header_that_does_not_fit() {
        let params = annotations(&deploy_schema());
        let msg = call("deploy", json!({"region": "eu", "location": {"zone": 3}}));
        let good = [
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "deploy"),
            ("mcp-param-region", "eu"),
            ("mcp-param-zone", "3"),
        ];
        assert_eq!(check(&headers(&good), &msg, Some(&params)), Ok(()));
        // Without the annotations (tool never listed), no param header is checked.
        assert_eq!(check(&headers(&good[..3]), &msg, None), Ok(()));

        let without = |name: &str| -> Vec<(&str, &str)> {
            good.iter().copied().filter(|(n, _)| *n != name).collect()
        };
        let replaced = |name: &'static str, value: &'static str| -> Vec<(&str, &str)> {
            let mut v = without(name);
            v.push((name, value));
            v
        };
        let with_extra = |pair: (&'static str, &'static str)| -> Vec<(&str, &str)> {
            let mut v = good.to_vec();
            v.push(pair);
            v
        };
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (
                without("mcp-method"),
                "missing `Mcp-Method` header; the request says `tools/call`",
            ),
            (
                replaced("mcp-method", "tools/list"),
                "`Mcp-Method` header is `tools/list` but the request says `tools/call`",
            ),
            (
                with_extra(("mcp-method", "tools/call")),
                "`Mcp-Method` header is sent more than once",
            ),
            (
                without("mcp-name"),
                "missing `Mcp-Name` header; the request says `deploy`",
            ),
            (
                replaced("mcp-name", "=?base64?cmVhZF9maWxl?="),
                "`Mcp-Name` header is `read_file` but the request says `deploy`",
            ),
            (
                replaced("mcp-name", "=?base64?***?="),
                "`Mcp-Name` header is not visible ASCII, or wraps invalid base64 or UTF-8",
            ),
            (
                without("mcp-protocol-version"),
                "missing `MCP-Protocol-Version` header; the request says `2026-07-28`",
            ),
            (
                replaced("mcp-protocol-version", "2025-11-25"),
                "`MCP-Protocol-Version` header is `2025-11-25` but the request says `2026-07-28`",
            ),
            (
                replaced("mcp-param-region", "us"),
                "`Mcp-Param-Region` header is `us` but the request says `eu`",
            ),
            (
                without("mcp-param-zone"),
                "missing `Mcp-Param-Zone` header; the request says `3`",
            ),
            (
                with_extra(("mcp-param-dry-run", "true")),
                "`Mcp-Param-Dry-Run` header is sent but the argument `dry` is absent or not a value",
            ),
        ];
        for (pairs, message) in cases {
            let got = check(&headers(&pairs), &msg, Some(&params)).map_err(|e| e.to_string());
            assert_eq!(got, Err(message.to_owned()), "{pairs:?}");
        }
    }

    #[test]
    fn requests_of_earlier_versions_need_only_a_matching_version_header() {
        let msg = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list",
            "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": "2025-11-25"}}});
        let ok = headers(&[("mcp-protocol-version", "2025-11-25")]);
        assert_eq!(check(&ok, &msg, None), Ok(()));
        assert_eq!(outgoing(&msg, None).len(), 1);
        let discover = json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover"});
        assert!(check(&HeaderMap::new(), &discover, None).is_err());
        assert_eq!(
            check(
                &headers(&[("mcp-method", "server/discover")]),
                &discover,
                None
            ),
            Ok(())
        );
    }
}
