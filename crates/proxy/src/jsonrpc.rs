//! Just enough JSON-RPC 2.0 to route messages without re-typing them: classify a message, build
//! error responses, and key request ids. Messages stay `serde_json::Value`s end to end, so unknown
//! methods and fields pass through untouched.

use serde_json::{Value, json};

pub(crate) const PARSE_ERROR: i64 = -32700;
pub(crate) const INVALID_REQUEST: i64 = -32600;
pub(crate) const METHOD_NOT_FOUND: i64 = -32601;
pub(crate) const INVALID_PARAMS: i64 = -32602;
pub(crate) const INTERNAL_ERROR: i64 = -32603;

/// What a JSON value is, as a JSON-RPC message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Request,
    Notification,
    Response,
    Invalid,
}

/// Classifies one (non-batch) message.
pub(crate) fn classify(msg: &Value) -> Kind {
    let Some(obj) = msg.as_object() else {
        return Kind::Invalid;
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Kind::Invalid;
    }
    let id_ok = |id: &Value| id.is_string() || id.is_i64() || id.is_u64();
    match (obj.get("method"), obj.get("id")) {
        (Some(Value::String(_)), None) => Kind::Notification,
        (Some(Value::String(_)), Some(id)) if id_ok(id) => Kind::Request,
        (None, Some(id))
            if (id_ok(id) || id.is_null())
                && (obj.contains_key("result") ^ obj.contains_key("error")) =>
        {
            Kind::Response
        }
        _ => Kind::Invalid,
    }
}

/// The method of a request or notification.
pub(crate) fn method(msg: &Value) -> &str {
    msg.get("method").and_then(Value::as_str).unwrap_or("")
}

/// A map key for a request id (or progress token): its JSON text, so `1` and `"1"` differ.
pub(crate) fn key(id: &Value) -> String {
    id.to_string()
}

/// A JSON-RPC error response.
pub(crate) fn error(id: Value, code: i64, message: impl Into<String>) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message.into()}})
}

/// A JSON-RPC success response.
pub(crate) fn result(id: Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// `params._meta.progressToken`, if any.
pub(crate) fn progress_token(msg: &Value) -> Option<&Value> {
    msg.get("params")?.get("_meta")?.get("progressToken")
}

/// The protocol version a stateless (2026-07-28) request carries in `_meta`.
pub(crate) const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";

/// True when a request belongs to the stateless 2026-07-28 era.
pub(crate) fn is_stateless(msg: &Value) -> bool {
    method(msg) == "server/discover"
        || msg
            .get("params")
            .and_then(|p| p.get("_meta"))
            .and_then(|m| m.get(META_VERSION))
            .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_messages() {
        assert_eq!(
            classify(&json!({"jsonrpc":"2.0","id":1,"method":"ping"})),
            Kind::Request
        );
        assert_eq!(
            classify(&json!({"jsonrpc":"2.0","method":"x"})),
            Kind::Notification
        );
        assert_eq!(
            classify(&json!({"jsonrpc":"2.0","id":"a","result":{}})),
            Kind::Response
        );
        assert_eq!(
            classify(&json!({"jsonrpc":"2.0","id":1,"result":{},"error":{}})),
            Kind::Invalid
        );
        assert_eq!(classify(&json!({"id":1,"method":"ping"})), Kind::Invalid);
        assert_eq!(
            classify(&json!({"jsonrpc":"2.0","id":1.5,"method":"ping"})),
            Kind::Invalid
        );
        assert_eq!(classify(&json!([1])), Kind::Invalid);
    }
}
