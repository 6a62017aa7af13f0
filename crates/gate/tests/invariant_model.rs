//! A model-based property test of the gate's invariant (ARCHITECTURE.md "The gate's invariant"):
//! random sequences of agent messages, over real HTTP, to a real [`Gate`] (SQLite history in a
//! temp dir) in front of the logging upstream (`airlock_testkit::logging_upstream`, a lenient
//! stdio server that runs a `tools/call` however it arrives and logs every call it runs).
//!
//! Every call carries a unique nonce in its arguments, so it can be followed across the upstream's
//! log and the history. After each sequence, once the gate is quiet, the test checks:
//!
//! - every call the upstream ran has a nonce, ran once, and has exactly one history row, an
//!   `allow`;
//! - no call the gate must refuse (a notification, `id: null`, no `jsonrpc`, a look-alike method,
//!   arguments that are not an object, a name that is not a string, a tool the policy denies, a
//!   call that needs an approval nobody gives) ran;
//! - every call that reached the gate as a whole request has exactly one history row (a dropped
//!   connection at most one);
//! - each `scope: session` limit used as much quota as calls of its tool ran, never more than its
//!   `max`.
//!
//! `PROPTEST_CASES` sets the number of sequences (default 16).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test: a failure must fail the test loudly"
)]

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use airlock_gate::{Config, Gate, GateOptions};
use airlock_store::{CallFilter, CallRecord, Decision, PageRequest};
use airlock_testkit::logging_upstream::{self, Log};
use proptest::prelude::*;
use proptest::test_runner::{Config as RunConfig, TestCaseError, TestRunner};
use serde_json::{Value, json};

/// A bound on waiting for the gate to go quiet (not a timing assertion).
const QUIET: Duration = Duration::from_secs(30);

/// Per session: `echo` at most 3 times, `hang` at most 2; `ask` is `echo` with an argument that
/// asks a human; `die` (unlisted) is denied.
fn policy() -> Value {
    let limit = |counter: &str, max: u32| {
        json!({"limits": [{"counter": counter, "window": "hour", "max": max, "scope": "session"}]})
    };
    let mut echo = limit("echo_calls", 3);
    echo["approve_if"] = json!([{"path": "args.ask", "op": "exists"}]);
    json!({"version": "1", "default": "deny", "tools": {
        "echo": echo,
        "hang": limit("hang_calls", 2),
        "slow": {},
        "fail": {},
    }})
}

/// The limits of [`policy`]: tool, counter, max.
const LIMITS: [(&str, &str, usize); 2] = [("echo", "echo_calls", 3), ("hang", "hang_calls", 2)];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tool {
    Echo,
    Slow,
    Hang,
    Fail,
    /// Unlisted: the policy denies it.
    Die,
    /// `echo` that needs an approval.
    Ask,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Echo | Tool::Ask => "echo",
            Tool::Slow => "slow",
            Tool::Hang => "hang",
            Tool::Fail => "fail",
            Tool::Die => "die",
        }
    }
}

/// How a call is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    Request,
    /// The id of the call before it (which may still be in flight).
    SameIdAsPrevious,
    Notification,
    NullId,
    NoJsonrpc,
    /// `Tools/Call`.
    LookAlike,
    /// `arguments` as a JSON string a lenient server decodes.
    StringArguments,
    ArrayArguments,
    /// `params.name` a number.
    NumberName,
}

impl Framing {
    /// True when the relay refuses the call whatever else happens.
    fn always_refused(self) -> bool {
        !matches!(self, Framing::Request | Framing::SameIdAsPrevious)
    }
}

#[derive(Clone, Copy, Debug)]
struct CallSpec {
    tool: Tool,
    framing: Framing,
}

#[derive(Clone, Debug)]
enum Op {
    Call(CallSpec),
    Batch(Vec<CallSpec>),
    /// `notifications/cancelled` for the call before.
    CancelPrevious,
    /// A call whose connection is dropped after `ms`.
    Disconnect(CallSpec, u64),
    Junk(&'static str),
    /// Lets what was sent so far move on before the next message.
    Pause,
}

fn call_spec() -> impl Strategy<Value = CallSpec> {
    let tool = prop_oneof![
        4 => Just(Tool::Echo),
        3 => Just(Tool::Slow),
        2 => Just(Tool::Hang),
        1 => Just(Tool::Fail),
        1 => Just(Tool::Die),
        1 => Just(Tool::Ask),
    ];
    let framing = prop_oneof![
        8 => Just(Framing::Request),
        2 => Just(Framing::SameIdAsPrevious),
        1 => Just(Framing::Notification),
        1 => Just(Framing::NullId),
        1 => Just(Framing::NoJsonrpc),
        1 => Just(Framing::LookAlike),
        1 => Just(Framing::StringArguments),
        1 => Just(Framing::ArrayArguments),
        1 => Just(Framing::NumberName),
    ];
    (tool, framing).prop_map(|(tool, framing)| CallSpec { tool, framing })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => call_spec().prop_map(Op::Call),
        2 => prop::collection::vec(call_spec(), 2..4).prop_map(Op::Batch),
        1 => Just(Op::CancelPrevious),
        1 => (call_spec(), 20u64..400).prop_map(|(c, ms)| Op::Disconnect(c, ms)),
        1 => prop::sample::select(vec![
            "[]",
            "42",
            "{\"jsonrpc\": \"2.0\", \"id\": \"p\", \"method\": \"ping\"}",
            "{\"jsonrpc\": \"2.0\", \"method\": \"tools/call\"",
            "{\"jsonrpc\": \"2.0\", \"id\": 3, \"result\": {}}",
        ])
        .prop_map(Op::Junk),
        2 => Just(Op::Pause),
    ]
}

/// A gate on 127.0.0.1:0 with one server, `logged`, behind the logging upstream.
struct Fixture {
    gate: Gate,
    url: String,
    log: Log,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
    _server: tokio::task::JoinHandle<()>,
}

impl Fixture {
    async fn start() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let log = Log(dir.path().join("upstream.log"));
        std::fs::write(dir.path().join("policy.json"), policy().to_string()).unwrap();
        let config = json!({
            "gate": {"listen": "127.0.0.1:0", "request_timeout": "1s", "max_request_time": "2s",
                     "hold_seconds": 1},
            "mcpServers": {"logged": logging_upstream::entry(&log.0, "policy.json")},
        });
        std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
        let config = Config::load(&dir.path().join("config.json")).unwrap();
        let mut options = GateOptions::new(config);
        options.data_dir = Some(dir.path().join("data"));
        let gate = Gate::build(options).await.unwrap();
        let listener = gate.bind(None).await.unwrap();
        let url = format!("http://{}/mcp/logged", listener.local_addr().unwrap());
        let app = gate.proxy_router();
        let serving = gate.clone();
        let server = tokio::spawn(async move {
            serving
                .serve(listener, app, std::future::pending())
                .await
                .unwrap();
        });
        Fixture {
            gate,
            url,
            log,
            http: reqwest::Client::new(),
            _dir: dir,
            _server: server,
        }
    }

    fn post(&self, session: Option<&str>, body: String) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .post(&self.url)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .timeout(Duration::from_secs(20))
            .body(body);
        if let Some(s) = session {
            req = req
                .header("mcp-session-id", s)
                .header("mcp-protocol-version", "2025-03-26");
        }
        req
    }

    /// A session negotiated at 2025-03-26 (batches allowed).
    async fn session(&self) -> String {
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-03-26", "capabilities": {},
            "clientInfo": {"name": "invariant-model", "version": "1"}}});
        let resp = self.post(None, init.to_string()).send().await.unwrap();
        let id = resp.headers()["mcp-session-id"]
            .to_str()
            .unwrap()
            .to_owned();
        resp.text().await.unwrap();
        let done = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        self.post(Some(&id), done.to_string())
            .send()
            .await
            .unwrap();
        id
    }

    async fn history(&self) -> Vec<CallRecord> {
        let mut all = Vec::new();
        let mut before = None;
        loop {
            let page = self
                .gate
                .store()
                .query_calls(CallFilter::default(), PageRequest { before, limit: 1000 })
                .await
                .unwrap();
            all.extend(page.calls);
            match page.next {
                Some(next) => before = Some(next),
                None => return all,
            }
        }
    }
}

/// One call as sent.
#[derive(Debug)]
struct Sent {
    nonce: String,
    spec: CallSpec,
    /// Its connection was dropped: it may never have reached the gate whole.
    dropped: bool,
}

static NONCES: AtomicU64 = AtomicU64::new(0);

/// The message for `spec`, with a fresh nonce; `id` is the call's id.
fn message(spec: CallSpec, id: &Value) -> (String, Value) {
    let nonce = format!("nonce{}", NONCES.fetch_add(1, Ordering::Relaxed));
    let mut args = json!({"nonce": nonce});
    match spec.tool {
        Tool::Slow => args["ms"] = json!(300),
        Tool::Ask => args["ask"] = json!(true),
        _ => {}
    }
    let arguments = match spec.framing {
        Framing::StringArguments => Value::String(args.to_string()),
        Framing::ArrayArguments => json!([args]),
        _ => args,
    };
    let name = match spec.framing {
        Framing::NumberName => json!(7),
        _ => json!(spec.tool.name()),
    };
    let method = match spec.framing {
        Framing::LookAlike => "Tools/Call",
        _ => "tools/call",
    };
    let mut msg = json!({"jsonrpc": "2.0", "id": id, "method": method,
        "params": {"name": name, "arguments": arguments}});
    match spec.framing {
        Framing::Notification => {
            msg.as_object_mut().unwrap().remove("id");
        }
        Framing::NullId => msg["id"] = Value::Null,
        Framing::NoJsonrpc => {
            msg.as_object_mut().unwrap().remove("jsonrpc");
        }
        _ => {}
    }
    (nonce, msg)
}

/// Plays `ops` in one session; returns the session id and every call sent.
async fn play(f: &Arc<Fixture>, ops: &[Op]) -> (String, Vec<Sent>) {
    let session = f.session().await;
    let mut sent = Vec::new();
    let mut tasks = Vec::new();
    let mut last_id = json!("first");
    let mut next_id = 0u64;
    let mut id_for = |spec: &CallSpec, last_id: &mut Value| {
        if spec.framing != Framing::SameIdAsPrevious {
            next_id += 1;
            *last_id = json!(next_id);
        }
        last_id.clone()
    };
    for op in ops {
        let (body, dropped_after) = match op {
            Op::Call(spec) => {
                let (nonce, msg) = message(*spec, &id_for(spec, &mut last_id));
                sent.push(Sent { nonce, spec: *spec, dropped: false });
                (msg.to_string(), None)
            }
            Op::Disconnect(spec, ms) => {
                let (nonce, msg) = message(*spec, &id_for(spec, &mut last_id));
                sent.push(Sent { nonce, spec: *spec, dropped: true });
                (msg.to_string(), Some(*ms))
            }
            Op::Batch(specs) => {
                let mut items = Vec::new();
                for spec in specs {
                    let (nonce, msg) = message(*spec, &id_for(spec, &mut last_id));
                    sent.push(Sent { nonce, spec: *spec, dropped: false });
                    items.push(msg);
                }
                (Value::Array(items).to_string(), None)
            }
            Op::CancelPrevious => (
                json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                    "params": {"requestId": last_id, "reason": "changed my mind"}})
                .to_string(),
                None,
            ),
            Op::Junk(text) => ((*text).to_owned(), None),
            Op::Pause => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let request = f.post(Some(&session), body);
        let task = tokio::spawn(async move {
            if let Ok(resp) = request.send().await {
                let _ = resp.text().await;
            }
        });
        match dropped_after {
            Some(ms) => {
                let abort = task.abort_handle();
                tasks.push(tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    abort.abort();
                }));
            }
            None => tasks.push(task),
        }
        // The request is on its way before the next one is sent (order, not timing, matters).
        tokio::task::yield_now().await;
    }
    for t in tasks {
        let _ = t.await;
    }
    (session, sent)
}

/// The nonce in a history row's (redacted) arguments, or in an executed call's arguments.
fn nonce_in(text: &str) -> Option<String> {
    text.match_indices("nonce").find_map(|(at, _)| {
        let digits: String = text[at + 5..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        (!digits.is_empty()).then(|| format!("nonce{digits}"))
    })
}

struct Seen {
    rows: HashMap<String, Vec<CallRecord>>,
    executed: HashMap<String, usize>,
    executed_by_tool: HashMap<&'static str, usize>,
    unnonced: Vec<Value>,
}

/// What history and the upstream show for `sent`, once every row is complete and no row was
/// added for a while.
async fn settle(f: &Fixture, sent: &[Sent]) -> Seen {
    let deadline = Instant::now() + QUIET;
    let mut last_len = usize::MAX;
    loop {
        let rows = f.history().await;
        let ours: Vec<CallRecord> = rows
            .into_iter()
            .filter(|r| nonce_in(&r.arguments).is_some_and(|n| sent.iter().any(|s| s.nonce == n)))
            .collect();
        let complete = ours
            .iter()
            .all(|r| r.decision != Decision::Allow || r.completion.is_some());
        if (complete && ours.len() == last_len) || Instant::now() > deadline {
            break;
        }
        last_len = ours.len();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut rows: HashMap<String, Vec<CallRecord>> = HashMap::new();
    for r in f.history().await {
        if let Some(n) = nonce_in(&r.arguments) {
            rows.entry(n).or_default().push(r);
        }
    }
    let mut seen = Seen {
        rows,
        executed: HashMap::new(),
        executed_by_tool: HashMap::new(),
        unnonced: Vec::new(),
    };
    for e in f.log.executed().unwrap() {
        match e["arguments"]["nonce"].as_str() {
            Some(n) => {
                if let Some(s) = sent.iter().find(|s| s.nonce == n) {
                    *seen.executed_by_tool.entry(s.spec.tool.name()).or_default() += 1;
                    *seen.executed.entry(n.to_owned()).or_default() += 1;
                }
            }
            None => seen.unnonced.push(e),
        }
    }
    seen
}

/// The case's sequence, printed one op per line when it fails.
struct Shown<'a>(&'a [Op]);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for op in self.0 {
            writeln!(f, "  {op:?}")?;
        }
        Ok(())
    }
}

async fn check(f: &Arc<Fixture>, ops: &[Op]) -> Result<(), String> {
    let (session, sent) = play(f, ops).await;
    let seen = settle(f, &sent).await;
    let mut broken = Vec::new();
    if !seen.unnonced.is_empty() {
        broken.push(format!("the upstream ran calls without a nonce: {:?}", seen.unnonced));
    }
    for s in &sent {
        let rows = seen.rows.get(&s.nonce).map_or(&[][..], Vec::as_slice);
        let ran = seen.executed.get(&s.nonce).copied().unwrap_or(0);
        let must_refuse = s.spec.framing.always_refused() || matches!(s.spec.tool, Tool::Die | Tool::Ask);
        if ran > 1 {
            broken.push(format!("{} ({:?}) ran {ran} times", s.nonce, s.spec));
        }
        if ran > 0 && must_refuse {
            broken.push(format!("{} ({:?}) must be refused, but ran", s.nonce, s.spec));
        }
        if ran > 0 && (rows.len() != 1 || rows[0].decision != Decision::Allow) {
            broken.push(format!("{} ({:?}) ran with history {rows:?}", s.nonce, s.spec));
        }
        let expected = if s.dropped { 0..=1 } else { 1..=1 };
        if !expected.contains(&rows.len()) {
            broken.push(format!("{} ({:?}) has {} history rows: {rows:?}", s.nonce, s.spec, rows.len()));
        }
    }
    let events = f.gate.store().load_counter_events(0).await.unwrap();
    for (tool, counter, max) in LIMITS {
        let used = events
            .iter()
            .filter(|e| e.key.contains(&session) && e.key.contains(counter))
            .count();
        let ran = seen.executed_by_tool.get(tool).copied().unwrap_or(0);
        if used != ran || used > max {
            broken.push(format!("`{counter}` used {used} (max {max}) for {ran} `{tool}` calls run"));
        }
    }
    // End the session, so its upstream process exits.
    let _ = f
        .http
        .delete(&f.url)
        .header("mcp-session-id", &session)
        .send()
        .await;
    if broken.is_empty() {
        Ok(())
    } else {
        Err(format!("sequence:\n{}broken:\n  {}", Shown(ops), broken.join("\n  ")))
    }
}

#[test]
fn every_call_the_upstream_ran_was_allowed_and_recorded_once() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fixture = Arc::new(rt.block_on(Fixture::start()));
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(16);
    let config = RunConfig {
        cases,
        // Each shrink step replays a sequence against the real gate: keep shrinking bounded.
        max_shrink_iters: 64,
        failure_persistence: None,
        ..RunConfig::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&prop::collection::vec(op(), 1..12), |ops| {
        rt.block_on(check(&fixture, &ops))
            .map_err(TestCaseError::fail)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
