//! Harness for tests of the real `airlock` binary with real MCP peers.
//!
//! [`Serve`] runs `airlock serve` on `127.0.0.1:0` with a temp config and data dir, waits until it
//! printed its URL (polling its output, never a fixed sleep), and kills it on drop. [`Agent`] runs
//! one of the testkit's SDK clients (TypeScript or Python) and is killed on drop too, so a failing
//! assertion leaves no process behind. [`Serve::api`] talks to the local API with the gate's token.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the harness"
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

pub mod raw_agent;

use airlock_testkit::Peer;
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// A bound on how long one agent run may take before the test fails (not a timing assertion: a
/// hung peer must fail the test, not hang it).
pub const AGENT_DEADLINE: Duration = Duration::from_secs(180);

/// The `airlock` binary under test.
pub fn airlock_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_airlock"))
}

/// A permissive policy for server-everything: everything allowed but `get-env` (it would show the
/// server's environment), which is denied with a reason.
pub fn everything_policy() -> Value {
    json!({
        "version": "1",
        "default": "allow",
        "tools": {
            "get-env": { "action": "deny", "reason": "Environment variables may hold secrets" }
        }
    })
}

/// A permissive policy for the demo Pusher server: everything allowed but
/// `terminate_user_connections`, which needs a human.
pub fn pusher_policy() -> Value {
    json!({
        "version": "1",
        "default": "allow",
        "tools": {
            "terminate_user_connections": {
                "action": "require_approval",
                "reason": "Forces a user offline across all channels",
                "approval_timeout": "10m"
            }
        }
    })
}

/// server-everything with its task tool `simulate-research-query` (which the server runs only
/// as a task) behind a human.
pub fn everything_gated_policy() -> Value {
    json!({
        "version": "1",
        "default": "allow",
        "tools": {
            "simulate-research-query": { "action": "require_approval", "approval_timeout": "10m" }
        }
    })
}

/// A policy that allows every call (for the conformance runs: Airlock must only relay).
pub fn allow_all_policy() -> Value {
    json!({ "version": "1", "default": "allow" })
}

/// The `mcpServers` entry that runs server-everything over stdio.
pub fn everything_stdio_entry() -> Result<Value> {
    let argv = airlock_testkit::everything_stdio_argv()?;
    let (command, args) = argv.split_first().context("empty argv")?;
    Ok(json!({ "command": command, "args": args, "policy": "everything.json" }))
}

/// The config of items 1, 2 and 5: server-everything over stdio as `everything`, the built-in demo
/// Pusher as `pusher`, both under permissive policies, the given hold.
pub fn two_servers_config(hold_seconds: u64) -> Result<Value> {
    Ok(json!({
        "gate": { "hold_seconds": hold_seconds },
        "mcpServers": {
            "everything": everything_stdio_entry()?,
            "pusher": { "builtin": "demo-pusher", "policy": "pusher.json" }
        }
    }))
}

/// A running `airlock serve`, killed on drop (before its temp dirs are removed).
pub struct Serve {
    process: Peer,
    /// `http://127.0.0.1:<port>`
    pub base_url: String,
    pub port: u16,
    /// The local API token (`<data dir>/api-token`).
    pub api_token: String,
    data_dir: tempfile::TempDir,
    config_dir: tempfile::TempDir,
}

impl Serve {
    /// Writes `config` (plus the policies `everything.json`, `pusher.json`, `allow.json` and
    /// `everything-gated.json` next to it) and starts
    /// `airlock serve --config FILE --listen 127.0.0.1:0 --data-dir DIR`.
    pub fn start(config: &Value) -> Result<Serve> {
        Serve::start_with(config, &[])
    }

    /// [`Serve::start`] with more files next to the config (e.g. a policy of the test's own).
    pub fn start_with(config: &Value, files: &[(&str, Value)]) -> Result<Serve> {
        let config_dir = tempfile::tempdir()?;
        let data_dir = tempfile::tempdir()?;
        write_json(
            &config_dir.path().join("everything.json"),
            &everything_policy(),
        )?;
        write_json(&config_dir.path().join("pusher.json"), &pusher_policy())?;
        write_json(&config_dir.path().join("allow.json"), &allow_all_policy())?;
        write_json(
            &config_dir.path().join("everything-gated.json"),
            &everything_gated_policy(),
        )?;
        for (name, value) in files {
            write_json(&config_dir.path().join(name), value)?;
        }
        write_json(&config_dir.path().join("config.json"), config)?;
        Serve::run(config_dir, data_dir)
    }

    /// Kills the gate (SIGKILL, no chance to clean up) and starts it again on the same config
    /// and data directory, on a new port.
    pub fn kill_and_restart(self) -> Result<Serve> {
        let Serve {
            process,
            data_dir,
            config_dir,
            ..
        } = self;
        drop(process);
        Serve::run(config_dir, data_dir)
    }

    fn run(config_dir: tempfile::TempDir, data_dir: tempfile::TempDir) -> Result<Serve> {
        let config_path = config_dir.path().join("config.json");
        let mut cmd = Command::new(airlock_bin());
        cmd.arg("serve")
            .arg("--config")
            .arg(&config_path)
            .args(["--listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data_dir.path())
            .env_remove("AIRLOCK_CONFIG")
            .env_remove("AIRLOCK_LISTEN")
            .env("AIRLOCK_LOG", "warn,airlock=info");
        let process = Peer::start_capturing(cmd, 0)?;
        let line = process.wait_for_line("Airlock is running on http://")?;
        let base_url = line
            .split_once("running on ")
            .map(|(_, url)| url.trim().to_string())
            .context("no URL in the start line")?;
        let port = base_url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .context("no port in the URL")?;
        let api_token = std::fs::read_to_string(data_dir.path().join("api-token"))
            .context("serve wrote no api-token")?
            .trim()
            .to_string();
        Ok(Serve {
            process,
            base_url,
            port,
            api_token,
            data_dir,
            config_dir,
        })
    }

    pub fn config_dir(&self) -> &Path {
        self.config_dir.path()
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// The agent URL of `server`, on `localhost` (so the Host guard sees a name, not an IP).
    pub fn mcp_url(&self, server: &str) -> String {
        format!("http://localhost:{}/mcp/{server}", self.port)
    }

    /// One request to the local API with the API token; the JSON body of a 2xx answer.
    pub fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value> {
        let url = format!("{}{path}", self.base_url);
        let token = self.api_token.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async move {
            let client = reqwest::Client::new();
            let mut request = client.request(method, &url).bearer_auth(token);
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await?;
            let status = response.status();
            let text = response.text().await?;
            if !status.is_success() {
                bail!("{url}: {status}: {text}");
            }
            Ok(serde_json::from_str(&text)?)
        })
    }

    /// The pending approvals (`GET /api/approvals`).
    pub fn pending(&self) -> Result<Vec<Value>> {
        match self.api(reqwest::Method::GET, "/api/approvals", None)? {
            Value::Array(items) => Ok(items),
            other => bail!("approvals are not a list: {other}"),
        }
    }

    /// Polls `GET /api/approvals` until one is pending, and returns it.
    pub fn wait_pending(&self) -> Result<Value> {
        let deadline = Instant::now() + AGENT_DEADLINE;
        loop {
            if let Some(first) = self.pending()?.into_iter().next() {
                return Ok(first);
            }
            if Instant::now() > deadline {
                bail!("no approval request appeared");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `POST /api/approvals/{id}/decide` with `{"decision": "approve"}`.
    pub fn approve(&self, id: &str) -> Result<Value> {
        self.api(
            reqwest::Method::POST,
            &format!("/api/approvals/{id}/decide"),
            Some(json!({"decision": "approve", "source": "api"})),
        )
    }

    /// Every history row (`GET /api/history`), oldest first. Polls until no call is still
    /// without an outcome, because a call is completed in history just after its answer is sent.
    pub fn history(&self) -> Result<Vec<Value>> {
        let deadline = Instant::now() + AGENT_DEADLINE;
        loop {
            let page = self.api(reqwest::Method::GET, "/api/history?limit=500", None)?;
            let mut items = match page.get("items") {
                Some(Value::Array(items)) => items.clone(),
                _ => bail!("history has no items: {page}"),
            };
            items.sort_by_key(|c| c["id"].as_i64());
            let open = items
                .iter()
                .any(|c| c["decision"] == "allow" && c.get("outcome").is_none());
            if !open || Instant::now() > deadline {
                return Ok(items);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The stderr and stdout lines `airlock serve` printed so far are echoed to the test log by
    /// the harness; this checks it is still running.
    pub fn wait_for_log(&self, needle: &str) -> Result<String> {
        Ok(self.process.wait_for_line(needle)?)
    }
}

fn write_json(path: &Path, value: &Value) -> Result<()> {
    std::fs::write(path, serde_json::to_vec_pretty(value)?)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Which SDK client plays the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sdk {
    /// `@modelcontextprotocol/sdk` (`crates/testkit/node/ts_client.mjs`).
    TypeScript,
    /// Python `mcp` (`crates/testkit/python/client.py`).
    Python,
}

/// How the agent reaches Airlock.
#[derive(Debug, Clone)]
pub enum Via {
    /// Streamable HTTP to this URL.
    Http(String),
    /// `airlock connect <server> --data-dir DIR` as the agent's stdio command.
    Connect { server: String, data_dir: PathBuf },
}

/// A running agent, killed on drop. Its stdout (one JSON event per line) is collected.
pub struct Agent {
    child: Child,
    events: Arc<Mutex<Vec<Value>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Agent {
    /// Starts `sdk`'s client towards `via` with `options` (e.g. `--progress`) and `steps`
    /// (`--list`, `--call TOOL JSON`).
    pub fn start(sdk: Sdk, via: &Via, options: &[&str]) -> Result<Agent> {
        let mut cmd = match sdk {
            Sdk::TypeScript => airlock_testkit::ts_client()?,
            Sdk::Python => airlock_testkit::python_client()?,
        };
        match via {
            Via::Http(url) => {
                cmd.args(["--url", url]);
            }
            Via::Connect { server, data_dir } => {
                // Both SDKs start stdio servers with a minimal environment, so the data dir
                // goes as an argument, not as AIRLOCK_DATA_DIR.
                cmd.arg("--stdio")
                    .arg(airlock_bin())
                    .args(["connect", server, "--data-dir"])
                    .arg(data_dir)
                    .arg("--");
            }
        }
        cmd.args(options)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().context("cannot start the agent")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&events);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                eprintln!("[agent] {line}");
                if let Ok(event) = serde_json::from_str::<Value>(&line) {
                    sink.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(event);
                }
            }
        });
        Ok(Agent {
            child,
            events,
            reader: Some(reader),
        })
    }

    /// True while the agent process runs.
    pub fn running(&mut self) -> Result<bool> {
        Ok(self.child.try_wait()?.is_none())
    }

    /// The events printed so far.
    pub fn events(&self) -> Vec<Value> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits for the agent to exit (at most [`AGENT_DEADLINE`]) and returns its exit success and
    /// every event it printed.
    pub fn finish(mut self) -> Result<(bool, Vec<Value>)> {
        let deadline = Instant::now() + AGENT_DEADLINE;
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            if Instant::now() > deadline {
                bail!("the agent did not finish: {:?}", self.events());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        Ok((status.success(), self.events()))
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs an agent to the end; fails when it exits unsuccessfully.
pub fn run_agent(sdk: Sdk, via: &Via, options: &[&str]) -> Result<Vec<Value>> {
    let (ok, events) = Agent::start(sdk, via, options)?.finish()?;
    if !ok {
        bail!("the agent failed: {events:?}");
    }
    Ok(events)
}

/// The `result` object of the agent's call of `tool` (the first one).
pub fn result_of<'a>(events: &'a [Value], tool: &str) -> Option<&'a Value> {
    events
        .iter()
        .find(|e| e["event"] == "result" && e["tool"] == tool)
        .map(|e| &e["result"])
}

/// The concatenated text content of a tool result.
pub fn text_of(result: &Value) -> String {
    result["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The progress values the agent saw, in order.
pub fn progress_of(events: &[Value]) -> Vec<f64> {
    events
        .iter()
        .filter(|e| e["event"] == "progress")
        .filter_map(|e| e["progress"].as_f64())
        .collect()
}
