//! The gate cannot be walked around: tests an attacker would write, through the real `airlock`
//! binary, with a raw HTTP agent and an upstream that logs what it executes
//! (`airlock_testkit::logging_upstream`, which runs a `tools/call` even when it arrives as a
//! notification, and decodes string arguments).
//!
//! The invariant under test (ARCHITECTURE.md "The gate's invariant"): every message whose method
//! is `tools/call` is decided and recorded, or refused and recorded, whatever its framing; every
//! limit is exact; every forwarded request is bounded; history shows how every call and every
//! approval request ended.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use airlock_testkit::logging_upstream::{self, Log};
use anyhow::{Context, Result, bail};
use common::raw_agent::{self, RawAgent};
use common::{Serve, airlock_bin};
use serde_json::{Value, json};

/// A bound on waiting for something the gate or the upstream does (not a timing assertion).
const DEADLINE: Duration = Duration::from_secs(30);

/// A gate with one server, `logged`, behind the logging upstream, under `policy` and the given
/// `gate` settings.
struct Fixture {
    serve: Serve,
    log: Log,
    _dir: tempfile::TempDir,
}

impl Fixture {
    fn start(gate: Value, policy: Value) -> Result<Fixture> {
        let dir = tempfile::tempdir()?;
        let log = Log(dir.path().join("upstream.log"));
        let config = json!({
            "gate": gate,
            "mcpServers": { "logged": logging_upstream::entry(&log.0, "logged.json") }
        });
        let serve = Serve::start_with(&config, &[("logged.json", policy)])?;
        Ok(Fixture {
            serve,
            log,
            _dir: dir,
        })
    }

    fn url(&self) -> String {
        self.serve.mcp_url("logged")
    }

    async fn agent(&self, version: &str) -> Result<RawAgent> {
        let mut agent = RawAgent::new(&self.url());
        agent.initialize(version).await?;
        Ok(agent)
    }

    /// Every history row, oldest first, as it is now.
    async fn rows(&self) -> Result<Vec<Value>> {
        let url = format!("{}/api/history?limit=500", self.serve.base_url);
        let page: Value = reqwest::Client::new()
            .get(&url)
            .bearer_auth(&self.serve.api_token)
            .send()
            .await?
            .json()
            .await?;
        let mut items = page["items"]
            .as_array()
            .cloned()
            .context("history has no items")?;
        items.sort_by_key(|c| c["id"].as_i64());
        Ok(items)
    }

    /// Waits until the history holds rows for which `done` is true, and returns them all.
    async fn rows_until(&self, what: &str, done: impl Fn(&[Value]) -> bool) -> Result<Vec<Value>> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let rows = self.rows().await?;
            if done(&rows) {
                return Ok(rows);
            }
            if Instant::now() > deadline {
                bail!("history never showed {what}: {rows:#?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the upstream executed `n` calls of `tool`.
    async fn executed(&self, tool: &str, n: usize) -> Result<Vec<Value>> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let runs: Vec<Value> = self
                .log
                .executed()?
                .into_iter()
                .filter(|e| e["executed"] == tool)
                .collect();
            if runs.len() >= n {
                return Ok(runs);
            }
            if Instant::now() > deadline {
                bail!("the upstream ran {} `{tool}` calls, not {n}", runs.len());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn executed_now(&self, tool: &str) -> Result<usize> {
        Ok(self
            .log
            .executed()?
            .iter()
            .filter(|e| e["executed"] == tool)
            .count())
    }
}

fn run<F: std::future::Future<Output = Result<()>>>(test: F) -> Result<()> {
    tokio::runtime::Runtime::new()?.block_on(test)
}

fn allow_all() -> Value {
    json!({"version": "1", "default": "allow"})
}

fn protocol_rows(rows: &[Value]) -> Vec<&Value> {
    rows.iter()
        .filter(|r| r["decidedBy"] == "protocol")
        .collect()
}

#[test]
fn a_tools_call_without_an_id_is_never_forwarded_on_any_framing() -> Result<()> {
    let f = Fixture::start(json!({}), allow_all())?;
    run(async {
        // Alone, as a notification and with `id: null`: 400 with a JSON-RPC error.
        let mut agent = f.agent("2025-06-18").await?;
        let notification = json!({"jsonrpc": "2.0", "method": "tools/call",
            "params": {"name": "echo", "arguments": {"via": "notification"}}});
        let answer = agent.post(&notification).await?;
        assert_eq!(answer.status, 400, "{answer:?}");
        assert_eq!(
            answer.error().map(|e| e["code"].clone()),
            Some(json!(-32600))
        );
        let null_id = json!({"jsonrpc": "2.0", "id": null, "method": "tools/call",
            "params": {"name": "echo", "arguments": {"via": "null id"}}});
        let answer = agent.post(&null_id).await?;
        assert_eq!(answer.status, 400, "{answer:?}");

        // In a batch (2025-03-26): the good call runs, the bad one gets an error element.
        let mut batch_agent = f.agent("2025-03-26").await?;
        let batch = json!([
            {"jsonrpc": "2.0", "method": "tools/call",
             "params": {"name": "echo", "arguments": {"via": "batch notification"}}},
            raw_agent::call(json!(5), "echo", json!({"via": "batch request"}))
        ]);
        let answer = batch_agent.post(&batch).await?;
        let items = answer.messages.first().and_then(Value::as_array).cloned();
        let items = items.with_context(|| format!("no batch answer: {answer:?}"))?;
        assert_eq!(items.len(), 2, "{items:?}");
        assert!(
            items
                .iter()
                .any(|m| m["id"] == 5 && m["result"].is_object())
        );
        assert!(
            items
                .iter()
                .any(|m| m["id"].is_null() && m["error"]["code"] == -32600)
        );

        // Without a session (the stateless form needs an id too): 400, recorded.
        let sessionless = RawAgent::new(&f.url()).post(&notification).await?;
        assert_eq!(sessionless.status, 400);

        // Look-alike spellings a lenient server might accept.
        let answer = agent
            .post(&json!({"jsonrpc": "2.0", "id": 9, "method": "Tools/Call",
                "params": {"name": "echo", "arguments": {"via": "look-alike"}}}))
            .await?;
        assert_eq!(
            answer
                .response(&json!(9))
                .map(|r| r["error"]["code"].clone()),
            Some(json!(-32600))
        );

        // A call to a session that does not exist (guessed, or ended): 404, recorded, on both
        // transports.
        let mut guesser = RawAgent::new(&f.url());
        guesser.session = Some("0123456789abcdef0123456789abcdef".into());
        let guessed = guesser
            .post(&raw_agent::call(
                json!(11),
                "echo",
                json!({"via": "guessed session"}),
            ))
            .await?;
        assert_eq!(guessed.status, 404);
        let legacy = reqwest::Client::new()
            .post(format!(
                "http://localhost:{}/message/logged?sessionId=guessed",
                f.serve.port
            ))
            .header("content-type", "application/json")
            .body(raw_agent::call(json!(12), "echo", json!({"via": "guessed legacy"})).to_string())
            .send()
            .await?;
        assert_eq!(legacy.status(), 404);

        // The legacy SSE transport: the refusal arrives on the session's stream.
        legacy_sse_refuses_notifications(&f).await?;

        assert_eq!(f.executed("echo", 1).await?.len(), 1);
        let rows = f
            .rows_until("eight refused calls", |rows| protocol_rows(rows).len() >= 8)
            .await?;
        let refused = protocol_rows(&rows);
        assert_eq!(refused.len(), 8, "{refused:#?}");
        let kinds: Vec<&str> = refused
            .iter()
            .filter_map(|r| r["decisionKind"].as_str())
            .collect();
        assert_eq!(
            kinds.iter().filter(|k| **k == "malformed").count(),
            5,
            "{kinds:?}"
        );
        assert_eq!(
            kinds.iter().filter(|k| **k == "no_session").count(),
            3,
            "{kinds:?}"
        );
        assert!(refused.iter().all(|r| r["decision"] == "deny"));
        // Nothing but the batch's good call ever ran.
        let executed = f.log.executed()?;
        assert_eq!(executed.len(), 1, "{executed:#?}");
        assert_eq!(executed[0]["arguments"]["via"], "batch request");
        Ok(())
    })
}

/// GET /sse/logged, POST a `tools/call` notification to its endpoint: 202, and an error with
/// `id: null` on the stream.
async fn legacy_sse_refuses_notifications(f: &Fixture) -> Result<()> {
    use futures::StreamExt;
    let http = reqwest::Client::new();
    let base = format!("http://localhost:{}", f.serve.port);
    let response = http
        .get(format!("{base}/sse/logged"))
        .header("accept", "text/event-stream")
        .send()
        .await?;
    let mut body = response.bytes_stream();
    let mut text = String::new();
    let endpoint = loop {
        let chunk = tokio::time::timeout(DEADLINE, body.next())
            .await?
            .context("the SSE stream ended")??;
        text.push_str(&String::from_utf8_lossy(&chunk));
        if let Some(line) = text.lines().find(|l| l.starts_with("data: /message/")) {
            break line.trim_start_matches("data: ").to_owned();
        }
    };
    let post = |body: Value| {
        http.post(format!("{base}{endpoint}"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    post(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2024-11-05", "capabilities": {},
        "clientInfo": {"name": "raw-sse", "version": "1"}}}),
    )
    .await?;
    post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await?;
    let status = post(json!({"jsonrpc": "2.0", "method": "tools/call",
        "params": {"name": "echo", "arguments": {"via": "legacy sse"}}}))
    .await?
    .status();
    assert_eq!(status, 202);
    let deadline = Instant::now() + DEADLINE;
    loop {
        if text.contains("\"id\":null") && text.contains("-32600") {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("no refusal on the SSE stream: {text}");
        }
        if let Ok(Some(chunk)) = tokio::time::timeout(Duration::from_secs(1), body.next()).await {
            text.push_str(&String::from_utf8_lossy(&chunk?));
        }
    }
}

#[test]
fn arguments_that_are_not_an_object_are_refused_before_the_policy() -> Result<()> {
    let policy = json!({"version": "1", "default": "allow", "tools": {"echo": {"deny_if": [
        {"path": "args.channel", "op": "regex", "value": "^private-admin-",
         "on_deny": "Admin channels are off limits"}]}}});
    let f = Fixture::start(json!({}), policy)?;
    run(async {
        let mut agent = f.agent("2025-11-25").await?;
        let cases = [
            json!({"name": "echo", "arguments": "{\"channel\":\"private-admin-x\"}"}),
            json!({"name": "echo", "arguments": [{"channel": "private-admin-x"}]}),
            json!({"name": "echo", "arguments": "{\"channel\":\"private-admin-x\"}",
                   "task": {"ttl": 60000}}),
            json!({"name": 7, "arguments": {}}),
            json!("echo"),
        ];
        for (i, params) in cases.iter().enumerate() {
            let id = json!(100 + i);
            let answer = agent
                .post(
                    &json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params}),
                )
                .await?;
            let error = answer.response(&id).map(|r| r["error"].clone());
            assert_eq!(
                error.as_ref().map(|e| e["code"].clone()),
                Some(json!(-32602)),
                "{params}: {answer:?}"
            );
        }
        // The object form is decided by the policy as usual.
        let answer = agent
            .call(json!(1), "echo", json!({"channel": "private-admin-x"}))
            .await?;
        let result = answer.response(&json!(1)).map(|r| r["result"].clone());
        assert_eq!(
            result.as_ref().map(|r| r["isError"].clone()),
            Some(json!(true))
        );

        let rows = f
            .rows_until("the refusals", |rows| {
                protocol_rows(rows).len() >= cases.len()
            })
            .await?;
        assert_eq!(protocol_rows(&rows).len(), cases.len());
        let policy_denial = rows
            .iter()
            .filter(|r| r["decisionKind"] == "deny_if")
            .count();
        assert_eq!(policy_denial, 1);
        assert_eq!(f.log.executed()?.len(), 0, "nothing ran");
        Ok(())
    })
}

#[test]
fn a_request_id_already_in_flight_is_refused_and_the_first_is_unharmed() -> Result<()> {
    let f = Fixture::start(json!({}), allow_all())?;
    run(async {
        let agent = f.agent("2025-06-18").await?;
        let first = {
            let mut agent = agent.clone();
            tokio::spawn(async move { agent.call(json!(1), "slow", json!({"ms": 800})).await })
        };
        f.executed("slow", 1).await?;
        let mut second = agent.clone();
        let answer = second.call(json!(1), "echo", json!({"n": 2})).await?;
        let error = answer.response(&json!(1)).map(|r| r["error"].clone());
        assert_eq!(
            error.as_ref().map(|e| e["code"].clone()),
            Some(json!(-32600)),
            "{answer:?}"
        );
        let first = first.await??;
        let text = first
            .response(&json!(1))
            .map(|r| r["result"]["content"][0]["text"].clone());
        assert_eq!(text, Some(json!("slow done")));
        assert_eq!(f.executed_now("echo")?, 0);

        // Ids in Airlock's own space (seen upstream on stateless requests) are refused too.
        let stateless = RawAgent::new(&f.url());
        stateless
            .request(
                &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {
                "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}}),
            )
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/list")
            .send()
            .await?;
        let local = f
            .log
            .received()?
            .into_iter()
            .find_map(|m| {
                m["id"]
                    .as_str()
                    .filter(|id| id.starts_with("airlock-"))
                    .map(str::to_owned)
            })
            .context("the stateless request reached the upstream under a local id")?;
        let reserved = format!(
            "{}999",
            local.trim_end_matches(|c: char| c.is_ascii_digit())
        );
        let mut agent = agent;
        let answer = agent.call(json!(reserved), "echo", json!({})).await?;
        let error = answer
            .response(&json!(reserved))
            .map(|r| r["error"].clone());
        assert_eq!(
            error.as_ref().map(|e| e["code"].clone()),
            Some(json!(-32600)),
            "{answer:?}"
        );

        let rows = f
            .rows_until("two refusals", |rows| protocol_rows(rows).len() >= 2)
            .await?;
        let kinds: Vec<&str> = protocol_rows(&rows)
            .iter()
            .filter_map(|r| r["decisionKind"].as_str())
            .collect();
        assert_eq!(kinds, ["duplicate_id", "reserved_id"]);
        assert_eq!(f.executed_now("echo")?, 0);
        Ok(())
    })
}

/// Every way a forwarded call can end, and whether the agent's side does it.
#[derive(Debug, Clone, Copy)]
enum End {
    /// `notifications/cancelled` once the upstream has it.
    Cancelled,
    /// The agent drops the HTTP connection.
    Disconnected,
    /// The upstream answers with a JSON-RPC error.
    UpstreamError,
    /// The upstream process dies.
    UpstreamDied,
    /// The upstream never answers (request timeout 1 s).
    TimedOut,
}

#[test]
fn quota_is_used_the_moment_a_call_is_forwarded_however_it_ends() -> Result<()> {
    let limit = |counter: &str| {
        json!({"limits": [
        {"counter": counter, "window": "minute", "max": 3, "scope": "grant"}]})
    };
    let policy = json!({"version": "1", "default": "allow", "tools": {
        "slow": limit("slow"), "fail": limit("fail"), "die": limit("die"), "hang": limit("hang")}});
    let f = Fixture::start(
        json!({"request_timeout": "1s", "max_request_time": "2s"}),
        policy,
    )?;
    run(async {
        for (end, tool, counter) in [
            (End::Cancelled, "slow", "slow"),
            (End::Disconnected, "hang", "hang"),
            (End::UpstreamError, "fail", "fail"),
            (End::UpstreamDied, "die", "die"),
        ] {
            ends_use_quota(&f, end, tool, counter).await?;
        }
        Ok(())
    })?;
    // The request timeout, on a gate of its own (the disconnects above used up `hang`).
    let f = Fixture::start(
        json!({"request_timeout": "1s", "max_request_time": "2s"}),
        json!({"version": "1", "default": "allow", "tools": {"hang": limit("hang")}}),
    )?;
    run(ends_use_quota(&f, End::TimedOut, "hang", "hang"))
}

/// Three calls of `tool` that end as `end`, then a fourth: refused by the 3/min limit.
async fn ends_use_quota(f: &Fixture, end: End, tool: &str, counter: &str) -> Result<()> {
    let mut agent = f.agent("2025-06-18").await?;
    let before = f.executed_now(tool)?;
    for i in 0..3 {
        let id = json!(format!("{tool}-{i}"));
        let args = json!({"ms": 5000});
        match end {
            End::Cancelled => {
                let mut a = agent.clone();
                let body = raw_agent::call(id.clone(), tool, args);
                let call = tokio::spawn(async move { a.post(&body).await });
                f.executed(tool, before + i + 1).await?;
                agent
                    .post(
                        &json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                        "params": {"requestId": id, "reason": "changed my mind"}}),
                    )
                    .await?;
                call.abort();
            }
            End::Disconnected => {
                let request = agent.request(&raw_agent::call(id, tool, args));
                let call = tokio::spawn(request.send());
                f.executed(tool, before + i + 1).await?;
                call.abort();
            }
            End::UpstreamError | End::UpstreamDied | End::TimedOut => {
                let answer = agent.call(id.clone(), tool, args).await?;
                let error = answer.response(&id).map(|r| r["error"].clone());
                assert!(
                    error.is_some(),
                    "{end:?}: the agent gets an error: {answer:?}"
                );
            }
        }
    }
    f.executed(tool, before + 3).await?;
    let answer = agent.call(json!("one too many"), tool, json!({})).await?;
    let result = answer
        .response(&json!("one too many"))
        .map(|r| r["result"].clone());
    let text = result
        .as_ref()
        .and_then(|r| r["content"][0]["text"].as_str())
        .unwrap_or_default()
        .to_owned();
    assert!(
        text.starts_with("Rate limit reached"),
        "{end:?}: {answer:?}"
    );
    assert!(text.contains(counter), "{text}");
    assert_eq!(
        f.executed_now(tool)?,
        before + 3,
        "{end:?}: nothing beyond the limit ran"
    );
    Ok(())
}

#[test]
fn concurrent_calls_never_exceed_a_limit_even_with_one_shared_id() -> Result<()> {
    let policy = json!({"version": "1", "default": "allow", "tools": {"slow": {"limits": [
        {"counter": "slow", "window": "minute", "max": 5, "scope": "grant"}]}}});
    let f = Fixture::start(json!({}), policy)?;
    run(async {
        let agent = f.agent("2025-06-18").await?;
        let mut calls = Vec::new();
        for i in 0..20 {
            let mut a = agent.clone();
            calls.push(tokio::spawn(async move {
                a.call(json!(i), "slow", json!({"ms": 300})).await
            }));
        }
        for i in 0..20 {
            let mut a = agent.clone();
            calls.push(tokio::spawn(async move {
                a.call(json!("same"), "slow", json!({"ms": 300, "n": i}))
                    .await
            }));
        }
        for call in calls {
            call.await??;
        }
        let runs = f.executed_now("slow")?;
        assert_eq!(runs, 5, "exactly the limit ran");
        let rows = f.rows_until("40 rows", |rows| rows.len() >= 40).await?;
        let allowed = rows.iter().filter(|r| r["decision"] == "allow").count();
        assert_eq!(allowed, 5, "one allow row per call that ran");
        Ok(())
    })
}

#[test]
fn forwarded_requests_are_bounded_in_time() -> Result<()> {
    let f = Fixture::start(
        json!({"request_timeout": "1s", "max_request_time": "3s"}),
        allow_all(),
    )?;
    run(async {
        let mut agent = f.agent("2025-06-18").await?;
        // No answer: a JSON-RPC error after the timeout, `notifications/cancelled` upstream.
        let answer = agent.call(json!("h"), "hang", json!({})).await?;
        let error = answer.response(&json!("h")).map(|r| r["error"].clone());
        assert_eq!(
            error.as_ref().map(|e| e["code"].clone()),
            Some(json!(-32001)),
            "{answer:?}"
        );
        let message = error
            .as_ref()
            .and_then(|e| e["message"].as_str())
            .unwrap_or_default();
        assert!(message.contains("did not answer"), "{message}");
        let deadline = Instant::now() + DEADLINE;
        while !f
            .log
            .received()?
            .iter()
            .any(|m| m["method"] == "notifications/cancelled" && m["params"]["requestId"] == "h")
        {
            if Instant::now() > deadline {
                bail!("the upstream was not told to cancel");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        // Progress keeps a call alive past the timeout, up to the longest request time.
        let with_progress = |id: &str, count: u32| {
            json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
                "name": "progress", "arguments": {"every_ms": 300, "count": count},
                "_meta": {"progressToken": id}}})
        };
        let answer = agent.post(&with_progress("p-short", 6)).await?;
        let done = answer
            .response(&json!("p-short"))
            .map(|r| r["result"]["content"][0]["text"].clone());
        assert_eq!(done, Some(json!("progress done")), "{answer:?}");
        let answer = agent.post(&with_progress("p-long", 40)).await?;
        let error = answer
            .response(&json!("p-long"))
            .map(|r| r["error"]["code"].clone());
        assert_eq!(
            error,
            Some(json!(-32001)),
            "bounded by max_request_time: {answer:?}"
        );

        // An answer with `id: null` goes to the one request in flight.
        let answer = agent.call(json!("n"), "null_id", json!({})).await?;
        let error = answer
            .response(&json!("n"))
            .map(|r| r["error"]["message"].clone());
        assert_eq!(
            error,
            Some(json!("could not read the request")),
            "{answer:?}"
        );

        let rows = f
            .rows_until("the outcomes", |rows| {
                rows.iter().filter(|r| r.get("outcome").is_some()).count() >= 4
            })
            .await?;
        let outcome = |tool: &str| -> Vec<String> {
            rows.iter()
                .filter(|r| r["tool"] == tool)
                .filter_map(|r| r["outcome"].as_str().map(str::to_owned))
                .collect()
        };
        assert_eq!(outcome("hang"), ["timeout"]);
        let mut progress = outcome("progress");
        progress.sort();
        assert_eq!(progress, ["ok", "timeout"]);
        assert_eq!(outcome("null_id"), ["rpc_error"]);
        Ok(())
    })
}

/// Sends `head` (request line and headers) and then `body` slowly or not at all; returns the
/// status line of the answer.
fn raw_http(port: u16, head: &str, body: &[u8], pause: Duration) -> Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(DEADLINE))?;
    stream.write_all(head.as_bytes())?;
    for byte in body {
        if stream.write_all(&[*byte]).is_err() {
            break;
        }
        std::thread::sleep(pause);
    }
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            Err(e) if answer.is_empty() => return Err(e.into()),
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&answer);
    Ok(text.lines().next().unwrap_or_default().to_owned())
}

#[test]
fn request_bodies_are_bounded_in_size_time_and_type() -> Result<()> {
    let f = Fixture::start(
        json!({"max_body_bytes": 1000, "body_timeout": "1s"}),
        allow_all(),
    )?;
    let port = f.serve.port;
    let head = |extra: &str| {
        format!(
            "POST /mcp/logged HTTP/1.1\r\nHost: localhost:{port}\r\n\
             Accept: application/json, text/event-stream\r\n{extra}\r\n"
        )
    };
    // A declared length over the limit is refused before a byte of the body is read.
    let status = raw_http(
        port,
        &head("Content-Type: application/json\r\nContent-Length: 10000000000\r\n"),
        b"",
        Duration::ZERO,
    )?;
    assert!(status.contains(" 413 "), "{status}");
    // A chunked body is counted as it arrives.
    let big = format!("{:x}\r\n{}\r\n", 2000, "x".repeat(2000));
    let status = raw_http(
        port,
        &head("Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"),
        big.as_bytes(),
        Duration::ZERO,
    )?;
    assert!(status.contains(" 413 "), "{status}");
    // A body sent a byte at a time is cut off.
    let status = raw_http(
        port,
        &head("Content-Type: application/json\r\nContent-Length: 500\r\n"),
        &[b' '; 20],
        Duration::from_millis(200),
    )?;
    assert!(status.contains(" 408 "), "{status}");
    // Only JSON.
    let status = raw_http(
        port,
        &head("Content-Type: text/plain\r\nContent-Length: 2\r\n"),
        b"{}",
        Duration::ZERO,
    )?;
    assert!(status.contains(" 415 "), "{status}");
    // And the gate still serves.
    run(async {
        let mut agent = f.agent("2025-06-18").await?;
        let answer = agent
            .call(json!(1), "echo", json!({"still": "here"}))
            .await?;
        assert!(
            answer
                .response(&json!(1))
                .is_some_and(|r| r["result"].is_object())
        );
        Ok(())
    })
}

#[test]
fn sessions_per_server_are_capped_and_idle_ones_make_room() -> Result<()> {
    let f = Fixture::start(json!({"max_sessions_per_server": 2}), allow_all())?;
    run(async {
        // Two busy sessions: each holds its standing GET stream open.
        let first = f.agent("2025-06-18").await?;
        let second = f.agent("2025-06-18").await?;
        let open = |agent: &RawAgent| {
            agent
                .http
                .get(&agent.url)
                .header("accept", "text/event-stream")
                .header("mcp-session-id", agent.session.clone().unwrap_or_default())
                .send()
        };
        let first_stream = open(&first).await?;
        let second_stream = open(&second).await?;
        let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "third", "version": "1"}}});
        let answer = RawAgent::new(&f.url()).post(&initialize).await?;
        assert_eq!(answer.status, 503, "{answer:?}");
        let message = answer
            .error()
            .and_then(|e| e["message"].as_str())
            .unwrap_or_default();
        assert!(
            message.contains("gate.max_sessions_per_server"),
            "{message}"
        );

        // The first agent goes away without DELETE: its session is idle and makes room.
        drop(first_stream);
        let deadline = Instant::now() + DEADLINE;
        loop {
            let mut third = RawAgent::new(&f.url());
            if third.initialize("2025-06-18").await.is_ok() {
                break;
            }
            if Instant::now() > deadline {
                bail!("no room was made by the idle session");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut first = first;
        let gone = first.call(json!(1), "echo", json!({})).await?;
        assert_eq!(gone.status, 404, "the idle session was closed: {gone:?}");
        // The busy one was left alone.
        let mut second = second;
        let answer = second.call(json!(1), "echo", json!({})).await?;
        assert!(
            answer
                .response(&json!(1))
                .is_some_and(|r| r["result"].is_object())
        );
        drop(second_stream);
        Ok(())
    })
}

#[test]
fn history_shows_how_every_approval_request_ended() -> Result<()> {
    let policy = json!({"version": "1", "default": "allow", "tools": {
        "echo": {"action": "require_approval", "approval_timeout": "3s"}}});
    let f = Fixture::start(json!({"hold_seconds": 1}), policy)?;
    run(async {
        let mut agent = f.agent("2025-06-18").await?;
        // Cancelled while held, with the SDK's reason.
        let held = {
            let mut a = agent.clone();
            tokio::spawn(async move { a.call(json!("c"), "echo", json!({"n": "cancel"})).await })
        };
        wait_pending(&f, 1).await?;
        agent
            .post(
                &json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                "params": {"requestId": "c", "reason": "Request timed out"}}),
            )
            .await?;
        held.abort();
        // Disconnected while held.
        let call = tokio::spawn(
            agent
                .request(&raw_agent::call(
                    json!("d"),
                    "echo",
                    json!({"n": "disconnect"}),
                ))
                .send(),
        );
        wait_pending(&f, 1).await?;
        call.abort();
        // Held until the hold ends, never retried: the request expires with nobody waiting.
        let answer = agent
            .call(json!("e"), "echo", json!({"n": "expire"}))
            .await?;
        let text = answer
            .response(&json!("e"))
            .and_then(|r| r["result"]["content"][0]["text"].as_str())
            .unwrap_or_default()
            .to_owned();
        assert!(text.starts_with("Approval pending"), "{answer:?}");

        let rows = f
            .rows_until("every end", |rows| {
                rows.iter().any(|r| r["decisionKind"] == "expired")
                    && rows.iter().any(|r| r["decidedBy"] == "cancelled")
                    && rows.iter().any(|r| r["decidedBy"] == "disconnected")
            })
            .await?;
        let cancelled = rows.iter().find(|r| r["decidedBy"] == "cancelled");
        let message = cancelled
            .and_then(|r| r["message"].as_str())
            .unwrap_or_default();
        assert!(message.contains("Request timed out"), "{message}");
        assert!(rows.iter().any(|r| r["decision"] == "require_approval"));
        let expired = rows.iter().find(|r| r["decisionKind"] == "expired");
        assert_eq!(
            expired.map(|r| r["decidedBy"].clone()),
            Some(json!("timeout"))
        );
        assert_eq!(f.executed_now("echo")?, 0, "nothing ran");
        Ok(())
    })?;
    // The CLI filter finds them.
    let output = Command::new(airlock_bin())
        .args([
            "history",
            "--decided-by",
            "cancelled",
            "--json",
            "--data-dir",
        ])
        .arg(f.serve.data_dir())
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("Request timed out"), "{text}");
    Ok(())
}

async fn wait_pending(f: &Fixture, n: usize) -> Result<()> {
    let deadline = Instant::now() + DEADLINE;
    let url = format!("{}/api/approvals", f.serve.base_url);
    loop {
        let pending: Value = reqwest::Client::new()
            .get(&url)
            .bearer_auth(&f.serve.api_token)
            .send()
            .await?
            .json()
            .await?;
        if pending.as_array().is_some_and(|p| p.len() >= n) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("no pending approval: {pending}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn a_restart_ends_what_was_in_flight_in_history() -> Result<()> {
    // `hang` may run once an hour: killing the gate while it runs must not give that back.
    let policy = json!({"version": "1", "default": "allow", "tools": {
        "echo": {"action": "require_approval", "approval_timeout": "10m"},
        "hang": {"limits": [{"counter": "hang", "window": "hour", "max": 1, "scope": "grant"}]}}});
    let f = Fixture::start(json!({}), policy)?;
    let rt = tokio::runtime::Runtime::new()?;
    let held = rt.block_on(async {
        let agent = f.agent("2025-06-18").await?;
        let mut a = agent.clone();
        let forwarded = tokio::spawn(async move { a.call(json!(1), "hang", json!({})).await });
        f.executed("hang", 1).await?;
        let mut a = agent.clone();
        let body = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "echo", "arguments": {"n": 1}, "_meta": {"progressToken": "t"}}});
        let held = tokio::spawn(async move { a.post(&body).await });
        wait_pending(&f, 1).await?;
        Ok::<_, anyhow::Error>((forwarded, held))
    })?;
    let Fixture { serve, log, _dir } = f;
    let serve = serve.kill_and_restart()?;
    drop(held);
    let f = Fixture { serve, log, _dir };
    rt.block_on(async {
        let rows = f
            .rows_until("the interrupted call and request", |rows| {
                rows.iter().any(|r| r["outcome"] == "interrupted")
                    && rows.iter().any(|r| r["decidedBy"] == "restart")
            })
            .await?;
        let hang = rows.iter().find(|r| r["tool"] == "hang");
        assert_eq!(
            hang.map(|r| r["outcome"].clone()),
            Some(json!("interrupted"))
        );
        let echo = rows.iter().find(|r| r["tool"] == "echo");
        assert_eq!(echo.map(|r| r["decision"].clone()), Some(json!("deny")));
        assert_eq!(
            echo.map(|r| r["decisionKind"].clone()),
            Some(json!("interrupted"))
        );
        // The interrupted call still counts: its use was stored with its row, before it left.
        let mut agent = f.agent("2025-06-18").await?;
        let again = agent.call(json!(3), "hang", json!({})).await?;
        let denied = again
            .response(&json!(3))
            .context("no answer to the second hang")?;
        assert_eq!(denied["result"]["isError"], true, "{denied}");
        assert_eq!(
            denied["result"]["_meta"][airlock_gate::META_KEY]["kind"],
            "rate_limit",
            "{denied}"
        );
        assert_eq!(f.executed_now("hang")?, 1, "the second `hang` ran");
        Ok(())
    })
}

#[test]
fn airlock_call_and_connect_end_their_sessions() -> Result<()> {
    let f = Fixture::start(json!({}), allow_all())?;
    for i in 0..20 {
        let output = Command::new(airlock_bin())
            .args(["call", "logged", "echo", &format!("n={i}"), "--data-dir"])
            .arg(f.serve.data_dir())
            .output()?;
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    wait_all_exited(&f.log, 20)?;

    // `airlock connect`: the session ends when the agent closes stdin.
    let mut connect = Command::new(airlock_bin())
        .args(["connect", "logged", "--data-dir"])
        .arg(f.serve.data_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut stdin = connect.stdin.take().context("stdin")?;
    let stdout = connect.stdout.take().context("stdout")?;
    // Read stdout on its own thread so a missing answer fails the test
    // instead of hanging it.
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
            let Ok(line) = line else { break };
            let Ok(msg) = serde_json::from_str(&line) else {
                break;
            };
            if tx.send(msg).is_err() {
                break;
            }
        }
    });
    for msg in [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "stdio-agent", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "echo", "arguments": {}}}),
        raw_agent::call(json!(2), "echo", json!({"via": "connect"})),
    ] {
        writeln!(stdin, "{msg}")?;
    }
    // The call's answer and the notification's refusal (an error without an
    // id) both reach the stdio agent; connect posts them concurrently, so
    // they may come in either order.
    let refusal = |m: &Value| m["id"].is_null() && m["error"]["code"] == -32600;
    let mut seen: Vec<Value> = Vec::new();
    while !(seen.iter().any(|m| m["id"] == 2) && seen.iter().any(refusal)) {
        match rx.recv_timeout(DEADLINE) {
            Ok(msg) => seen.push(msg),
            Err(_) => bail!("connect did not answer both messages: {seen:?}"),
        }
    }
    drop(stdin);
    let status = wait_exit(&mut connect)?;
    assert!(status.success(), "{status}");
    wait_all_exited(&f.log, 21)?;
    Ok(())
}

fn wait_exit(child: &mut std::process::Child) -> Result<std::process::ExitStatus> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            bail!("the process did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until `n` upstream processes started and every one of them exited.
fn wait_all_exited(log: &Log, n: usize) -> Result<()> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let pids = log.pids()?;
        let alive: Vec<u32> = pids
            .iter()
            .copied()
            .filter(|p| logging_upstream::alive(*p))
            .collect();
        if pids.len() >= n && alive.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "{} upstream processes started, {} still running",
                pids.len(),
                alive.len()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn what_a_server_prints_is_logged_redacted() -> Result<()> {
    let f = Fixture::start(json!({}), allow_all())?;
    let token = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";
    run(async {
        let mut agent = f.agent("2025-06-18").await?;
        let line = format!("upstream-said: Authorization: Bearer {token}");
        agent
            .call(json!(1), "echo", json!({"stderr": line}))
            .await?;
        Ok(())
    })?;
    let logged = f.serve.wait_for_log("upstream-said")?;
    assert!(!logged.contains(token), "{logged}");
    assert!(logged.contains("Authorization"), "{logged}");
    Ok(())
}
