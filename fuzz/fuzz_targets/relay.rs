//! Fuzzes the relay's message handling: the downstream HTTP framing (`downstream/`) and the
//! session dispatch behind it (`inbound.rs`, `session/`), in process, through the real router.
//!
//! One [`Proxy`] lives for the whole run, in front of an in-process upstream that answers
//! everything at once and checks every `tools/call` it receives (any spelling a lenient server
//! would run, with or without an id) against what the fuzzer's own [`Interceptor`] decided: each
//! must have been returned as `CallDecision::Forward` for that exact id in that session, and been
//! told `forwarded` first. After each input, every `tools/call` attempt that reached the relay's
//! parser must have been decided or refused exactly once (`Interceptor::tool_call` or
//! `Interceptor::refused`).
//!
//! Input: lines, each `HEADER BODY`. The body is sent as it is. The header's first character
//! says what to do, an optional digit (0-3) picks a slot, and flags follow:
//!
//! - `n` POST `/mcp/srv` without a session; a session it opens goes into the slot
//! - `s` POST with the slot's session; `x` with an unknown session
//! - `L` GET `/sse/srv` (legacy), its session into the slot; `m` POST `/message/srv` for the
//!   slot's legacy session, `M` for an unknown one
//! - `g` GET `/mcp/srv`, the slot's standing stream; `d` DELETE the slot's session
//! - flags: `&` runs with the step before; `!` drops the request after a few polls (each `!`
//!   two more), then its answer unread (a disconnect); `~` `Content-Type: text/plain`, `-` none;
//!   `^` no `Accept`; `@N` `MCP-Protocol-Version` number N of the supported ones (9: unknown);
//!   `h` the 2026-07-28 standard headers taken from the body
//!
//! Tools (by name prefix): `deny` is answered by the interceptor, `held` decided after a short
//! wait (a window for cancellation and disconnects) and offered as a task; the upstream's
//! `progress` sends progress first, `ask` a request of its own, `nullid` answers with `id: null`,
//! `dup` answers twice, `fail` with an error.
#![no_main]

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::task::Poll;
use std::time::Duration;

use airlock_proxy::upstream::lines;
use airlock_proxy::{
    AgentChannel, AgentIdentity, AuthError, CallDecision, CallOutcome, CallTicket, Connect,
    Interceptor, Proxy, ProxyConfig, RefusedCall, SessionInfo, ToolCall, UpstreamError,
    UpstreamLink, UpstreamSpec,
};
use axum::body::Body;
use futures::StreamExt;
use futures::future::BoxFuture;
use http::{HeaderValue, Method, Request};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tower::ServiceExt;

const SERVER: &str = "srv";
const VERSIONS: [&str; 5] = [
    "2024-11-05",
    "2025-03-26",
    "2025-06-18",
    "2025-11-25",
    "2026-07-28",
];
const MAX_STEPS: usize = 24;
const SLOTS: usize = 4;

tokio::task_local! {
    /// The step whose request is being handled: labels the upstream connections it opens.
    static STEP: u64;
}

/// One `CallDecision::Forward` the interceptor gave.
#[derive(Debug)]
struct Decided {
    session: String,
    id: Value,
    name: String,
    args: Value,
    /// Answered by the relay as a task of its own: the upstream sees an id of Airlock's.
    as_task: bool,
    forwarded: bool,
}

#[derive(Default)]
struct Book {
    decided: HashMap<u64, Decided>,
    next: u64,
    /// `tool_call` invocations plus `refused` reports since the input began.
    events: usize,
    violations: Vec<String>,
    /// Upstream connection -> the step that opened it, and the session of that step once known.
    conn_step: HashMap<u64, u64>,
    step_session: HashMap<u64, String>,
    /// Session ids the driver learned; any other session id is a stateless request's.
    known: HashSet<String>,
    /// Upstream connections open, besides the shared stateless one.
    live: HashSet<u64>,
}

static SELF_TEST: LazyLock<bool> =
    LazyLock::new(|| std::env::var_os("RELAY_FUZZ_SELF_TEST").is_some());

static BOOK: LazyLock<Mutex<Book>> = LazyLock::new(Mutex::default);

fn book() -> MutexGuard<'static, Book> {
    BOOK.lock().unwrap_or_else(|p| p.into_inner())
}

/// The fuzzer's interceptor: forwards, answers or waits by the tool's name, and books it all.
struct Recorder;

struct Ticket {
    seq: u64,
    forwarded: bool,
    finished: bool,
}

impl CallTicket for Ticket {
    fn forwarded(&mut self) {
        let mut b = book();
        if self.forwarded || self.finished {
            b.violations.push(format!(
                "call {} told `forwarded` twice or after `finish`",
                self.seq
            ));
        }
        self.forwarded = true;
        if let Some(d) = b.decided.get_mut(&self.seq) {
            d.forwarded = true;
        }
    }

    fn finish(mut self: Box<Self>, outcome: CallOutcome<'_>) {
        if !self.forwarded {
            book().violations.push(format!(
                "call {} finished ({outcome:?}) without `forwarded`",
                self.seq
            ));
        }
        self.finished = true;
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.forwarded {
            // Never sent: nothing upstream may match it.
            book().decided.remove(&self.seq);
        }
    }
}

impl Interceptor for Recorder {
    fn authenticate(
        &self,
        _server: &str,
        _bearer: Option<&str>,
    ) -> Result<AgentIdentity, AuthError> {
        Ok(AgentIdentity {
            grant: "fuzz".into(),
        })
    }

    fn tool_call<'a>(
        &'a self,
        call: ToolCall<'a>,
        _agent: AgentChannel,
    ) -> BoxFuture<'a, CallDecision> {
        let name = call.name.to_owned();
        let record = Decided {
            session: call.session.session_id.to_string(),
            id: call.request_id.clone(),
            name: name.clone(),
            args: call.arguments.clone(),
            as_task: call.as_task,
            forwarded: false,
        };
        Box::pin(async move {
            // Counted when first polled: a decision dropped unpolled is a call nobody recorded.
            book().events += 1;
            if name.starts_with("deny") {
                return CallDecision::Respond(
                    json!({"content": [{"type": "text", "text": "denied"}], "isError": true}),
                );
            }
            if name.starts_with("held") {
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
            let mut b = book();
            let seq = b.next;
            b.next += 1;
            // `RELAY_FUZZ_SELF_TEST=1` forgets every decision: the checks must then fail on
            // any input that forwards a call (a check that cannot fail checks nothing).
            if !*SELF_TEST {
                b.decided.insert(seq, record);
            }
            CallDecision::Forward(Box::new(Ticket {
                seq,
                forwarded: false,
                finished: false,
            }))
        })
    }

    fn tools_list(&self, _session: &SessionInfo, result: &mut Value) {
        if let Some(tools) = result.get_mut("tools").and_then(Value::as_array_mut) {
            tools.retain(|t| t["name"] != "hidden");
        }
    }

    fn refused(&self, _call: RefusedCall<'_>) {
        book().events += 1;
    }

    fn offers_tasks(&self) -> bool {
        true
    }

    fn may_ask_human(&self, _session: &SessionInfo, tool: &str) -> bool {
        tool.starts_with("held")
    }
}

/// What a lenient server would run as a `tools/call` (as `inbound::intercepted_as` fears).
fn looks_like_call(msg: &Value) -> bool {
    msg.get("method")
        .and_then(Value::as_str)
        .map(|m| m.trim_matches(|c: char| c.is_whitespace() || c.is_control()))
        .is_some_and(|m| m.eq_ignore_ascii_case("tools/call"))
}

/// Checks one `tools/call` the upstream received on connection `conn` against the book.
fn upstream_call(conn: u64, msg: &Value) {
    let mut b = book();
    let session = b
        .conn_step
        .get(&conn)
        .and_then(|s| b.step_session.get(s))
        .cloned();
    let id = msg.get("id").cloned().unwrap_or(Value::Null);
    let local = id.as_str().is_some_and(|s| s.starts_with("airlock-"));
    let params = msg.get("params");
    let name = params.and_then(|p| p.get("name")).and_then(Value::as_str);
    let args = params
        .and_then(|p| p.get("arguments"))
        .cloned()
        .unwrap_or(Value::Null);
    let known = &b.known;
    let found = b.decided.iter().find(|(_, d)| {
        d.forwarded
            && Some(d.name.as_str()) == name
            && d.args == args
            && match &session {
                Some(s) => d.session == *s && if d.as_task { local } else { d.id == id },
                None => local && !known.contains(&d.session),
            }
    });
    match found.map(|(seq, _)| *seq) {
        Some(seq) => {
            b.decided.remove(&seq);
        }
        None => b.violations.push(format!(
            "upstream connection {conn} (session {session:?}) received an undecided call: {msg}"
        )),
    }
}

/// The in-process upstream: one task per connection, answering at once.
struct Upstream {
    next: AtomicU64,
}

impl Connect for Upstream {
    fn connect(&self) -> BoxFuture<'static, Result<UpstreamLink, UpstreamError>> {
        let conn = self.next.fetch_add(1, Ordering::Relaxed);
        let step = STEP.try_with(|s| *s).ok();
        {
            let mut b = book();
            if let Some(step) = step {
                b.conn_step.insert(conn, step);
            }
            b.live.insert(conn);
        }
        let (relay_side, server_side) = tokio::io::duplex(64 * 1024);
        let (relay_read, relay_write) = tokio::io::split(relay_side);
        let link = lines::link(SERVER, relay_read, relay_write);
        tokio::spawn(serve(conn, server_side));
        Box::pin(async move { Ok(link) })
    }
}

async fn serve(conn: u64, io: tokio::io::DuplexStream) {
    let (read, mut write) = tokio::io::split(io);
    let mut lines = BufReader::new(read).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let Ok(value) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let items = match value {
            Value::Array(items) => items,
            v => vec![v],
        };
        for msg in items {
            let mut out = Vec::new();
            answer(conn, &msg, &mut out);
            for m in out {
                let mut bytes = m.to_string().into_bytes();
                bytes.push(b'\n');
                if write.write_all(&bytes).await.is_err() {
                    break;
                }
            }
        }
    }
    let mut b = book();
    b.live.remove(&conn);
    b.conn_step.remove(&conn);
}

fn answer(conn: u64, msg: &Value, out: &mut Vec<Value>) {
    let id = msg.get("id").cloned();
    let method = msg.get("method").and_then(Value::as_str);
    if looks_like_call(msg) {
        upstream_call(conn, msg);
        let Some(id) = id else { return };
        let name = msg
            .pointer("/params/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let ok = json!({"jsonrpc": "2.0", "id": id, "result": {"content": [{"type": "text", "text": "ran"}]}});
        if name.starts_with("progress")
            && let Some(token) = msg.pointer("/params/_meta/progressToken")
        {
            out.push(json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": token, "progress": 1}}));
        }
        if name.starts_with("ask") {
            out.push(json!({"jsonrpc": "2.0", "id": format!("ask-{conn}"), "method": "sampling/createMessage", "params": {"messages": []}}));
        }
        if name.starts_with("nullid") {
            out.push(json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": "could not read"}}));
            return;
        }
        if name.starts_with("fail") {
            out.push(
                json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32000, "message": "failed"}}),
            );
            return;
        }
        if name.starts_with("dup") {
            out.push(ok.clone());
        }
        out.push(ok);
        return;
    }
    let (Some(id), Some(method)) = (id, method) else {
        return;
    };
    let result = match method {
        "initialize" => json!({
            "protocolVersion": msg.pointer("/params/protocolVersion").cloned().unwrap_or(json!("2025-03-26")),
            "capabilities": {"tools": {"listChanged": true}},
            "serverInfo": {"name": "fuzz-upstream", "version": "1"}
        }),
        "tools/list" => {
            let tools = ["echo", "held", "deny", "hidden", "progress", "ask"].map(|n| {
                let schema = json!({"type": "object", "properties": {"a": {"type": "string", "x-mcp-header": "A"}}});
                json!({"name": n, "inputSchema": schema})
            });
            json!({ "tools": tools })
        }
        _ => json!({}),
    };
    out.push(json!({"jsonrpc": "2.0", "id": id, "result": result}));
}

struct World {
    rt: tokio::runtime::Runtime,
    proxy: Proxy,
    step: AtomicU64,
}

static WORLD: LazyLock<World> = LazyLock::new(|| {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("cannot start a runtime: {e}"),
    };
    let config = ProxyConfig {
        request_timeout: Duration::from_secs(2),
        max_request_time: Duration::from_secs(4),
        body_timeout: Duration::from_secs(2),
        session_idle_timeout: Duration::from_secs(5),
        max_body_bytes: 64 * 1024,
        ..ProxyConfig::default()
    };
    let proxy = {
        let _guard = rt.enter();
        let proxy = Proxy::new(Arc::new(Recorder), config);
        let upstream = Arc::new(Upstream {
            next: AtomicU64::new(0),
        });
        proxy.set_servers([(SERVER.to_owned(), UpstreamSpec::Custom(upstream))]);
        proxy
    };
    World {
        rt,
        proxy,
        step: AtomicU64::new(0),
    }
});

/// One line of the input.
struct Step<'a> {
    kind: u8,
    slot: usize,
    with_previous: bool,
    drop_after: Option<usize>,
    content_type: Option<&'static str>,
    accept: bool,
    version: Option<&'static str>,
    standard_headers: bool,
    body: &'a [u8],
}

fn parse(data: &[u8]) -> Vec<Step<'_>> {
    data.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .take(MAX_STEPS)
        .map(|line| {
            let (head, body) = match line.iter().position(|b| *b == b' ') {
                Some(i) => (&line[..i], &line[i + 1..]),
                None => (line, &[][..]),
            };
            let mut step = Step {
                kind: head.first().copied().unwrap_or(b's'),
                slot: 0,
                with_previous: false,
                drop_after: None,
                content_type: Some("application/json"),
                accept: true,
                version: None,
                standard_headers: false,
                body,
            };
            let mut flags = head.iter().skip(1).peekable();
            while let Some(f) = flags.next() {
                match f {
                    b'0'..=b'3' => step.slot = usize::from(f - b'0'),
                    b'&' => step.with_previous = true,
                    b'!' => step.drop_after = Some(step.drop_after.map_or(0, |n| n + 2)),
                    b'~' => step.content_type = Some("text/plain"),
                    b'-' => step.content_type = None,
                    b'^' => step.accept = false,
                    b'h' => step.standard_headers = true,
                    b'@' => {
                        let n = flags
                            .next()
                            .map_or(0, |d| usize::from(d.wrapping_sub(b'0')));
                        step.version = Some(VERSIONS.get(n).copied().unwrap_or("1999-01-01"));
                    }
                    _ => {}
                }
            }
            step
        })
        .collect()
}

/// `tools/call` attempts in a body, as the relay's parser will see them.
fn attempts(body: &[u8]) -> usize {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(items)) => items.iter().filter(|m| looks_like_call(m)).count(),
        Ok(v) => usize::from(looks_like_call(&v)),
        Err(_) => 0,
    }
}

/// True when the relay reads this step's body (nothing before it refuses the whole request).
fn parsed(step: &Step<'_>) -> bool {
    matches!(step.kind, b'n' | b's' | b'x' | b'm' | b'M')
        && step.content_type == Some("application/json")
        && (step.accept || matches!(step.kind, b'm' | b'M'))
        && (matches!(step.kind, b'm' | b'M')
            || version_header(step).is_none_or(|v| VERSIONS.contains(&v.as_str())))
}

/// The `MCP-Protocol-Version` the relay reads for a step (the first one sent).
fn version_header(step: &Step<'_>) -> Option<String> {
    if let Some(v) = step.version {
        return Some(v.to_owned());
    }
    if !step.standard_headers {
        return None;
    }
    let msg = serde_json::from_slice::<Value>(step.body).ok()?;
    let v = msg
        .pointer("/params/_meta/io.modelcontextprotocol~1protocolVersion")?
        .as_str()?;
    HeaderValue::from_str(v).is_ok().then(|| v.to_owned())
}

#[derive(Default)]
struct Slots {
    sessions: [Option<String>; SLOTS],
    legacy: [Option<String>; SLOTS],
    streams: Vec<tokio::task::JoinHandle<()>>,
}

/// What a step learned.
enum Learned {
    Nothing,
    Session(usize, String),
    Legacy(usize, String, tokio::task::JoinHandle<()>),
    Stream(tokio::task::JoinHandle<()>),
}

fn request(step: &Step<'_>, slots: &Slots) -> Option<Request<Body>> {
    let session = slots.sessions[step.slot].as_deref();
    let legacy = slots.legacy[step.slot].as_deref().unwrap_or("unknown");
    let (method, uri) = match step.kind {
        b'n' | b's' | b'x' => (Method::POST, format!("/mcp/{SERVER}")),
        b'm' => (
            Method::POST,
            format!("/message/{SERVER}?sessionId={legacy}"),
        ),
        b'M' => (Method::POST, format!("/message/{SERVER}?sessionId=unknown")),
        b'L' => (Method::GET, format!("/sse/{SERVER}")),
        b'g' => (Method::GET, format!("/mcp/{SERVER}")),
        b'd' => (Method::DELETE, format!("/mcp/{SERVER}")),
        _ => return None,
    };
    let mut req = Request::builder()
        .method(method.clone())
        .uri(uri)
        .header("host", "localhost");
    if step.accept {
        let accept = if method == Method::GET {
            "text/event-stream"
        } else {
            "application/json, text/event-stream"
        };
        req = req.header("accept", accept);
    }
    if let Some(ct) = step.content_type
        && method == Method::POST
    {
        req = req.header("content-type", ct);
    }
    if let Some(v) = step.version {
        req = req.header("mcp-protocol-version", v);
    }
    match step.kind {
        b's' | b'g' | b'd' => req = req.header("mcp-session-id", session.unwrap_or("unknown")),
        b'x' => req = req.header("mcp-session-id", "0123456789abcdef0123456789abcdef"),
        _ => {}
    }
    if step.standard_headers
        && let Ok(msg) = serde_json::from_slice::<Value>(step.body)
    {
        let header = |v: Option<&Value>| {
            v.and_then(Value::as_str)
                .and_then(|s| HeaderValue::from_str(s).ok())
        };
        if let Some(v) = header(msg.get("method")) {
            req = req.header("mcp-method", v);
        }
        if let Some(v) = header(msg.pointer("/params/name")) {
            req = req.header("mcp-name", v);
        }
        if let Some(v) =
            header(msg.pointer("/params/_meta/io.modelcontextprotocol~1protocolVersion"))
        {
            req = req.header("mcp-protocol-version", v);
        }
        if let Some(v) = header(msg.pointer("/params/arguments/a")) {
            req = req.header("mcp-param-a", v);
        }
    }
    req.body(Body::from(step.body.to_vec())).ok()
}

/// Reads an SSE body until the legacy `endpoint` event names the session.
async fn endpoint(body: Body) -> Option<(String, tokio::task::JoinHandle<()>)> {
    let mut stream = body.into_data_stream();
    let mut seen = Vec::new();
    let id = loop {
        let chunk = tokio::time::timeout(Duration::from_secs(2), stream.next())
            .await
            .ok()??
            .ok()?;
        seen.extend_from_slice(&chunk);
        let text = String::from_utf8_lossy(&seen);
        if let Some(at) = text.find("sessionId=") {
            let rest = &text[at + 10..];
            if let Some(end) = rest.find(['\n', '\r']) {
                break rest[..end].to_owned();
            }
        }
    };
    Some((
        id,
        tokio::spawn(async move { while stream.next().await.is_some() {} }),
    ))
}

async fn run_step(step: &Step<'_>, slots: &Slots, label: u64) -> Learned {
    let Some(req) = request(step, slots) else {
        return Learned::Nothing;
    };
    let fut = STEP.scope(label, WORLD.proxy.router().oneshot(req));
    tokio::pin!(fut);
    let response = match step.drop_after {
        Some(polls) => {
            for _ in 0..=polls {
                if let Poll::Ready(r) = futures::poll!(&mut fut) {
                    // Answered in time: the agent goes away without reading it.
                    drop(r);
                    return Learned::Nothing;
                }
                tokio::task::yield_now().await;
            }
            return Learned::Nothing;
        }
        None => match fut.await {
            Ok(r) => r,
            Err(never) => match never {},
        },
    };
    let session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let streaming = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let body = response.into_body();
    match step.kind {
        b'L' if streaming => match endpoint(body).await {
            Some((id, drain)) => Learned::Legacy(step.slot, id, drain),
            None => Learned::Nothing,
        },
        b'g' if streaming => {
            let mut stream = body.into_data_stream();
            Learned::Stream(tokio::spawn(async move {
                while stream.next().await.is_some() {}
            }))
        }
        _ => {
            // Bounded: an answer that never ends is not what this target looks for.
            let _ =
                tokio::time::timeout(Duration::from_secs(3), axum::body::to_bytes(body, 1 << 20))
                    .await;
            match session {
                Some(id) if step.kind == b'n' => Learned::Session(step.slot, id),
                _ => Learned::Nothing,
            }
        }
    }
}

fn learn(slots: &mut Slots, label: u64, learned: Learned) {
    match learned {
        Learned::Nothing => {}
        Learned::Session(slot, id) => {
            let mut b = book();
            b.known.insert(id.clone());
            b.step_session.insert(label, id.clone());
            slots.sessions[slot] = Some(id);
        }
        Learned::Legacy(slot, id, drain) => {
            let mut b = book();
            b.known.insert(id.clone());
            b.step_session.insert(label, id.clone());
            slots.legacy[slot] = Some(id);
            slots.streams.push(drain);
        }
        Learned::Stream(drain) => slots.streams.push(drain),
    }
}

async fn run(steps: &[Step<'_>]) {
    let mut slots = Slots::default();
    let mut i = 0;
    while i < steps.len() {
        let mut end = i + 1;
        while end < steps.len() && steps[end].with_previous {
            end += 1;
        }
        let group = &steps[i..end];
        let labels: Vec<u64> = group
            .iter()
            .map(|_| WORLD.step.fetch_add(1, Ordering::Relaxed))
            .collect();
        let learned = futures::future::join_all(
            group
                .iter()
                .zip(&labels)
                .map(|(s, l)| run_step(s, &slots, *l)),
        )
        .await;
        for (l, learned) in labels.iter().zip(learned) {
            learn(&mut slots, *l, learned);
        }
        i = end;
    }
    // Quiesce: end every session this input opened, and wait (bounded) for their upstream
    // connections to close, so everything sent upstream has been checked.
    for id in slots.sessions.iter().flatten() {
        let req = Request::builder()
            .method(Method::DELETE)
            .uri(format!("/mcp/{SERVER}"))
            .header("host", "localhost")
            .header("mcp-session-id", id.as_str())
            .body(Body::empty());
        if let Ok(req) = req {
            let _ = WORLD.proxy.router().oneshot(req).await;
        }
    }
    for drain in slots.streams.drain(..) {
        drain.abort();
        let _ = drain.await;
    }
    for _ in 0..2000 {
        let settled = {
            let b = book();
            let stateless = b
                .decided
                .values()
                .any(|d| d.forwarded && !b.known.contains(&d.session));
            b.live.len() <= 1 && !stateless
        };
        if settled {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fuzz_target!(|data: &[u8]| {
    let world = &*WORLD;
    let steps = parse(data);
    let most: usize = steps.iter().map(|s| attempts(s.body)).sum();
    let least: usize = steps
        .iter()
        .filter(|s| s.drop_after.is_none() && parsed(s))
        .map(|s| attempts(s.body))
        .sum();
    book().events = 0;
    world.rt.block_on(run(&steps));
    let mut b = book();
    let violations = std::mem::take(&mut b.violations);
    assert!(
        violations.is_empty(),
        "invariant broken:\n{}",
        violations.join("\n")
    );
    assert!(
        (least..=most).contains(&b.events),
        "{} tool_call/refused reports for between {least} and {most} `tools/call` attempts",
        b.events
    );
    // Forwarded calls the upstream never saw (their session ended first) are kept a while for a
    // late arrival, then forgotten.
    let horizon = b.next.saturating_sub(10_000);
    b.decided.retain(|seq, _| *seq >= horizon);
    if b.known.len() > 20_000 {
        b.known.clear();
        b.step_session.clear();
    }
});
