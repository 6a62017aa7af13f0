//! The relay against real peers: the rmcp 3.11.0 example server (`examples/rmcp_upstream.rs`) as
//! a stdio child, and as agents the rmcp Streamable HTTP client or raw HTTP requests (for the
//! protocol rules and bad input a well-behaved SDK never sends).
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test harness helpers: a failed setup step must fail the test loudly"
)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use airlock_proxy::{
    AgentChannel, AgentIdentity, AuthError, CallDecision, CallOutcome, CallTicket, Interceptor,
    Proxy, ProxyConfig, SessionInfo, ToolCall, UpstreamSpec,
};
use futures::StreamExt;
use futures::future::BoxFuture;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Test interceptor

#[derive(Default)]
struct Recorder {
    finished: AtomicUsize,
    withdrawn: AtomicUsize,
    calls: Mutex<Vec<(String, String)>>,
}

struct Gate(Arc<Recorder>);

struct Ticket(Arc<Recorder>);
impl CallTicket for Ticket {
    fn finish(self: Box<Self>, _outcome: CallOutcome<'_>) {
        self.0.finished.fetch_add(1, Ordering::SeqCst);
    }
}

struct WithdrawGuard(Arc<Recorder>);
impl Drop for WithdrawGuard {
    fn drop(&mut self) {
        self.0.withdrawn.fetch_add(1, Ordering::SeqCst);
    }
}

impl Interceptor for Gate {
    fn authenticate(&self, server: &str, bearer: Option<&str>) -> Result<AgentIdentity, AuthError> {
        match (server, bearer) {
            (_, Some("alice")) => Ok(AgentIdentity {
                grant: "alice".into(),
            }),
            (_, Some("bob")) => Ok(AgentIdentity {
                grant: "bob".into(),
            }),
            (_, Some("noaccess")) => Err(AuthError::NoAccess {
                grant: "noaccess".into(),
                server: server.into(),
            }),
            (_, Some(_)) => Err(AuthError::UnknownToken),
            ("locked", None) => Err(AuthError::MissingToken),
            (_, None) => Ok(AgentIdentity {
                grant: "anon".into(),
            }),
        }
    }

    fn tool_call<'a>(
        &'a self,
        call: ToolCall<'a>,
        agent: AgentChannel,
    ) -> BoxFuture<'a, CallDecision> {
        let rec = self.0.clone();
        rec.calls
            .lock()
            .unwrap()
            .push((call.session.agent.grant.clone(), call.name.to_owned()));
        let name = call.name.to_owned();
        let args = call.arguments.clone();
        Box::pin(async move {
            if name == "add" && args["a"].as_f64().unwrap_or(0.0) > 100.0 {
                return CallDecision::Respond(json!({
                    "content": [{"type": "text", "text": "Denied by policy: too big (rule /tools/add/deny_if/0)"}],
                    "isError": true
                }));
            }
            if name == "echo" && args["text"] == "hold" {
                let _guard = WithdrawGuard(rec.clone());
                agent.notify(
                    "notifications/message",
                    json!({"level": "info", "data": "holding"}),
                );
                std::future::pending::<()>().await;
            }
            CallDecision::Forward(Box::new(Ticket(rec)))
        })
    }

    fn tools_list(&self, _session: &SessionInfo, result: &mut Value) {
        if let Some(tools) = result.get_mut("tools").and_then(Value::as_array_mut) {
            tools.retain(|t| t["name"] != "secret_tool");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Harness

struct Harness {
    base: String,
    proxy: Proxy,
    rec: Arc<Recorder>,
    log: PathBuf,
    _dir: tempfile::TempDir,
    http: reqwest::Client,
}

fn upstream_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    dir.join("examples").join("rmcp_upstream")
}

async fn start() -> Harness {
    start_with(ProxyConfig::default()).await
}

async fn start_with(config: ProxyConfig) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("upstream.log");
    let spec = UpstreamSpec::Stdio(airlock_proxy::StdioCommand {
        command: upstream_bin().to_string_lossy().into_owned(),
        args: vec![],
        env: BTreeMap::from([(
            "RMCP_UPSTREAM_LOG".to_owned(),
            log.to_string_lossy().into_owned(),
        )]),
        cwd: None,
    });
    let rec = Arc::new(Recorder::default());
    let proxy = Proxy::new(
        Arc::new(Gate(rec.clone())),
        ProxyConfig {
            reconnect_initial: Duration::from_millis(50),
            ..config
        },
    );
    proxy.set_servers([("up".to_owned(), spec.clone()), ("locked".to_owned(), spec)]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = proxy.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    Harness {
        base: format!("http://127.0.0.1:{}", addr.port()),
        proxy,
        rec,
        log,
        _dir: dir,
        http: reqwest::Client::new(),
    }
}

const ACCEPT: &str = "application/json, text/event-stream";

use airlock_testkit::mcp_http::answer_messages as sse_messages;

impl Harness {
    fn url(&self) -> String {
        format!("{}/mcp/up", self.base)
    }

    fn post(&self, session: Option<&str>, body: &Value) -> reqwest::RequestBuilder {
        let mut r = self
            .http
            .post(self.url())
            .header("accept", ACCEPT)
            .json(body);
        if let Some(s) = session {
            r = r
                .header("mcp-session-id", s)
                .header("mcp-protocol-version", "2025-11-25");
        }
        r
    }

    /// A raw session: initialize (declaring sampling and elicitation) and initialized.
    async fn session(&self) -> String {
        self.session_as(None).await
    }

    async fn session_as(&self, token: Option<&str>) -> String {
        let mut r = self.post(
            None,
            &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {"sampling": {}, "elicitation": {}},
                "clientInfo": {"name": "raw-agent", "version": "1"}
            }}),
        );
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let resp = r.send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let sid = resp.headers()["mcp-session-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(sid.bytes().all(|b| (0x21..=0x7e).contains(&b)));
        let msgs = sse_messages(&resp.text().await.unwrap());
        assert!(msgs.last().unwrap()["result"]["serverInfo"]["name"].is_string());
        let mut r = self.post(
            Some(&sid),
            &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        );
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        assert_eq!(r.send().await.unwrap().status(), 202);
        sid
    }

    /// One request in a session; returns every message of its SSE stream.
    async fn request(&self, sid: &str, body: Value) -> Vec<Value> {
        let resp = self.post(Some(sid), &body).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{body}");
        sse_messages(&resp.text().await.unwrap())
    }

    async fn call(&self, sid: &str, id: u64, tool: &str, args: Value) -> Value {
        let msgs = self
            .request(sid, json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": args}}))
            .await;
        msgs.into_iter()
            .find(|m| m.get("id") == Some(&json!(id)))
            .unwrap()
    }

    /// A stateless (2026-07-28) POST with the standard headers a correct client sends.
    fn stateless(&self, body: &Value) -> reqwest::RequestBuilder {
        let mut r = self
            .http
            .post(self.url())
            .header("accept", ACCEPT)
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", body["method"].as_str().unwrap())
            .json(body);
        if let Some(name) = body["params"]["name"].as_str() {
            r = r.header("mcp-name", name);
        }
        r
    }

    fn upstream_log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (up to a generous cap) until the upstream log contains `needle`.
    async fn wait_log(&self, needle: &str) {
        for _ in 0..300 {
            if self.upstream_log().contains(needle) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "upstream never logged `{needle}`; log: {}",
            self.upstream_log()
        );
    }
}

fn text_of(resp: &Value) -> &str {
    resp["result"]["content"][0]["text"].as_str().unwrap_or("")
}

// ---------------------------------------------------------------------------------------------
// With the rmcp client as the agent

#[expect(
    deprecated,
    reason = "sampling is deprecated in 2026-07-28; 2025-era peers use it"
)]
mod rmcp_agent {
    use super::*;
    use rmcp::ServiceExt;
    use rmcp::model::{
        CallToolRequestParams, ClientConfig, CreateMessageRequestParams, CreateMessageResult,
        ElicitRequestParams, ElicitResult,
    };
    use rmcp::service::RequestContext;
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::{ClientHandler, ErrorData, RoleClient};

    #[derive(Clone)]
    pub(super) struct Agent;

    impl ClientHandler for Agent {
        async fn create_message(
            &self,
            _params: CreateMessageRequestParams,
            _ctx: RequestContext<RoleClient>,
        ) -> Result<CreateMessageResult, ErrorData> {
            Ok(serde_json::from_value(json!({"role": "assistant", "content": {"type": "text", "text": "hi"}, "model": "test-model"})).unwrap())
        }

        async fn create_elicitation(
            &self,
            _request: ElicitRequestParams,
            _ctx: RequestContext<RoleClient>,
        ) -> Result<ElicitResult, ErrorData> {
            Ok(
                serde_json::from_value(json!({"action": "accept", "content": {"name": "Ada"}}))
                    .unwrap(),
            )
        }

        fn get_info(&self) -> ClientConfig {
            serde_json::from_value(json!({
                "protocolVersion": "2025-11-25",
                "capabilities": {"sampling": {}, "elicitation": {"form": {}}},
                "clientInfo": {"name": "rmcp-agent", "version": "1.0.0"}
            }))
            .unwrap()
        }
    }

    fn call(name: &'static str, args: Value) -> CallToolRequestParams {
        let mut p = CallToolRequestParams::new(name);
        p.arguments = args.as_object().cloned();
        p
    }

    #[tokio::test]
    async fn rmcp_client_initializes_lists_calls_and_gets_denials() {
        let h = start().await;
        let client = Agent
            .serve(StreamableHttpClientTransport::from_uri(h.url()))
            .await
            .unwrap();
        // initialize passed through: the upstream's capabilities arrive as declared.
        let info = client.peer_info().unwrap();
        assert!(info.capabilities.tools.is_some());

        let tools = client.list_all_tools().await.unwrap();
        let names: Vec<&str> = tools.iter().map(|t| &*t.name).collect();
        assert!(
            names.contains(&"echo") && names.contains(&"ask"),
            "{names:?}"
        );
        assert!(
            !names.contains(&"secret_tool"),
            "hidden tool listed: {names:?}"
        );

        let r = client
            .call_tool(call("add", json!({"a": 2, "b": 3})))
            .await
            .unwrap();
        assert_eq!(serde_json::to_value(&r).unwrap()["content"][0]["text"], "5");
        assert_ne!(r.is_error, Some(true));

        let r = client
            .call_tool(call("add", json!({"a": 1000, "b": 3})))
            .await
            .unwrap();
        assert_eq!(r.is_error, Some(true));
        let v = serde_json::to_value(&r).unwrap();
        assert!(
            v["content"][0]["text"]
                .as_str()
                .unwrap()
                .starts_with("Denied by policy")
        );
        // The denied call never reached the upstream; the allowed one did and its ticket finished.
        assert_eq!(h.upstream_log().matches("call add").count(), 1);
        assert_eq!(h.rec.finished.load(Ordering::SeqCst), 1);
        client.cancel().await.unwrap();
    }

    #[tokio::test]
    async fn sampling_and_elicitation_round_trip_through_the_proxy() {
        let h = start().await;
        let client = Agent
            .serve(StreamableHttpClientTransport::from_uri(h.url()))
            .await
            .unwrap();
        let r = client.call_tool(call("ask", json!({}))).await.unwrap();
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["content"][0]["text"], "sampled: hi; elicited: Ada");
        client.cancel().await.unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP agents

#[tokio::test]
async fn progress_notifications_reach_the_agent_before_the_result() {
    let h = start().await;
    let sid = h.session().await;
    let msgs = h
        .request(
            &sid,
            json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
            "name": "slow", "arguments": {"steps": 3}, "_meta": {"progressToken": "tok-7"}}}),
        )
        .await;
    let progress: Vec<&Value> = msgs
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .collect();
    assert_eq!(progress.len(), 3, "{msgs:?}");
    assert!(
        progress
            .iter()
            .all(|p| p["params"]["progressToken"] == "tok-7")
    );
    assert_eq!(text_of(msgs.last().unwrap()), "slow done after 3 steps");
}

#[tokio::test]
async fn cancellation_of_a_forwarded_call_reaches_the_upstream() {
    let h = start().await;
    let sid = h.session().await;
    let req = h.post(Some(&sid), &json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "slow", "arguments": {"steps": 1000}}}));
    let pending = tokio::spawn(async move { req.send().await.unwrap().text().await.unwrap() });
    h.wait_log("call slow").await;
    let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 9, "reason": "test"}});
    assert_eq!(
        h.post(Some(&sid), &cancel).send().await.unwrap().status(),
        202
    );
    h.wait_log("cancelled slow").await;
    // The request's stream ends without a response.
    let body = pending.await.unwrap();
    assert!(
        sse_messages(&body)
            .iter()
            .all(|m| m.get("id") != Some(&json!(9))),
        "{body}"
    );
}

#[tokio::test]
async fn a_held_call_cancelled_by_the_agent_is_dropped_and_never_forwarded() {
    let h = start().await;
    let sid = h.session().await;
    let req = h.post(Some(&sid), &json!({"jsonrpc": "2.0", "id": "h1", "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "hold"}}}));
    let pending = tokio::spawn(async move { req.send().await.unwrap().text().await.unwrap() });
    for _ in 0..200 {
        if !h.rec.calls.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "h1"}});
    assert_eq!(
        h.post(Some(&sid), &cancel).send().await.unwrap().status(),
        202
    );
    let body = pending.await.unwrap();
    let msgs = sse_messages(&body);
    // The keep-alive sent through the AgentChannel arrived; no response did.
    assert!(
        msgs.iter().any(|m| m["method"] == "notifications/message"),
        "{body}"
    );
    assert!(msgs.iter().all(|m| m.get("id").is_none()), "{body}");
    assert_eq!(h.rec.withdrawn.load(Ordering::SeqCst), 1);
    // A later call works, and the held one never reached the upstream.
    assert_eq!(
        text_of(&h.call(&sid, 2, "echo", json!({"text": "after"})).await),
        "echo: after"
    );
    assert!(!h.upstream_log().contains("call echo\ncall echo"));
    assert_eq!(h.upstream_log().matches("call echo").count(), 1);
}

#[tokio::test]
async fn a_held_call_is_withdrawn_when_the_agent_closes_its_stream() {
    let h = start().await;
    let sid = h.session().await;
    let resp = h
        .post(Some(&sid), &json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "hold"}}}))
        .send()
        .await
        .unwrap();
    let mut body = resp.bytes_stream();
    // Read the first message (the interceptor's notification), then hang up.
    let first = next_data(&mut body).await;
    assert!(first.contains("holding"), "{first}");
    drop(body);
    for _ in 0..200 {
        if h.rec.withdrawn.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(h.rec.withdrawn.load(Ordering::SeqCst), 1);
    assert!(!h.upstream_log().contains("call echo"));
}

/// Found by the gate's property test (`crates/gate/tests/invariant_model.rs`): a call whose
/// session ended before the task deciding it first ran was dropped without the interceptor ever
/// polling its decision, so the gate recorded nothing. On this single-threaded runtime the POST
/// hands the call to the session and the DELETE ends the session before that task runs; the
/// interceptor's guard must see the call withdrawn, every round.
#[tokio::test]
async fn a_call_whose_session_ends_before_its_decision_runs_is_still_seen_withdrawn() {
    use tower::ServiceExt;
    let h = start().await;
    let request = |method: &str, sid: &str, body: String| {
        http::Request::builder()
            .method(method)
            .uri("/mcp/up")
            .header("host", "localhost")
            .header("accept", ACCEPT)
            .header("content-type", "application/json")
            .header("mcp-session-id", sid)
            .header("mcp-protocol-version", "2025-11-25")
            .body(axum::body::Body::from(body))
            .unwrap()
    };
    for round in 0..16 {
        let sid = h.session().await;
        let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "echo", "arguments": {"text": "hold"}}});
        let post = h
            .proxy
            .router()
            .oneshot(request("POST", &sid, call.to_string()));
        tokio::pin!(post);
        // Polled here, not spawned: the call reaches the session, the answer waits.
        assert!(futures::poll!(&mut post).is_pending());
        let deleted = h
            .proxy
            .router()
            .oneshot(request("DELETE", &sid, String::new()))
            .await
            .unwrap();
        assert_eq!(deleted.status(), 204);
        let answer = post.await.unwrap();
        let _ = axum::body::to_bytes(answer.into_body(), 1 << 20).await;
        // The deciding task pushes to `calls` and drops the decision in one run.
        for _ in 0..200 {
            if h.rec.calls.lock().unwrap().len() > round {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(h.rec.calls.lock().unwrap().len(), round + 1);
        assert_eq!(
            h.rec.withdrawn.load(Ordering::SeqCst),
            round + 1,
            "round {round}: the call was dropped before the interceptor saw it"
        );
    }
    assert!(!h.upstream_log().contains("call echo"));
}

#[tokio::test]
async fn upstream_crash_fails_the_call_in_flight_then_the_session_reconnects() {
    let h = start().await;
    let sid = h.session().await;
    let r = h.call(&sid, 1, "crash", json!({})).await;
    assert_eq!(r["error"]["code"], -32603, "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("upstream `up` exited"),
        "{r}"
    );
    // The session reconnects (replaying initialize); the next call works in the same session.
    let mut answer = Value::Null;
    for i in 0..100 {
        answer = h.call(&sid, 10 + i, "echo", json!({"text": "back"})).await;
        if answer.get("result").is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(text_of(&answer), "echo: back", "{answer}");
    assert_eq!(h.upstream_log().matches("started").count(), 2);
    let status = &h.proxy.server_status()["up"];
    assert_eq!(status.restarts, 1);
    assert!(status.last_error.as_deref().unwrap().contains("exited"));
    assert_eq!(status.sessions, 1);
}

#[tokio::test]
async fn session_rules_are_enforced() {
    let h = start().await;
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    // Missing session id: 400. Unknown: 404.
    let r = h
        .http
        .post(h.url())
        .header("accept", ACCEPT)
        .json(&list)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        h.post(Some("nope"), &list).send().await.unwrap().status(),
        404
    );
    let sid = h.session().await;
    // Bad protocol version header: 400; missing means 2025-03-26 and is fine.
    let r = h
        .http
        .post(h.url())
        .header("accept", ACCEPT)
        .header("mcp-session-id", &sid)
        .header("mcp-protocol-version", "1999-01-01")
        .json(&list)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = h
        .http
        .post(h.url())
        .header("accept", ACCEPT)
        .header("mcp-session-id", &sid)
        .json(&list)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Another identity cannot use this session.
    let r = h
        .post(Some(&sid), &list)
        .bearer_auth("alice")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Batches are refused outside 2025-03-26 sessions.
    let r = h.post(Some(&sid), &json!([list])).send().await.unwrap();
    assert_eq!(r.status(), 400);
    // GET without a session: 400; with one: an SSE stream.
    let r = h
        .http
        .get(h.url())
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = h
        .http
        .get(h.url())
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    drop(r);
    // DELETE ends the session.
    let r = h
        .http
        .delete(h.url())
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    assert_eq!(
        h.post(Some(&sid), &list).send().await.unwrap().status(),
        404
    );
    assert_eq!(h.proxy.server_status()["up"].sessions, 0);
}

#[tokio::test]
async fn a_2025_03_26_session_accepts_batches_and_answers_as_a_batch() {
    let h = start().await;
    let resp = h
        .post(None, &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "old", "version": "1"}}}))
        .send()
        .await
        .unwrap();
    let sid = resp.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let init = sse_messages(&resp.text().await.unwrap());
    assert_eq!(init[0]["result"]["protocolVersion"], "2025-03-26");
    let batch = json!([
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "a"}}},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "add", "arguments": {"a": 500, "b": 1}}}
    ]);
    let r = h
        .http
        .post(h.url())
        .header("accept", ACCEPT)
        .header("mcp-session-id", &sid)
        .json(&batch)
        .send()
        .await
        .unwrap();
    let msgs = sse_messages(&r.text().await.unwrap());
    let arr = msgs.iter().find_map(Value::as_array).unwrap();
    assert_eq!(arr.len(), 2);
    let by_id = |id: u64| arr.iter().find(|m| m["id"] == id).unwrap();
    assert_eq!(text_of(by_id(1)), "echo: a");
    assert_eq!(by_id(2)["result"]["isError"], true);
}

#[tokio::test]
async fn legacy_sse_downstream_relays_a_session() {
    let h = start().await;
    let resp = h
        .http
        .get(format!("{}/sse/up", h.base))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut stream = resp.bytes_stream();
    let mut buf = String::new();
    let mut next_event = async || -> (String, String) {
        loop {
            if let Some(i) = buf.find("\n\n") {
                let ev: String = buf.drain(..i + 2).collect();
                let name = ev
                    .lines()
                    .find_map(|l| l.strip_prefix("event:"))
                    .unwrap_or("message")
                    .trim()
                    .to_owned();
                let data: Vec<&str> = ev
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(str::trim_start)
                    .collect();
                if data.is_empty() {
                    continue;
                }
                return (name, data.join("\n"));
            }
            let chunk = stream.next().await.unwrap().unwrap();
            buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    let (name, endpoint) = next_event().await;
    assert_eq!(name, "endpoint");
    assert!(endpoint.starts_with("/message/up?sessionId="), "{endpoint}");
    let post = |body: Value| {
        h.http
            .post(format!("{}{endpoint}", h.base))
            .json(&body)
            .send()
    };
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "legacy", "version": "1"}}});
    assert_eq!(post(init).await.unwrap().status(), 202);
    let (name, data) = next_event().await;
    assert_eq!(name, "message");
    let v: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(v["id"], 1);
    assert_eq!(v["result"]["protocolVersion"], "2024-11-05");
    assert_eq!(
        post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await
            .unwrap()
            .status(),
        202
    );
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "old"}}});
    assert_eq!(post(call).await.unwrap().status(), 202);
    let (_, data) = next_event().await;
    let v: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(text_of(&v), "echo: old");
}

#[tokio::test]
async fn dns_rebinding_bad_host_or_origin_is_forbidden() {
    let h = start().await;
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "x", "version": "1"}}});
    let r = h
        .post(None, &init)
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        r.json::<Value>().await.unwrap()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("evil.example")
    );
    let r = h
        .post(None, &init)
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = h
        .post(None, &init)
        .header("origin", "http://localhost:5173")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn bad_input_gets_clear_errors_and_the_server_keeps_serving() {
    let h = start_with(ProxyConfig {
        max_body_bytes: 64 * 1024,
        ..ProxyConfig::default()
    })
    .await;
    let sid = h.session().await;
    let raw = |body: Vec<u8>| {
        h.http
            .post(h.url())
            .header("accept", ACCEPT)
            .header("content-type", "application/json")
            .header("mcp-session-id", &sid)
            .body(body)
            .send()
    };
    let mut n = 100;
    let mut still_works = async || {
        n += 1;
        assert_eq!(
            text_of(&h.call(&sid, n, "echo", json!({"text": "ok"})).await),
            "echo: ok"
        );
    };

    // Too large: 413.
    let big = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "x".repeat(100_000)}}});
    assert_eq!(
        raw(serde_json::to_vec(&big).unwrap())
            .await
            .unwrap()
            .status(),
        413
    );
    still_works().await;
    // Malformed JSON: -32700.
    let r = raw(b"{\"jsonrpc\": \"2.0\", \"id\": ".to_vec())
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], -32700);
    still_works().await;
    // JSON but not JSON-RPC: -32600.
    let r = raw(b"{\"hello\": 1}".to_vec()).await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], -32600);
    still_works().await;
    // Nesting deeper than the parser's limit: -32700.
    let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
    let r = raw(deep.into_bytes()).await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], -32700);
    still_works().await;
    // Unknown server: 404 naming it.
    let r = h
        .http
        .post(format!("{}/mcp/nosuch", h.base))
        .header("accept", ACCEPT)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(
        r.json::<Value>().await.unwrap()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`nosuch`")
    );
    still_works().await;
    // Wrong Accept: 406.
    let r = h
        .http
        .post(h.url())
        .header("accept", "application/json")
        .header("mcp-session-id", &sid)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 406);
    still_works().await;
    // Auth: missing token where one is required -> 401 with a challenge; no access -> 403;
    // unknown token -> 401.
    let locked = format!("{}/mcp/locked", h.base);
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "x", "version": "1"}}});
    let r = h
        .http
        .post(&locked)
        .header("accept", ACCEPT)
        .json(&init)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let r = h
        .http
        .post(&locked)
        .header("accept", ACCEPT)
        .bearer_auth("noaccess")
        .json(&init)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = h
        .http
        .post(&locked)
        .header("accept", ACCEPT)
        .bearer_auth("who")
        .json(&init)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    still_works().await;
}

#[tokio::test]
async fn sixteen_concurrent_sessions_each_get_their_own_answers() {
    let h = Arc::new(start().await);
    let mut tasks = Vec::new();
    for i in 0..16 {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            let sid = h.session().await;
            let mut answers = Vec::new();
            for j in 0..3u64 {
                let text = format!("agent-{i}-call-{j}");
                // Every agent uses the same ids: sessions must not mix them up.
                let r = h.call(&sid, j, "echo", json!({"text": text})).await;
                answers.push((text_of(&r).to_owned(), format!("echo: {text}")));
            }
            answers
        }));
    }
    for t in tasks {
        for (got, want) in t.await.unwrap() {
            assert_eq!(got, want);
        }
    }
    assert_eq!(h.proxy.server_status()["up"].sessions, 16);
}

#[tokio::test]
async fn broadcast_reaches_the_get_stream_of_each_session() {
    let h = start().await;
    let sid = h.session().await;
    let n = h.proxy.broadcast(
        "up",
        json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}),
    );
    assert_eq!(n, 1);
    // Buffered until the GET stream opens, then delivered there.
    let r = h
        .http
        .get(h.url())
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    let mut body = r.bytes_stream();
    let first = next_data(&mut body).await;
    assert!(
        first.contains("notifications/tools/list_changed"),
        "{first}"
    );
}

#[tokio::test]
async fn stateless_2026_requests_share_a_connection_with_ids_remapped() {
    let h = start().await;
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "modern", "version": "1"}
    });
    let call = |id: u64, text: &str| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
            "name": "echo", "arguments": {"text": text}, "_meta": meta}})
    };
    // Two agents use the same id at once over the one shared upstream connection.
    let (a, b) = tokio::join!(
        h.stateless(&call(1, "a")).send(),
        h.stateless(&call(1, "b")).send(),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.headers().get("mcp-session-id").is_none());
    let a = sse_messages(&a.text().await.unwrap());
    let b = sse_messages(&b.text().await.unwrap());
    assert_eq!(a.last().unwrap()["id"], 1, "{a:?}");
    assert_eq!(text_of(a.last().unwrap()), "echo: a", "{a:?}");
    assert_eq!(text_of(b.last().unwrap()), "echo: b", "{b:?}");
    assert_eq!(h.upstream_log().matches("started").count(), 1);
}

#[tokio::test]
async fn stateless_requests_whose_headers_contradict_the_body_get_400_header_mismatch() {
    let h = start().await;
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "modern", "version": "1"}
    });
    let call = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
        "name": "echo", "arguments": {"text": "hi"}, "_meta": meta}});
    // Each request leaves out or bends one header of the correct set.
    let bent = |leave_out: &str, extra: &[(&str, &str)]| {
        let mut r = h.http.post(h.url()).header("accept", ACCEPT).json(&call);
        for (name, value) in [
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "echo"),
        ] {
            if name != leave_out {
                r = r.header(name, value);
            }
        }
        for (name, value) in extra {
            r = r.header(*name, *value);
        }
        r.send()
    };
    let cases = [
        (
            bent("mcp-method", &[]).await,
            "missing `Mcp-Method` header; the request says `tools/call`",
        ),
        (
            bent("mcp-method", &[("mcp-method", "tools/list")]).await,
            "`Mcp-Method` header is `tools/list` but the request says `tools/call`",
        ),
        (
            bent("mcp-name", &[]).await,
            "missing `Mcp-Name` header; the request says `echo`",
        ),
        (
            // A gateway in front would see `crash` and let the call through as that tool.
            bent("mcp-name", &[("mcp-name", "=?base64?Y3Jhc2g=?=")]).await,
            "`Mcp-Name` header is `crash` but the request says `echo`",
        ),
        (
            bent("", &[("mcp-name", "crash")]).await,
            "`Mcp-Name` header is sent more than once",
        ),
        (
            bent("mcp-protocol-version", &[]).await,
            "missing `MCP-Protocol-Version` header; the request says `2026-07-28`",
        ),
        (
            bent(
                "mcp-protocol-version",
                &[("mcp-protocol-version", "2025-11-25")],
            )
            .await,
            "`MCP-Protocol-Version` header is `2025-11-25` but the request says `2026-07-28`",
        ),
    ];
    for (resp, message) in cases {
        let resp = resp.unwrap();
        assert_eq!(resp.status(), 400, "{message}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["id"], 7, "{body}");
        assert_eq!(body["error"]["code"], -32020, "{body}");
        assert_eq!(body["error"]["message"], message, "{body}");
    }
    // Nothing was decided or forwarded ...
    assert!(h.rec.calls.lock().unwrap().is_empty());
    assert!(!h.upstream_log().contains("call echo"));
    // ... and the correct request right after is served.
    let msgs = sse_messages(
        &h.stateless(&call)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(text_of(msgs.last().unwrap()), "echo: hi", "{msgs:?}");
    // A session of the handshake era needs none of these headers.
    let sid = h.session().await;
    let echo = h.call(&sid, 8, "echo", json!({"text": "legacy"})).await;
    assert_eq!(text_of(&echo), "echo: legacy");
}

#[tokio::test]
async fn the_get_stream_resumes_after_last_event_id() {
    let h = start().await;
    let sid = h.session().await;
    for i in 1..=2 {
        let note = json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": i}});
        assert_eq!(h.proxy.broadcast("up", note), 1);
    }
    let get = |last: Option<&str>| {
        let mut r = h
            .http
            .get(h.url())
            .header("accept", "text/event-stream")
            .header("mcp-session-id", &sid);
        if let Some(l) = last {
            r = r.header("last-event-id", l);
        }
        r.send()
    };
    let mut body = get(None).await.unwrap().bytes_stream();
    let mut seen = String::new();
    while !seen.contains("\"data\":2") {
        seen.push_str(&String::from_utf8_lossy(
            &body.next().await.unwrap().unwrap(),
        ));
    }
    assert!(
        seen.contains("id: 0-1") && seen.contains("id: 0-2"),
        "{seen}"
    );
    drop(body);
    // Resuming after the first event replays only the second.
    let mut body = get(Some("0-1")).await.unwrap().bytes_stream();
    let replay = next_data(&mut body).await;
    assert!(
        replay.contains("\"data\":2") && !replay.contains("\"data\":1"),
        "{replay}"
    );
    // Every SSE answer starts with a priming event (SEP-1699): the point to resume from, the
    // reconnection delay, and no message.
    assert!(
        replay.starts_with("id: 0-1\nretry: 1000\ndata: \n"),
        "{replay}"
    );
}

/// Reads an SSE body until it holds a message (past the priming event), and returns the text
/// read so far.
async fn next_data(
    body: &mut (impl futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
) -> String {
    let mut text = String::new();
    while !text.contains("data: {") {
        let chunk = body.next().await.unwrap().unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text
}

#[tokio::test]
async fn an_idle_session_is_closed_and_one_the_agent_listens_on_is_kept() {
    let h = start_with(ProxyConfig {
        session_idle_timeout: Duration::from_millis(300),
        ..ProxyConfig::default()
    })
    .await;
    let idle = h.session().await;
    let listening = h.session().await;
    // The second agent keeps its standing GET stream open, as Claude Code does.
    let stream = h
        .http
        .get(h.url())
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &listening)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(h.proxy.server_status()["up"].sessions, 2);
    let mut closed = false;
    for _ in 0..300 {
        if h.proxy.server_status()["up"].sessions == 1 {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(closed, "the idle session was never closed");
    // The closed session is gone for its agent (404: start a new one) ...
    let r = h
        .post(
            Some(&idle),
            &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // ... and the one with an open stream still serves.
    let msgs = h
        .request(
            &listening,
            json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        )
        .await;
    assert!(
        msgs.iter().any(|m| m["result"]["tools"].is_array()),
        "{msgs:?}"
    );
    drop(stream);
}
