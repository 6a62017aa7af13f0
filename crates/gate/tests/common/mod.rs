//! A real gate on a loopback port with the demo Pusher upstream, a policy of the test's choosing,
//! a temporary data dir, and an rmcp (official Rust SDK) client as the agent.

#![allow(
    dead_code,
    reason = "each test file uses a different part of the harness"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test harness: a failure must fail the test loudly"
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use airlock_gate::clock::{Clock, SystemClock};
use std::time::Duration;

use airlock_gate::{
    Approval, ApprovalStatus, Config, DecisionSource, Gate, GateOptions, HumanDecision, Remember,
};
use airlock_store::{CallFilter, CallRecord, PageRequest};
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

pub struct TestGate {
    pub gate: Gate,
    pub url: String,
    pub dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

pub struct Options {
    pub policy: Value,
    pub gate: Value,
    pub clock: Arc<dyn Clock>,
    /// Reuse this data dir (for restart tests).
    pub data_dir: Option<PathBuf>,
}

impl Options {
    pub fn new(policy: Value) -> Self {
        Options {
            policy,
            gate: json!({}),
            clock: Arc::new(SystemClock),
            data_dir: None,
        }
    }
}

impl TestGate {
    pub async fn start(policy: Value) -> TestGate {
        Self::start_with(Options::new(policy)).await
    }

    pub async fn start_with(options: Options) -> TestGate {
        // `AIRLOCK_LOG=debug cargo test …` shows what the gate and the relay did.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_env("AIRLOCK_LOG"))
            .with_test_writer()
            .try_init();
        let (temp, dir) = match options.data_dir {
            Some(dir) => (None, dir),
            None => {
                let temp = tempfile::tempdir().unwrap();
                let dir = temp.path().to_path_buf();
                (Some(temp), dir)
            }
        };
        std::fs::write(dir.join("policy.json"), options.policy.to_string()).unwrap();
        let mut gate_settings = json!({"listen": "127.0.0.1:0"});
        for (k, v) in options.gate.as_object().unwrap() {
            gate_settings[k] = v.clone();
        }
        let config = json!({
            "gate": gate_settings,
            "mcpServers": {"pusher": {"builtin": "demo-pusher", "policy": "policy.json"}},
        });
        std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
        let config = Config::load(&dir.join("config.json")).unwrap();
        let mut gate_options = GateOptions::new(config);
        gate_options.data_dir = Some(dir.join("data"));
        gate_options.clock = options.clock;
        let gate = Gate::build(gate_options).await.unwrap();
        let listener = gate.bind(None).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = gate.proxy_router();
        let serving = gate.clone();
        let server = tokio::spawn(async move {
            serving
                .serve(listener, app, async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        TestGate {
            gate,
            url: format!("http://{addr}/mcp/pusher"),
            dir,
            _temp: temp,
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    pub fn policy_path(&self) -> PathBuf {
        self.dir.join("policy.json")
    }

    pub async fn agent(&self) -> RunningService<RoleClient, ()> {
        ().serve(StreamableHttpClientTransport::from_uri(self.url.clone()))
            .await
            .unwrap()
    }

    /// Every recorded call, oldest first.
    /// The history once `settled` holds for it (queued writes such as completions land a
    /// moment after the agent's answer), or as it is after 10 s.
    pub async fn history_when(&self, settled: impl Fn(&[CallRecord]) -> bool) -> Vec<CallRecord> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            // A write barrier: the writer runs jobs in order, so every row queued before is in.
            self.gate.store().flush_search_index().await.unwrap();
            let history = self.history().await;
            if settled(&history) || std::time::Instant::now() > deadline {
                return history;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    pub async fn history(&self) -> Vec<CallRecord> {
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
                None => break,
            }
        }
        all.reverse();
        all
    }

    /// Stops serving and waits until the server task is gone.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.dir
    }
}

/// A plain MCP client that sends no progress token, like an SDK client whose caller passed no
/// progress callback (the TypeScript SDK's default): Airlock holds such calls only for
/// `hold_seconds`. Raw JSON over the Streamable HTTP link.
pub struct PlainAgent {
    link: airlock_proxy::UpstreamLink,
    next_id: u64,
    init: Option<Value>,
    /// Notifications (and requests) the gate sent that no `request` was waiting for, oldest first.
    pub other: Vec<Value>,
}

impl PlainAgent {
    pub async fn connect(url: &str) -> PlainAgent {
        Self::connect_as(url, None).await
    }

    /// Connects with `Authorization: Bearer <token>`.
    pub async fn connect_as(url: &str, token: Option<&str>) -> PlainAgent {
        Self::connect_with(url, token, "2025-06-18").await
    }

    /// Connects and negotiates `protocol_version`; returns the agent and the `initialize` result.
    pub async fn connect_version(url: &str, protocol_version: &str) -> (PlainAgent, Value) {
        let mut agent = Self::connect_with(url, None, protocol_version).await;
        let init = agent.init.take().unwrap();
        (agent, init)
    }

    async fn connect_with(url: &str, token: Option<&str>, protocol_version: &str) -> PlainAgent {
        let mut headers = http::HeaderMap::new();
        if let Some(token) = token {
            headers.insert(
                http::header::AUTHORIZATION,
                format!("Bearer {token}").parse().unwrap(),
            );
        }
        let link = airlock_proxy::upstream::http::connect(url, &headers)
            .await
            .unwrap();
        let mut agent = PlainAgent {
            link,
            next_id: 1,
            init: None,
            other: Vec::new(),
        };
        let init = agent
            .request(
                "initialize",
                json!({"protocolVersion": protocol_version, "capabilities": {},
                       "clientInfo": {"name": "plain-agent", "version": "1.0"}}),
            )
            .await;
        assert!(init.get("result").is_some(), "{init}");
        agent.init = Some(init["result"].clone());
        agent
            .link
            .to_server
            .send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await
            .unwrap();
        agent
    }

    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.send(method, params).await;
        self.response(id).await
    }

    /// Sends a request without waiting for its answer; returns its id.
    pub async fn send(&mut self, method: &str, params: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.link
            .to_server
            .send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await
            .unwrap();
        id
    }

    /// The response to request `id` (other messages are kept in `other`).
    pub async fn response(&mut self, id: u64) -> Value {
        let is_it = |m: &Value| m.get("id") == Some(&json!(id)) && m.get("method").is_none();
        if let Some(i) = self.other.iter().position(is_it) {
            return self.other.remove(i);
        }
        loop {
            let message = self
                .link
                .from_server
                .recv()
                .await
                .expect("the gate hung up");
            if is_it(&message) {
                return message;
            }
            self.other.push(message);
        }
    }

    /// Calls a tool and returns the `result` object.
    pub async fn call(&mut self, tool: &str, args: Value) -> Value {
        let response = self
            .request("tools/call", json!({"name": tool, "arguments": args}))
            .await;
        response["result"].clone()
    }
}

pub fn result_text(result: &Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

pub fn result_meta(result: &Value) -> Value {
    result["_meta"]["dev.airlock/decision"].clone()
}

pub fn call(name: &str, args: Value) -> CallToolRequestParams {
    let mut params = CallToolRequestParams::new(name.to_string());
    params.arguments = args.as_object().cloned();
    params
}

pub fn text(result: &CallToolResult) -> String {
    serde_json::to_value(result).unwrap()["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

pub fn meta(result: &CallToolResult) -> Value {
    serde_json::to_value(result).unwrap()["_meta"]["dev.airlock/decision"].clone()
}

/// The first pending approval request, once one appears.
pub async fn wait_pending(gate: &TestGate) -> Approval {
    for _ in 0..1000 {
        if let Some(a) = gate.gate.pending_approvals().into_iter().next() {
            return a;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no approval request appeared");
}

/// Waits until request `id` has `status`.
pub async fn wait_status(gate: &TestGate, id: &str, status: ApprovalStatus) {
    for _ in 0..1000 {
        if gate.gate.approval(id).map(|a| a.status) == Some(status) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "request {id} never became {status:?}: {:?}",
        gate.gate.approval(id)
    );
}

/// A decision from the local API.
pub fn decision(approve: bool, remember: Remember, note: Option<&str>) -> HumanDecision {
    HumanDecision {
        approve,
        remember,
        note: note.map(str::to_string),
        source: DecisionSource::Api,
        args: airlock_gate::scope::ArgsChoice::Same,
    }
}

/// Whether `user` is in the demo server's `presence-lobby`.
pub async fn online(gate: &TestGate, user: &str) -> bool {
    let agent = gate.agent().await;
    let r = agent
        .call_tool(call(
            "get_presence_users",
            json!({"channel": "presence-lobby"}),
        ))
        .await
        .unwrap();
    agent.cancel().await.unwrap();
    text(&r).contains(user)
}

/// A later approval of withdrawn request `id` is refused: it can never run.
pub async fn assert_cannot_approve_withdrawn(gate: &TestGate, id: &str) {
    let err = gate
        .gate
        .decide(id, decision(true, Remember::Once, None))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            airlock_gate::GateError::Decide(airlock_gate::DecideError::NotPending {
                status: "withdrawn",
                ..
            })
        ),
        "{err}"
    );
}

/// The demo Pusher under a policy where `terminate_user_connections` needs a human (requests
/// expire after `timeout`) and `get_presence_users` is allowed; everything else is denied.
pub fn approval_policy(timeout: &str) -> Value {
    json!({
        "version": "1",
        "default": "deny",
        "tools": {
            "get_presence_users": {},
            "terminate_user_connections": {
                "action": "require_approval",
                "reason": "Forces a user offline across all channels",
                "approval_timeout": timeout
            }
        }
    })
}
