//! A model-based property test of the gate's invariant (ARCHITECTURE.md "The gate's invariant"):
//! random sequences of agent messages, over real HTTP, to a real [`Gate`] (SQLite history in a
//! temp dir) in front of the logging upstream (`airlock_testkit::logging_upstream`, a lenient
//! stdio server that runs a `tools/call` however it arrives and logs every message it receives).
//!
//! Every call carries a unique nonce in its arguments, so it can be followed across the upstream's
//! log and the history. After each sequence, once the gate is quiet, the test checks:
//!
//! - every `tools/call` the upstream received (in any spelling a lenient server would run) has a
//!   nonce, was received once, and has exactly one history row, an `allow`;
//! - no call the gate must refuse (a notification, `id: null`, no `jsonrpc`, a look-alike method,
//!   arguments that are not an object, a name that is not a string, a tool the policy denies, a
//!   call that needs an approval nobody gives) reached the upstream;
//! - every call that reached the gate as a whole request has exactly one history row (a dropped
//!   connection at most one);
//! - each `scope: session` limit's quota used (the counter events the gate wrote) equals the calls
//!   of its tool the upstream received, never more than its `max`; and, while the session lives,
//!   the quota the gate still grants is what is left: `max + 1` calls sent at once then bring the
//!   calls received to exactly `max`.
//!
//! `PROPTEST_CASES` sets the number of sequences (default 16, about 20 s on two busy cores).

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
const QUIET: Duration = Duration::from_secs(10);

/// Per session: `echo` at most 3 times, `hang` at most 2; `ask` is `echo` with an argument that
/// asks a human; `die` (unlisted) is denied. (The logging upstream's `die` would end the process.)
fn policy() -> Value {
    let limit = |counter: &str, max: u32| json!({"limits": [{"counter": counter, "window": "hour", "max": max, "scope": "session"}]});
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
    /// DELETE of the session: what follows is sent to a session that no longer exists.
    EndSession,
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
            "{\"jsonrpc\": \"2.0\", \"id\": \"l\", \"method\": \"tools/list\"}",
            "{\"jsonrpc\": \"2.0\", \"method\": \"tools/list\"}",
            "{\"jsonrpc\": \"2.0\", \"method\": \"tools/call\"",
            "{\"jsonrpc\": \"2.0\", \"id\": 3, \"result\": {}}",
        ])
        .prop_map(Op::Junk),
        1 => Just(Op::EndSession),
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
            "gate": {"listen": "127.0.0.1:0", "request_timeout": "500ms", "max_request_time": "1s",
                     "hold_seconds": 2, "approval_timeout": "1s"},
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
        self.post(Some(&id), done.to_string()).send().await.unwrap();
        id
    }

    async fn history(&self) -> Vec<CallRecord> {
        let mut all = Vec::new();
        let mut before = None;
        loop {
            let page = self
                .gate
                .store()
                .query_calls(
                    CallFilter::default(),
                    PageRequest {
                        before,
                        limit: 1000,
                    },
                )
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

/// What [`play`] did.
struct Played {
    session: String,
    sent: Vec<Sent>,
    /// The sequence ended its session (`Op::EndSession`).
    ended: bool,
}

/// Sends `body` in `session` on a task of its own; with `drop_after`, the connection is dropped
/// after that many milliseconds (the task that drops it is returned).
fn send(
    f: &Fixture,
    session: &str,
    body: String,
    drop_after: Option<u64>,
) -> tokio::task::JoinHandle<()> {
    let request = f.post(Some(session), body);
    let task = tokio::spawn(async move {
        if let Ok(resp) = request.send().await {
            let _ = resp.text().await;
        }
    });
    match drop_after {
        Some(ms) => {
            let abort = task.abort_handle();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                abort.abort();
            })
        }
        None => task,
    }
}

/// Plays `ops` in one session, every message on its own connection, each sent before the next
/// (the gate may still be working on it: what overlaps is up to the scheduler).
async fn play(f: &Arc<Fixture>, ops: &[Op]) -> Played {
    let session = f.session().await;
    let mut played = Played {
        session: session.clone(),
        sent: Vec::new(),
        ended: false,
    };
    let sent = &mut played.sent;
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
                sent.push(Sent {
                    nonce,
                    spec: *spec,
                    dropped: false,
                });
                (msg.to_string(), None)
            }
            Op::Disconnect(spec, ms) => {
                let (nonce, msg) = message(*spec, &id_for(spec, &mut last_id));
                sent.push(Sent {
                    nonce,
                    spec: *spec,
                    dropped: true,
                });
                (msg.to_string(), Some(*ms))
            }
            Op::Batch(specs) => {
                let mut items = Vec::new();
                for spec in specs {
                    let (nonce, msg) = message(*spec, &id_for(spec, &mut last_id));
                    sent.push(Sent {
                        nonce,
                        spec: *spec,
                        dropped: false,
                    });
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
            Op::EndSession => {
                let delete = f
                    .http
                    .delete(&f.url)
                    .header("mcp-session-id", &session)
                    .send();
                tasks.push(tokio::spawn(async move {
                    let _ = delete.await;
                }));
                played.ended = true;
                tokio::task::yield_now().await;
                continue;
            }
            Op::Pause => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        tasks.push(send(f, &session, body, dropped_after));
        tokio::task::yield_now().await;
    }
    for t in tasks {
        let _ = t.await;
    }
    played
}

/// Sends `max + 1` well-formed calls of each limited tool at once, to see how much quota the gate
/// still grants; returns them as sent.
async fn probe(f: &Fixture, session: &str) -> Vec<Sent> {
    let mut sent = Vec::new();
    let mut tasks = Vec::new();
    for (tool, _, max) in LIMITS {
        let tool = if tool == "echo" {
            Tool::Echo
        } else {
            Tool::Hang
        };
        let spec = CallSpec {
            tool,
            framing: Framing::Request,
        };
        for _ in 0..=max {
            let id = json!(format!("probe-{}", NONCES.fetch_add(1, Ordering::Relaxed)));
            let (nonce, msg) = message(spec, &id);
            sent.push(Sent {
                nonce,
                spec,
                dropped: false,
            });
            tasks.push(send(f, session, msg.to_string(), None));
        }
    }
    for t in tasks {
        let _ = t.await;
    }
    sent
}

/// The nonce in a history row's (redacted) arguments, or in a received call's arguments (an
/// object, or the JSON text of one).
fn nonce_in(text: &str) -> Option<String> {
    text.match_indices("nonce").find_map(|(at, _)| {
        let digits: String = text[at + 5..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        (!digits.is_empty()).then(|| format!("nonce{digits}"))
    })
}

/// What a lenient server might run as a `tools/call`: the method in any case, with blanks.
fn looks_like_call(msg: &Value) -> bool {
    msg.get("method")
        .and_then(Value::as_str)
        .map(|m| m.trim_matches(|c: char| c.is_whitespace() || c.is_control()))
        .is_some_and(|m| m.eq_ignore_ascii_case("tools/call"))
}

struct Seen {
    rows: HashMap<String, Vec<CallRecord>>,
    /// By nonce: how many times the upstream received the call.
    received: HashMap<String, usize>,
    /// By tool name: calls of this sequence the upstream received.
    received_by_tool: HashMap<&'static str, usize>,
    /// `tools/call`s the upstream received that carry no nonce at all.
    unnonced: Vec<Value>,
}

/// What history and the upstream show for `sent`, once no approval is pending, every call sent
/// whole has a row, every allowed row is complete, and no row was added for a while (or
/// [`QUIET`] has passed: what is missing then is reported by the checks).
async fn settle(f: &Fixture, sent: &[Sent]) -> Seen {
    let deadline = Instant::now() + QUIET;
    let mut last_len = usize::MAX;
    loop {
        // A write barrier: the writer runs jobs in order, so every row queued before is in.
        f.gate.store().flush_search_index().await.unwrap();
        let rows: Vec<CallRecord> = f
            .history()
            .await
            .into_iter()
            .filter(|r| nonce_in(&r.arguments).is_some_and(|n| sent.iter().any(|s| s.nonce == n)))
            .collect();
        let complete = rows
            .iter()
            .all(|r| r.decision != Decision::Allow || r.completion.is_some());
        let whole = sent.iter().filter(|s| !s.dropped).all(|s| {
            rows.iter()
                .any(|r| nonce_in(&r.arguments).as_deref() == Some(s.nonce.as_str()))
        });
        let quiet =
            complete && whole && rows.len() == last_len && f.gate.pending_approvals().is_empty();
        if quiet || Instant::now() > deadline {
            break;
        }
        last_len = rows.len();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut seen = Seen {
        rows: HashMap::new(),
        received: HashMap::new(),
        received_by_tool: HashMap::new(),
        unnonced: Vec::new(),
    };
    for r in f.history().await {
        if let Some(n) = nonce_in(&r.arguments) {
            seen.rows.entry(n).or_default().push(r);
        }
    }
    for msg in f.log.received().unwrap() {
        if !looks_like_call(&msg) {
            continue;
        }
        let args = msg
            .pointer("/params/arguments")
            .map(Value::to_string)
            .unwrap_or_default();
        match nonce_in(&args) {
            Some(n) => {
                // Nonces of earlier sequences are theirs.
                if let Some(s) = sent.iter().find(|s| s.nonce == n) {
                    *seen.received_by_tool.entry(s.spec.tool.name()).or_default() += 1;
                    *seen.received.entry(n).or_default() += 1;
                }
            }
            None => seen.unnonced.push(msg),
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

/// The invariant over every call in `sent`: what broke, if anything.
fn check_calls(sent: &[Sent], seen: &Seen, broken: &mut Vec<String>) {
    if !seen.unnonced.is_empty() {
        broken.push(format!(
            "the upstream received calls without a nonce: {:?}",
            seen.unnonced
        ));
    }
    for s in sent {
        let rows = seen.rows.get(&s.nonce).map_or(&[][..], Vec::as_slice);
        let received = seen.received.get(&s.nonce).copied().unwrap_or(0);
        let must_refuse =
            s.spec.framing.always_refused() || matches!(s.spec.tool, Tool::Die | Tool::Ask);
        if received > 1 {
            broken.push(format!(
                "{} ({:?}) reached the upstream {received} times",
                s.nonce, s.spec
            ));
        }
        if received > 0 && must_refuse {
            broken.push(format!(
                "{} ({:?}) must be refused, but reached the upstream",
                s.nonce, s.spec
            ));
        }
        if received > 0 && (rows.len() != 1 || rows[0].decision != Decision::Allow) {
            broken.push(format!(
                "{} ({:?}) reached the upstream with history {rows:?}",
                s.nonce, s.spec
            ));
        }
        let expected = if s.dropped { 0..=1 } else { 1..=1 };
        if !expected.contains(&rows.len()) {
            broken.push(format!(
                "{} ({:?}) has {} history rows: {rows:?}",
                s.nonce,
                s.spec,
                rows.len()
            ));
        }
    }
}

/// Quota used per limit, from the counter events the gate wrote for `session`.
async fn quota_used(f: &Fixture, session: &str) -> HashMap<&'static str, f64> {
    let events = f.gate.store().load_counter_events(0).await.unwrap();
    LIMITS
        .iter()
        .map(|(_, counter, _)| {
            let used = events
                .iter()
                .filter(|e| e.key.contains(session) && e.key.contains(counter))
                .map(|e| e.amount)
                .sum();
            (*counter, used)
        })
        .collect()
}

/// Quota used equals calls received, at most `max`; with `full`, exactly `max`.
async fn check_quota(
    f: &Fixture,
    session: &str,
    seen: &Seen,
    full: bool,
    broken: &mut Vec<String>,
) {
    let used = quota_used(f, session).await;
    for (tool, counter, max) in LIMITS {
        // Each call uses 1: sums of small integers are exact in an f64.
        let used = used.get(counter).copied().unwrap_or(0.0);
        let received = seen.received_by_tool.get(tool).copied().unwrap_or(0);
        #[expect(clippy::cast_precision_loss, reason = "counts below 100")]
        let (received_f, max_f) = (received as f64, max as f64);
        if used != received_f || used > max_f || (full && received != max) {
            let when = if full {
                "after the probe"
            } else {
                "after the sequence"
            };
            broken.push(format!(
                "{when}: `{counter}` used {used} (max {max}) for {received} `{tool}` calls received"
            ));
        }
    }
}

async fn check(f: &Arc<Fixture>, ops: &[Op]) -> Result<(), String> {
    let Played {
        session,
        mut sent,
        ended,
    } = play(f, ops).await;
    let seen = settle(f, &sent).await;
    let mut broken = Vec::new();
    check_calls(&sent, &seen, &mut broken);
    check_quota(f, &session, &seen, false, &mut broken).await;
    if !ended && broken.is_empty() {
        // What the gate still grants must be exactly what is left of each limit.
        sent.extend(probe(f, &session).await);
        let seen = settle(f, &sent).await;
        check_calls(&sent, &seen, &mut broken);
        check_quota(f, &session, &seen, true, &mut broken).await;
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
        Err(format!(
            "sequence:\n{}broken:\n  {}",
            Shown(ops),
            broken.join("\n  ")
        ))
    }
}

#[test]
fn every_call_the_upstream_received_was_allowed_and_recorded_once() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fixture = Arc::new(rt.block_on(Fixture::start()));
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(16);
    let config = RunConfig {
        cases,
        // Each shrink step replays a sequence against the real gate: keep shrinking bounded.
        max_shrink_iters: 32,
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
