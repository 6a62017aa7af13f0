//! What a session refuses instead of forwarding: a request id already in flight or in Airlock's
//! own id space, the handshake-era requests the shared stateless stdio connection must not
//! carry, and the report of a refused `tools/call` to the interceptor, which records it.

use serde_json::{Value, json};

use crate::inbound::{Refusal, RefusalKind};
use crate::interceptor::{RefusedCall, SessionInfo};
use crate::jsonrpc;
use crate::stream::StreamId;

use super::{Session, State};

impl Session {
    /// True for the one stdio connection that stateless agents share (see
    /// [`stdio_stateless_refusal`]).
    pub(super) fn shares_stdio(&self) -> bool {
        self.remap && self.exchange.is_none()
    }

    /// Refuses a message without forwarding it: records it when it is a `tools/call` attempt, and
    /// answers `stream` (when given) with the refusal's error. Returns that error.
    pub(crate) fn refuse(
        &self,
        msg: &Value,
        refusal: Refusal,
        stream: Option<StreamId>,
        info: &SessionInfo,
    ) -> Value {
        refuse_call(&*self.relay.interceptor, msg, &refusal, info);
        let answer = refusal.response();
        if let Some(stream) = stream {
            self.lock().streams.deliver(stream, &answer, true);
        }
        answer
    }

    /// The key of a request's id when the session can take it: not an id of Airlock's own
    /// space, and not one already in flight (the first request is unharmed).
    pub(super) fn check_id(&self, st: &State, msg: &Value) -> Result<String, Refusal> {
        let id = msg.get("id").unwrap_or(&Value::Null);
        let refusal = |kind, message: String| Refusal {
            kind,
            code: jsonrpc::INVALID_REQUEST,
            message,
            id: id.clone(),
            is_call: jsonrpc::method(msg) == crate::inbound::TOOLS_CALL,
        };
        if self.relay.is_local_id(id) {
            return Err(refusal(
                RefusalKind::ReservedId,
                format!(
                    "request id {id} is in the id space Airlock uses for its own messages; pick another"
                ),
            ));
        }
        let key = jsonrpc::key(id);
        if st.in_flight(&key) {
            return Err(refusal(
                RefusalKind::DuplicateId,
                format!("request id {id} is already in flight in this session; ids must be unique"),
            ));
        }
        Ok(key)
    }
}

/// Reports a refused `tools/call` attempt to the interceptor, which records it.
pub(crate) fn refuse_call(
    interceptor: &dyn crate::Interceptor,
    msg: &Value,
    refusal: &Refusal,
    info: &SessionInfo,
) {
    tracing::info!(
        server = %info.server,
        kind = refusal.kind.as_str(),
        "refused a message: {}",
        refusal.message
    );
    if !refusal.is_call {
        return;
    }
    static NULL: Value = Value::Null;
    let params = msg.get("params").unwrap_or(&NULL);
    interceptor.refused(RefusedCall {
        session: info,
        request_id: &refusal.id,
        name: params.get("name").and_then(Value::as_str),
        params,
        kind: refusal.kind,
        message: &refusal.message,
    });
}

/// JSON-RPC error of 2026-07-28: the server does not speak the requested version.
pub(crate) const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

/// Over the one stdio connection all stateless agents share, a request the server would read as
/// one of the handshake era must not go: it would turn that connection into a session of this
/// agent's, for every agent (over HTTP each request is judged alone, and the version header says
/// which era it means; stdio has no header). So `initialize` (removed in 2026-07-28) and a request
/// whose `_meta` lacks the protocol version are answered here, as a 2026-07-28 server answers them
/// over HTTP: the status and the error. So is a version the server did not list as supported
/// when Airlock opened the connection (`supported`).
pub(super) fn stdio_stateless_refusal(
    msg: &Value,
    supported: Option<&[String]>,
) -> Option<(u16, Value)> {
    let id = msg.get("id").cloned().unwrap_or(Value::Null);
    if jsonrpc::method(msg) == "initialize" {
        let error = jsonrpc::error(id, jsonrpc::METHOD_NOT_FOUND, "Method not found");
        return Some((404, error));
    }
    let version = msg
        .pointer("/params/_meta")
        .and_then(|m| m.get(jsonrpc::META_VERSION))
        .and_then(Value::as_str);
    if let Some(version) = version {
        let known = supported.is_none_or(|s| s.iter().any(|v| v == version));
        if known {
            return None;
        }
        let error = json!({"jsonrpc": "2.0", "id": id, "error": {
            "code": UNSUPPORTED_PROTOCOL_VERSION,
            "message": format!("Unsupported protocol version: {version}"),
            "data": {"supported": supported, "requested": version},
        }});
        return Some((400, error));
    }
    let error = jsonrpc::error(
        id,
        jsonrpc::INVALID_PARAMS,
        format!(
            "a stateless request needs `params._meta[\"{}\"]`",
            jsonrpc::META_VERSION
        ),
    );
    Some((400, error))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn meta(version: &str) -> Value {
        json!({"io.modelcontextprotocol/protocolVersion": version,
               "io.modelcontextprotocol/clientCapabilities": {}})
    }

    #[test]
    fn the_shared_stdio_connection_is_kept_in_the_stateless_era() {
        let supported = ["2026-07-28".to_owned()];
        let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}});
        let (status, answer) = stdio_stateless_refusal(&init, Some(&supported)).unwrap();
        assert_eq!(
            (status, answer["error"]["code"].clone()),
            (404, json!(-32601))
        );

        let bare = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}});
        let (status, answer) = stdio_stateless_refusal(&bare, Some(&supported)).unwrap();
        assert_eq!(
            (status, answer["error"]["code"].clone()),
            (400, json!(-32602))
        );
        assert_eq!(answer["id"], 2);

        let unknown = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list",
                             "params": {"_meta": meta("v999.0.0")}});
        let (status, answer) = stdio_stateless_refusal(&unknown, Some(&supported)).unwrap();
        assert_eq!(status, 400);
        assert_eq!(answer["error"]["code"], -32022);
        assert_eq!(
            answer["error"]["data"],
            json!({"supported": supported, "requested": "v999.0.0"})
        );

        let good = json!({"jsonrpc": "2.0", "id": 4, "method": "tools/list",
                          "params": {"_meta": meta("2026-07-28")}});
        assert!(stdio_stateless_refusal(&good, Some(&supported)).is_none());
        // Before the server said what it supports, a version is taken on trust.
        assert!(stdio_stateless_refusal(&unknown, None).is_none());
    }
}
