//! The one place that decides what the relay may do with a message from an agent, by its method
//! before anything else.
//!
//! The gate's promise is that nothing reaches an upstream without a decision and a record. The
//! relay keeps it by classifying every agent message here first, whatever its framing (alone or
//! in a batch, on any transport, in a session or stateless):
//!
//! - A message whose method is one the relay intercepts ([`INTERCEPTED`]: `tools/call`,
//!   `tools/list` and the `tasks/*` requests) must be a well-formed request with a usable id.
//!   Without an id (a notification), with `id: null`, with a malformed envelope, or spelt so that
//!   a lenient server might read it as that method (`Tools/Call`, `tools/call `), it is
//!   [`Refused`](Inbound::Refused) and never forwarded.
//! - A `tools/call` must carry `params` as an object with `name` a string and `arguments` an
//!   object (or absent, or `null`): anything else is refused with -32602 before the policy runs,
//!   so the policy never decides on arguments it cannot see (a JSON string, an array) that an
//!   upstream might decode and run.
//! - Everything else keeps its JSON-RPC kind and is forwarded as it is.
//!
//! A refused `tools/call` is still recorded (the interceptor's `refused`), so history shows every
//! attempt. What a session adds on top (an id already in flight, an id in Airlock's own space) is
//! checked in `session`, with the same [`Refusal`].

use serde_json::Value;

use crate::jsonrpc::{self, Kind};

/// Methods the relay handles itself or hands to the interceptor. Only well-formed requests with
/// these methods are acted on; any other framing of them is refused.
pub(crate) const INTERCEPTED: [&str; 6] = [
    "tools/call",
    "tools/list",
    "tasks/get",
    "tasks/result",
    "tasks/cancel",
    "tasks/list",
];

/// The method the relay decides by policy.
pub(crate) const TOOLS_CALL: &str = "tools/call";

/// Why a message was refused without being forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// Not a request the relay can act on: no id, `id: null`, a bad envelope, a look-alike method,
    /// or `params` of the wrong shape.
    Malformed,
    /// A request id already in flight in this session.
    DuplicateId,
    /// A request id in the space Airlock uses for messages of its own.
    ReservedId,
    /// Sent without a session, or to one that does not exist (any more), where one is needed.
    NoSession,
}

impl RefusalKind {
    /// The word history and `_meta` use for it.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalKind::Malformed => "malformed",
            RefusalKind::DuplicateId => "duplicate_id",
            RefusalKind::ReservedId => "reserved_id",
            RefusalKind::NoSession => "no_session",
        }
    }
}

/// A message the relay will not forward, and the JSON-RPC error that answers it.
#[derive(Debug, Clone)]
pub(crate) struct Refusal {
    pub(crate) kind: RefusalKind,
    pub(crate) code: i64,
    pub(crate) message: String,
    /// The id to answer with: the request's own when it has a usable one, else `null`.
    pub(crate) id: Value,
    /// True when the message tried to be a `tools/call`: it is recorded as a refused call.
    pub(crate) is_call: bool,
}

impl Refusal {
    /// The JSON-RPC error response for the agent.
    pub(crate) fn response(&self) -> Value {
        jsonrpc::error(self.id.clone(), self.code, self.message.clone())
    }
}

/// Every `tools/call` attempt among `messages` (whatever its framing), as refused with `kind` and
/// `message`: for refusals of a whole POST (no session, an unknown one, a batch where none is
/// allowed), so history still shows each attempt.
pub(crate) fn refused_calls<'a>(
    messages: &'a [Value],
    kind: RefusalKind,
    message: &'a str,
) -> impl Iterator<Item = (&'a Value, Refusal)> + 'a {
    messages.iter().filter_map(move |msg| {
        let method = msg.get("method").and_then(Value::as_str)?;
        (intercepted_as(method) == Some(TOOLS_CALL)).then(|| {
            let refusal = Refusal {
                kind,
                code: jsonrpc::INVALID_REQUEST,
                message: message.to_owned(),
                id: usable_id(msg),
                is_call: true,
            };
            (msg, refusal)
        })
    })
}

/// True when the relay answers the message (a request, or a refusal).
pub(crate) fn expects_answer(route: &Inbound) -> bool {
    matches!(
        route,
        Inbound::ToolCall | Inbound::Request | Inbound::Refused(_)
    )
}

/// What the relay does with one (non-batch) agent message.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// A well-formed `tools/call` request: decided by the interceptor.
    ToolCall,
    /// Any other well-formed request (among them `tools/list` and `tasks/*`).
    Request,
    /// A notification whose method the relay does not intercept.
    Notification,
    /// A response to a request of the server's (sampling, elicitation, roots).
    Response,
    /// Never forwarded; answered with the refusal's error.
    Refused(Refusal),
}

/// Classifies one message by its method first. Pure: the session adds its own checks.
pub(crate) fn route(msg: &Value) -> Inbound {
    let method = msg.get("method").and_then(Value::as_str);
    let intercepted = method.and_then(intercepted_as);
    let kind = jsonrpc::classify(msg);
    if let Some(canonical) = intercepted {
        let is_call = canonical == TOOLS_CALL;
        if method != Some(canonical) {
            return Inbound::Refused(malformed(
                msg,
                is_call,
                format!(
                    "`{}` is not a method; did you mean `{canonical}`?",
                    method.unwrap_or("")
                ),
            ));
        }
        return match kind {
            Kind::Request if is_call => match check_call_params(msg) {
                Ok(()) => Inbound::ToolCall,
                Err(message) => Inbound::Refused(Refusal {
                    kind: RefusalKind::Malformed,
                    code: jsonrpc::INVALID_PARAMS,
                    message,
                    id: usable_id(msg),
                    is_call,
                }),
            },
            Kind::Request => Inbound::Request,
            Kind::Notification => Inbound::Refused(malformed(
                msg,
                is_call,
                format!(
                    "`{canonical}` must be a request with an id; a notification is not forwarded"
                ),
            )),
            _ => Inbound::Refused(malformed(
                msg,
                is_call,
                format!("`{canonical}` must be a JSON-RPC 2.0 request with a string or integer id"),
            )),
        };
    }
    match kind {
        Kind::Request => Inbound::Request,
        Kind::Notification => Inbound::Notification,
        Kind::Response => Inbound::Response,
        Kind::Invalid => Inbound::Refused(malformed(
            msg,
            false,
            "invalid request: not a JSON-RPC 2.0 message".to_owned(),
        )),
    }
}

/// The intercepted method `method` is, or could be read as by a lenient server (case, blanks).
fn intercepted_as(method: &str) -> Option<&'static str> {
    let trimmed = method.trim_matches(|c: char| c.is_whitespace() || c.is_control());
    INTERCEPTED
        .iter()
        .copied()
        .find(|m| m.eq_ignore_ascii_case(trimmed))
}

fn malformed(msg: &Value, is_call: bool, message: String) -> Refusal {
    Refusal {
        kind: RefusalKind::Malformed,
        code: jsonrpc::INVALID_REQUEST,
        message,
        id: usable_id(msg),
        is_call,
    }
}

/// The message's id when it is one an answer can carry (a string or an integer), else `null`.
pub(crate) fn usable_id(msg: &Value) -> Value {
    msg.get("id")
        .filter(|id| id.is_string() || id.is_i64() || id.is_u64())
        .cloned()
        .unwrap_or(Value::Null)
}

/// `params` of a `tools/call`: an object with `name` a string and `arguments` an object (or
/// absent or `null`).
fn check_call_params(msg: &Value) -> Result<(), String> {
    let Some(params) = msg.get("params") else {
        return Err("`tools/call` needs `params` with the tool's `name`".to_owned());
    };
    let Some(params) = params.as_object() else {
        return Err(format!(
            "`params` must be an object, not {}",
            describe(params)
        ));
    };
    match params.get("name") {
        Some(Value::String(_)) => {}
        Some(other) => {
            return Err(format!(
                "`params.name` must be a string, not {}",
                describe(other)
            ));
        }
        None => return Err("`params.name` is missing: name the tool to call".to_owned()),
    }
    match params.get("arguments") {
        None | Some(Value::Null | Value::Object(_)) => Ok(()),
        Some(other) => Err(format!(
            "`params.arguments` must be an object, not {}; Airlock decides calls by their \
             arguments and forwards none it cannot read",
            describe(other)
        )),
    }
}

/// `a string`, `an array`, … for messages.
fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn refusal(msg: Value) -> Refusal {
        match route(&msg) {
            Inbound::Refused(r) => r,
            other => panic!("{msg} must be refused, got {other:?}"),
        }
    }

    #[test]
    fn a_tools_call_without_a_usable_id_is_refused_and_counts_as_a_call() {
        for msg in [
            json!({"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "x"}}),
            json!({"jsonrpc": "2.0", "id": null, "method": "tools/call", "params": {"name": "x"}}),
            json!({"jsonrpc": "2.0", "id": 1.5, "method": "tools/call", "params": {"name": "x"}}),
            json!({"jsonrpc": "2.0", "id": [1], "method": "tools/call", "params": {"name": "x"}}),
            json!({"id": 1, "method": "tools/call", "params": {"name": "x"}}),
            json!({"jsonrpc": "1.0", "id": 1, "method": "tools/call", "params": {"name": "x"}}),
        ] {
            let r = refusal(msg.clone());
            assert!(r.is_call, "{msg}");
            assert_eq!(r.kind, RefusalKind::Malformed);
            assert_eq!(r.code, jsonrpc::INVALID_REQUEST);
        }
    }

    #[test]
    fn look_alike_methods_are_refused() {
        for method in [
            "Tools/Call",
            "tools/call ",
            " tools/call",
            "TOOLS/LIST",
            "tasks/Result\n",
        ] {
            let r = refusal(json!({"jsonrpc": "2.0", "id": 1, "method": method}));
            assert!(
                r.message.contains("did you mean"),
                "{method}: {}",
                r.message
            );
            assert_eq!(r.id, json!(1));
        }
        assert!(refusal(json!({"jsonrpc": "2.0", "id": 1, "method": "TOOLS/CALL"})).is_call);
    }

    #[test]
    fn every_intercepted_method_must_be_a_request() {
        for method in INTERCEPTED {
            let r = refusal(json!({"jsonrpc": "2.0", "method": method}));
            assert_eq!(r.is_call, method == TOOLS_CALL);
            assert!(r.id.is_null());
        }
    }

    #[test]
    fn arguments_must_be_an_object_and_the_name_a_string() {
        for params in [
            json!({"name": "x", "arguments": "{\"channel\": \"private-admin-x\"}"}),
            json!({"name": "x", "arguments": [1]}),
            json!({"name": "x", "arguments": 5}),
            json!({"name": 5}),
            json!({"arguments": {}}),
            json!("x"),
            json!(null),
        ] {
            let r = refusal(
                json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params}),
            );
            assert_eq!(r.code, jsonrpc::INVALID_PARAMS, "{params}");
            assert_eq!(r.id, json!(7));
            assert!(r.is_call);
        }
        let r = refusal(json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call"}));
        assert_eq!(r.code, jsonrpc::INVALID_PARAMS);
    }

    #[test]
    fn well_formed_messages_keep_their_kind() {
        let call = |params: Value| {
            route(&json!({"jsonrpc": "2.0", "id": "a", "method": "tools/call", "params": params}))
        };
        assert!(matches!(call(json!({"name": "x"})), Inbound::ToolCall));
        assert!(matches!(
            call(json!({"name": "x", "arguments": null})),
            Inbound::ToolCall
        ));
        assert!(matches!(
            call(json!({"name": "x", "arguments": {"a": 1}})),
            Inbound::ToolCall
        ));
        assert!(matches!(
            route(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})),
            Inbound::Request
        ));
        assert!(matches!(
            route(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"})),
            Inbound::Notification
        ));
        assert!(matches!(
            route(&json!({"jsonrpc": "2.0", "id": 3, "result": {}})),
            Inbound::Response
        ));
        assert!(matches!(route(&json!(42)), Inbound::Refused(_)));
    }
}
