//! The MCP server: raw JSON-RPC, one message per line, over any byte stream.
//!
//! Same answers as the real Pusher MCP server (TypeScript SDK) for what it implements:
//! `initialize`, `notifications/initialized`, `ping`, `tools/list`, `tools/call`. Nothing else is
//! declared, so `resources/*`, `prompts/*`, `logging/setLevel` and any unknown method get
//! `-32601 Method not found`. Notifications (`notifications/cancelled` included) are accepted and
//! ignored: every call finishes at once, so there is nothing to cancel, and no progress is sent.
//!
//! Protocol generations:
//! - **Handshake era** (2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25): `initialize` echoes the
//!   client's version if it is one of these, else answers 2025-11-25. Requests before
//!   `initialize` are served too (the demo keeps no per-session state).
//! - **Stateless 2026-07-28**: answered, not rejected. A request whose
//!   `params._meta["io.modelcontextprotocol/protocolVersion"]` is `2026-07-28` is served and its
//!   result carries `"resultType":"complete"`; `server/discover` returns the supported versions,
//!   capabilities and `serverInfo` (in `_meta["io.modelcontextprotocol/serverInfo"]`); `ping`,
//!   removed in that revision, is `-32601`. A per-request version we do not know is
//!   `-32022 Unsupported protocol version` with `data: {supported, requested}`. The other
//!   required `_meta` keys (`clientCapabilities`) are not checked: the demo needs none.
//!
//! Faults: a line that is not JSON is `-32700 Parse error`; valid JSON that is not a request
//! (no `"jsonrpc":"2.0"`, a bad id, a batch array) is `-32600 Invalid Request`; malformed
//! `tools/call` params (no tool name) are `-32602`. Such errors carry `"id": null` when the id
//! could not be read. Responses to requests we never sent are dropped. A line longer than
//! [`MAX_LINE_BYTES`] is answered with `-32600` and skipped without being held in memory.
//!
//! The per-call path parses the line once into a `Value`, runs the tool under one short lock,
//! and writes one line; `tools/list` copies a pre-serialized answer.

use std::io;
use std::sync::Arc;

use serde_json::{Map, Value, json};
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, DuplexStream,
    ReadHalf, WriteHalf,
};
use tokio::task::JoinHandle;

use crate::tools;
use crate::world::World;

/// Protocol versions of the handshake era, oldest first.
pub const HANDSHAKE_VERSIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
/// The stateless revision this server answers per request.
pub const STATELESS_VERSION: &str = "2026-07-28";
/// The `serverInfo` name, the same as the real server's.
pub const SERVER_NAME: &str = "pusher-channels";
/// The `serverInfo` version: the real server's, marked as the demo.
pub const SERVER_VERSION: &str = "1.0.0-airlock-demo";
/// Longest accepted message line. Pusher payloads are at most 10 KB; this leaves room for
/// batches of ten and still bounds memory.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

const LATEST_HANDSHAKE: &str = "2025-11-25";
const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;
const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

/// Serves MCP on a line-delimited stream until `reader` ends, answering every request with
/// one line on `writer`. Many sessions may share one `world`.
///
/// # Errors
/// Only I/O errors of `reader` or `writer`; bad messages are answered, never fatal.
pub async fn serve<R, W>(world: Arc<World>, reader: R, mut writer: W) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut reader = BufReader::new(reader);
    let mut line = Vec::with_capacity(8 * 1024);
    let mut out = Vec::with_capacity(8 * 1024);
    loop {
        line.clear();
        out.clear();
        match read_line(&mut reader, &mut line, MAX_LINE_BYTES).await? {
            Line::Eof => break,
            Line::TooLong => {
                tracing::warn!(limit = MAX_LINE_BYTES, "message line too long, skipped");
                write_error(
                    &mut out,
                    &Value::Null,
                    INVALID_REQUEST,
                    &format!("Invalid Request: message longer than {MAX_LINE_BYTES} bytes"),
                );
            }
            Line::Complete => handle_message(&world, &line, &mut out),
        }
        if !out.is_empty() {
            writer.write_all(&out).await?;
            writer.flush().await?;
        }
    }
    writer.flush().await
}

/// Serves MCP on this process's stdin and stdout until stdin closes. Logs must go to stderr.
///
/// # Errors
/// I/O errors on stdin or stdout.
pub async fn run_stdio(world: Arc<World>) -> io::Result<()> {
    serve(world, tokio::io::stdin(), tokio::io::stdout()).await
}

/// A demo server running in this process, reached through an in-memory pipe.
#[derive(Debug)]
pub struct InProcess {
    /// Read the server's messages here, one JSON-RPC message per line.
    pub reader: ReadHalf<DuplexStream>,
    /// Write messages to the server here, one per line. Shutting it down, or dropping it
    /// together with `reader`, ends the server.
    pub writer: WriteHalf<DuplexStream>,
    /// The server task; it ends once the client's end is closed.
    pub task: JoinHandle<io::Result<()>>,
}

/// Starts [`serve`] on a Tokio task, connected through an in-memory pipe, and returns the
/// client's ends: the default upstream without a child process. Must be called within a Tokio
/// runtime.
#[must_use]
pub fn spawn_in_process(world: Arc<World>) -> InProcess {
    const PIPE_BYTES: usize = 256 * 1024;
    let (client, server) = tokio::io::duplex(PIPE_BYTES);
    let (server_reader, server_writer) = tokio::io::split(server);
    let task = tokio::spawn(serve(world, server_reader, server_writer));
    let (reader, writer) = tokio::io::split(client);
    InProcess {
        reader,
        writer,
        task,
    }
}

enum Line {
    Complete,
    TooLong,
    Eof,
}

/// Reads one `\n`-terminated line (without the `\n`) into `buf`, discarding the rest of a line
/// that grows past `max` instead of buffering it. A last line without `\n` still counts.
async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<Line> {
    let mut too_long = false;
    let mut seen_any = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(match (seen_any, too_long) {
                (false, _) => Line::Eof,
                (true, true) => Line::TooLong,
                (true, false) => Line::Complete,
            });
        }
        seen_any = true;
        let (chunk, used, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..i], i + 1, true),
            None => (available, available.len(), false),
        };
        if !too_long {
            if buf.len() + chunk.len() > max {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        reader.consume(used);
        if done {
            return Ok(if too_long {
                Line::TooLong
            } else {
                Line::Complete
            });
        }
    }
}

/// Handles one message line (without its `\n`) and appends the answer, if any, to `out` as one
/// line ending in `\n`. This is [`serve`] without I/O, for embedding and benchmarks.
pub fn handle_message(world: &World, line: &[u8], out: &mut Vec<u8>) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    let message: Value = match serde_json::from_slice(line) {
        Ok(message) => message,
        Err(error) => {
            tracing::debug!(%error, "unparsable message");
            return write_error(out, &Value::Null, PARSE_ERROR, "Parse error");
        }
    };
    let Value::Object(message) = message else {
        let text = if message.is_array() {
            "Invalid Request: JSON-RPC batches are not supported"
        } else {
            "Invalid Request: a message must be a JSON object"
        };
        return write_error(out, &Value::Null, INVALID_REQUEST, text);
    };
    let id = message.get("id");
    let id_ok = matches!(id, None | Some(Value::String(_) | Value::Number(_)));
    let reply_id = if id_ok {
        id.unwrap_or(&Value::Null)
    } else {
        &Value::Null
    };
    if message.get("jsonrpc").and_then(Value::as_str) != Some("2.0") || !id_ok {
        return write_error(
            out,
            reply_id,
            INVALID_REQUEST,
            "Invalid Request: expected \"jsonrpc\": \"2.0\" and a string or number id",
        );
    }
    let method = match message.get("method") {
        Some(Value::String(method)) => method.as_str(),
        Some(_) => {
            return write_error(
                out,
                reply_id,
                INVALID_REQUEST,
                "Invalid Request: method must be a string",
            );
        }
        // A response or error answering a request: we send none, so there is nothing to match.
        None if message.contains_key("result") || message.contains_key("error") => return,
        None => return write_error(out, reply_id, INVALID_REQUEST, "Invalid Request: no method"),
    };
    let Some(id) = id else {
        // Notifications: initialized, cancelled, progress, roots changes. Nothing to do.
        tracing::trace!(method, "notification");
        return;
    };
    let params = match message.get("params") {
        None | Some(Value::Null) => None,
        Some(Value::Object(params)) => Some(params),
        Some(_) => {
            return write_error(
                out,
                id,
                INVALID_PARAMS,
                "Invalid params: params must be an object",
            );
        }
    };
    tracing::debug!(method, "request");
    respond(world, id, method, params, out);
}

/// Which protocol generation a request speaks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Era {
    Handshake,
    Stateless,
}

fn respond(
    world: &World,
    id: &Value,
    method: &str,
    params: Option<&Map<String, Value>>,
    out: &mut Vec<u8>,
) {
    let requested = params
        .and_then(|p| p.get("_meta"))
        .and_then(|meta| meta.get(META_PROTOCOL_VERSION));
    let era = match requested {
        None if method == "server/discover" => Era::Stateless,
        None => Era::Handshake,
        Some(Value::String(v)) if v == STATELESS_VERSION => Era::Stateless,
        Some(Value::String(v)) if HANDSHAKE_VERSIONS.contains(&v.as_str()) => Era::Handshake,
        Some(other) => {
            let data = json!({ "supported": supported_versions(), "requested": other });
            return write_response(
                out,
                id,
                Err((
                    UNSUPPORTED_PROTOCOL_VERSION,
                    "Unsupported protocol version".into(),
                    Some(data),
                )),
            );
        }
    };
    let result = match method {
        "initialize" => Ok(initialize(params)),
        "ping" if era == Era::Handshake => Ok(json!({})),
        "server/discover" => Ok(discover()),
        "tools/list" => {
            return write_raw_result(out, id, tools::list_result(era == Era::Stateless));
        }
        "tools/call" => call(world, params),
        _ => Err((METHOD_NOT_FOUND, "Method not found".into(), None)),
    };
    let result = result.map(|mut value| {
        if era == Era::Stateless
            && let Value::Object(map) = &mut value
        {
            map.entry("resultType").or_insert_with(|| "complete".into());
        }
        value
    });
    write_response(out, id, result);
}

type RpcResult = Result<Value, (i64, String, Option<Value>)>;

fn supported_versions() -> Vec<&'static str> {
    let mut versions = HANDSHAKE_VERSIONS.to_vec();
    versions.push(STATELESS_VERSION);
    versions
}

fn capabilities() -> Value {
    json!({ "tools": { "listChanged": true } })
}

fn server_info() -> Value {
    json!({ "name": SERVER_NAME, "version": SERVER_VERSION })
}

fn initialize(params: Option<&Map<String, Value>>) -> Value {
    let requested = params
        .and_then(|p| p.get("protocolVersion"))
        .and_then(Value::as_str);
    let version = match requested {
        Some(v) if HANDSHAKE_VERSIONS.contains(&v) => v,
        _ => LATEST_HANDSHAKE,
    };
    json!({
        "protocolVersion": version,
        "capabilities": capabilities(),
        "serverInfo": server_info(),
    })
}

fn discover() -> Value {
    json!({
        "resultType": "complete",
        "supportedVersions": supported_versions(),
        "capabilities": capabilities(),
        "ttlMs": 0,
        "cacheScope": "private",
        "_meta": { META_SERVER_INFO: server_info() },
    })
}

fn call(world: &World, params: Option<&Map<String, Value>>) -> RpcResult {
    let Some(name) = params.and_then(|p| p.get("name")).and_then(Value::as_str) else {
        return Err((
            INVALID_PARAMS,
            "Invalid params: tools/call needs a string `name`".into(),
            None,
        ));
    };
    // No tool supports tasks (`taskSupport: "forbidden"`); the spec answers such calls -32601.
    if params.is_some_and(|p| p.get("task").is_some_and(|t| !t.is_null())) && tools::is_tool(name) {
        return Err((
            METHOD_NOT_FOUND,
            format!("Tool {name} does not support task-augmented calls"),
            None,
        ));
    }
    let args = params
        .and_then(|p| p.get("arguments"))
        .unwrap_or(&Value::Null);
    Ok(tools::call_tool(world, name, args))
}

fn write_response(out: &mut Vec<u8>, id: &Value, result: RpcResult) {
    let message = match result {
        Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
        Err((code, message, data)) => {
            let mut error = json!({ "code": code, "message": message });
            if let (Some(data), Value::Object(map)) = (data, &mut error) {
                map.insert("data".into(), data);
            }
            json!({ "jsonrpc": "2.0", "id": id, "error": error })
        }
    };
    write_line(out, &message);
}

fn write_error(out: &mut Vec<u8>, id: &Value, code: i64, message: &str) {
    write_response(out, id, Err((code, message.into(), None)));
}

fn write_raw_result(out: &mut Vec<u8>, id: &Value, result: &str) {
    out.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
    write_json(out, id);
    out.extend_from_slice(br#","result":"#);
    out.extend_from_slice(result.as_bytes());
    out.extend_from_slice(b"}\n");
}

fn write_line(out: &mut Vec<u8>, message: &Value) {
    write_json(out, message);
    out.push(b'\n');
}

fn write_json(out: &mut Vec<u8>, value: &Value) {
    // Writing a `Value` into a `Vec` cannot fail: its keys are strings and a Vec takes any bytes.
    if let Err(error) = serde_json::to_writer(&mut *out, value) {
        tracing::error!(%error, "could not serialize a response");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(world: &World, line: &str) -> Option<Value> {
        let mut out = Vec::new();
        handle_message(world, line.as_bytes(), &mut out);
        if out.is_empty() {
            return None;
        }
        assert_eq!(out.last(), Some(&b'\n'));
        assert_eq!(
            out.iter().filter(|&&b| b == b'\n').count(),
            1,
            "one line per answer"
        );
        Some(serde_json::from_slice(&out).unwrap())
    }

    #[test]
    fn initialize_echoes_known_versions_and_offers_the_latest_otherwise() {
        let world = World::demo();
        for version in HANDSHAKE_VERSIONS {
            let line = json!({"jsonrpc":"2.0","id":1,"method":"initialize",
                "params":{"protocolVersion":version,"capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
            let reply = answer(&world, &line.to_string()).unwrap();
            assert_eq!(
                reply,
                json!({"jsonrpc":"2.0","id":1,"result":{"protocolVersion":version,
                    "capabilities":{"tools":{"listChanged":true}},
                    "serverInfo":{"name":"pusher-channels","version":"1.0.0-airlock-demo"}}})
            );
        }
        let line = r#"{"jsonrpc":"2.0","id":"a","method":"initialize","params":{"protocolVersion":"2099-01-01"}}"#;
        assert_eq!(
            answer(&world, line).unwrap()["result"]["protocolVersion"],
            "2025-11-25"
        );
    }

    #[test]
    fn protocol_faults_get_json_rpc_errors() {
        let world = World::demo();
        let code = |line: &str| answer(&world, line).unwrap()["error"]["code"].clone();
        assert_eq!(code("{not json"), -32700);
        assert_eq!(code("[]"), -32600);
        assert_eq!(code("42"), -32600);
        assert_eq!(code(r#"{"id":1,"method":"ping"}"#), -32600);
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":true,"method":"ping"}"#),
            -32600
        );
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":1}"#), -32600);
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1,"method":"resources/list"}"#),
            -32601
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}"#),
            -32602
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":[1]}"#),
            -32602
        );
        let reply = answer(&world, r#"{"jsonrpc":"2.0","id":7,"method":"nope"}"#).unwrap();
        assert_eq!(
            reply,
            json!({"jsonrpc":"2.0","id":7,"error":{"code":-32601,"message":"Method not found"}})
        );
    }

    #[test]
    fn notifications_responses_and_blank_lines_get_no_answer() {
        let world = World::demo();
        assert!(
            answer(
                &world,
                r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#
            )
            .is_none()
        );
        assert!(
            answer(
                &world,
                r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}"#
            )
            .is_none()
        );
        assert!(answer(&world, r#"{"jsonrpc":"2.0","id":3,"result":{}}"#).is_none());
        assert!(answer(&world, "  \r").is_none());
    }

    #[test]
    fn ping_and_tools_list_answer_in_the_handshake_era() {
        let world = World::demo();
        let reply = answer(
            &world,
            "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\r",
        )
        .unwrap();
        assert_eq!(reply, json!({"jsonrpc":"2.0","id":2,"result":{}}));
        let reply = answer(
            &world,
            r#"{"jsonrpc":"2.0","id":"x","method":"tools/list"}"#,
        )
        .unwrap();
        assert_eq!(reply["id"], "x");
        assert_eq!(reply["result"]["tools"].as_array().unwrap().len(), 7);
        assert!(reply["result"].get("resultType").is_none());
    }

    #[test]
    fn stateless_requests_are_served_with_a_result_type() {
        let world = World::demo();
        let meta = json!({"io.modelcontextprotocol/protocolVersion":"2026-07-28",
            "io.modelcontextprotocol/clientCapabilities":{}});
        let discover =
            json!({"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta":meta}});
        let reply = answer(&world, &discover.to_string()).unwrap();
        assert_eq!(
            reply["result"]["supportedVersions"]
                .as_array()
                .unwrap()
                .len(),
            5
        );
        assert_eq!(
            reply["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
            "pusher-channels"
        );
        let list = json!({"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"_meta":meta}});
        let reply = answer(&world, &list.to_string()).unwrap();
        assert_eq!(reply["result"]["resultType"], "complete");
        let call = json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"_meta":meta,
            "name":"get_presence_users","arguments":{"channel":"presence-lobby"}}});
        let reply = answer(&world, &call.to_string()).unwrap();
        assert_eq!(reply["result"]["resultType"], "complete");
        assert_eq!(
            reply["result"]["content"][0]["text"],
            "Users on presence-lobby (3):\n  u-42\n  u-7\n  u-99"
        );
        let ping = json!({"jsonrpc":"2.0","id":4,"method":"ping","params":{"_meta":meta}});
        assert_eq!(
            answer(&world, &ping.to_string()).unwrap()["error"]["code"],
            -32601
        );
        let future = json!({"jsonrpc":"2.0","id":5,"method":"tools/list",
            "params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2031-01-01"}}});
        let reply = answer(&world, &future.to_string()).unwrap();
        assert_eq!(reply["error"]["code"], -32022);
        assert_eq!(reply["error"]["data"]["requested"], "2031-01-01");
    }

    #[test]
    fn task_augmented_calls_are_refused_because_no_tool_supports_tasks() {
        let world = World::demo();
        let line = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{
            "name":"list_channels","arguments":{},"task":{"ttl":1000}}});
        assert_eq!(
            answer(&world, &line.to_string()).unwrap()["error"]["code"],
            -32601
        );
    }

    #[tokio::test]
    async fn an_overlong_line_is_refused_and_the_next_one_served() {
        let world = Arc::new(World::demo());
        let mut input = vec![b'x'; MAX_LINE_BYTES + 10];
        input.push(b'\n');
        input.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
        let mut output = Vec::new();
        serve(world, input.as_slice(), &mut output).await.unwrap();
        let lines: Vec<Value> = output
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["error"]["code"], -32600);
        assert_eq!(lines[1], json!({"jsonrpc":"2.0","id":1,"result":{}}));
    }
}
