//! airlock-bench: the pieces Airlock's benchmark binaries share.
//!
//! Dev-only, never part of the product. The binaries (`proxy-bench`, `approval-bench`) measure
//! the gate as agents see it, so this crate holds a small MCP client of its own rather than an SDK:
//!
//! - [`HttpAgent`]: one Streamable HTTP session (initialize, `Mcp-Session-Id`, JSON or SSE
//!   responses) over a shared keep-alive [`reqwest::Client`]. The same client measures Airlock and
//!   supergateway, so a difference between them is not a difference between clients.
//! - [`StdioAgent`]: one MCP session over a child's stdin/stdout (one JSON message per line), the
//!   "no proxy" baseline.
//! - [`Summary`]: p50/p99 and calls per second of a run; [`rss_kib`]: a process's resident memory.
//!
//! Requests are raw JSON-RPC values; responses are checked ([`expect_tool_ok`]) so that a run of
//! denials or errors cannot pass for a fast run.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// The protocol version the agents negotiate (handshake era, what today's clients speak).
pub const PROTOCOL_VERSION: &str = "2025-06-18";

/// The `initialize` params every agent sends.
pub fn initialize_params(name: &str) -> Value {
    json!({
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": name, "version": "0.1.0"},
    })
}

/// The `airlock` binary next to this benchmark binary (both in `target/release` or
/// `target/debug`), or `AIRLOCK_BIN`.
pub fn airlock_bin() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("AIRLOCK_BIN") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe().context("cannot find this benchmark's own path")?;
    let path = exe
        .parent()
        .map(|dir| dir.join("airlock"))
        .context("the benchmark binary has no directory")?;
    if !path.is_file() {
        bail!(
            "no `airlock` binary at {}; build it first: cargo build --release -p airlock-cli",
            path.display()
        );
    }
    Ok(path)
}

/// A JSON-RPC response to a `tools/call`: the result if it is a success, else an error that
/// says what came back.
pub fn expect_tool_ok(response: &Value) -> anyhow::Result<&Value> {
    if let Some(error) = response.get("error") {
        bail!("the call failed with a JSON-RPC error: {error}");
    }
    let result = response
        .get("result")
        .with_context(|| format!("a response without a result: {response}"))?;
    if result.get("isError").and_then(Value::as_bool) == Some(true) {
        bail!("the tool call was refused or failed: {result}");
    }
    Ok(result)
}

/// The first text content of a tool result.
pub fn result_text(result: &Value) -> Option<&str> {
    result
        .get("content")?
        .as_array()?
        .iter()
        .find_map(|c| c.get("text").and_then(Value::as_str))
}

/// Incremental parser of a `text/event-stream` body: feed bytes, get the `data` of each complete
/// event. Comments, `id`, `event` and `retry` fields are skipped.
#[derive(Debug, Default)]
pub struct SseParser {
    partial: Vec<u8>,
    data: Option<String>,
}

impl SseParser {
    /// Adds bytes and returns the data of every event they completed.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        self.partial.extend_from_slice(bytes);
        let mut events = Vec::new();
        let mut start = 0;
        while let Some(offset) = self.partial[start..].iter().position(|&b| b == b'\n') {
            let end = start + offset;
            let mut line = &self.partial[start..end];
            if let [rest @ .., b'\r'] = line {
                line = rest;
            }
            if line.is_empty() {
                if let Some(data) = self.data.take() {
                    events.push(data);
                }
            } else if let Some(value) = line.strip_prefix(b"data:") {
                let value = value.strip_prefix(b" ").unwrap_or(value);
                let value = String::from_utf8_lossy(value);
                match &mut self.data {
                    Some(data) => {
                        data.push('\n');
                        data.push_str(&value);
                    }
                    None => self.data = Some(value.into_owned()),
                }
            }
            start = end + 1;
        }
        self.partial.drain(..start);
        events
    }
}

/// One MCP session over Streamable HTTP.
#[derive(Debug)]
pub struct HttpAgent {
    client: reqwest::Client,
    url: String,
    session: Option<String>,
    next_id: u64,
}

impl HttpAgent {
    /// Initializes a session at `url` (sends `initialize` and `notifications/initialized`).
    pub async fn connect(client: &reqwest::Client, url: &str) -> anyhow::Result<HttpAgent> {
        let mut agent = HttpAgent {
            client: client.clone(),
            url: url.to_string(),
            session: None,
            next_id: 1,
        };
        let init = agent
            .request("initialize", initialize_params("airlock-bench"))
            .await?;
        if init.get("result").is_none() {
            bail!("initialize at {url} failed: {init}");
        }
        agent
            .notify(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await?;
        Ok(agent)
    }

    fn post(&self, body: &Value) -> reqwest::RequestBuilder {
        let mut request = self
            .client
            .post(&self.url)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(session) = &self.session {
            request = request
                .header("mcp-session-id", session)
                .header("mcp-protocol-version", PROTOCOL_VERSION);
        }
        request
    }

    /// Sends a notification (or a response); expects 202.
    pub async fn notify(&self, message: Value) -> anyhow::Result<()> {
        let response = self.post(&message).send().await?;
        let status = response.status();
        // Read to the end so the connection goes back to the pool.
        let body = response.bytes().await?;
        if status != reqwest::StatusCode::ACCEPTED {
            bail!(
                "a notification got {status} instead of 202: {}",
                String::from_utf8_lossy(&body)
            );
        }
        Ok(())
    }

    /// Sends a request and returns its JSON-RPC response (a JSON body, or the matching message
    /// of an SSE body; progress and other messages on the stream are skipped).
    pub async fn request(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let response = self.post(&body).send().await?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            bail!("`{method}` got HTTP {status}: {text}");
        }
        if let Some(session) = response.headers().get("mcp-session-id") {
            self.session = Some(
                session
                    .to_str()
                    .context("the session id is not visible ASCII")?
                    .to_string(),
            );
        }
        let is_sse = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if !is_sse {
            let bytes = response.bytes().await?;
            return serde_json::from_slice(&bytes)
                .with_context(|| format!("`{method}` answered with invalid JSON"));
        }
        let mut parser = SseParser::default();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            for data in parser.feed(&chunk?) {
                if data.is_empty() {
                    continue; // a priming event
                }
                let message: Value = serde_json::from_str(&data)
                    .with_context(|| format!("invalid JSON on the SSE stream: {data}"))?;
                if message.get("id").and_then(Value::as_u64) == Some(id)
                    && (message.get("result").is_some() || message.get("error").is_some())
                {
                    // Dropping the rest of the stream: the server closes it after the response.
                    return Ok(message);
                }
            }
        }
        bail!("the SSE stream of `{method}` ended without its response")
    }

    /// Calls a tool and returns the JSON-RPC response.
    pub async fn call_tool(&mut self, name: &str, arguments: &Value) -> anyhow::Result<Value> {
        self.request("tools/call", json!({"name": name, "arguments": arguments}))
            .await
    }
}

/// One MCP session over a child process's stdio.
#[derive(Debug)]
pub struct StdioAgent {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    line: String,
    next_id: u64,
}

impl StdioAgent {
    /// Starts `program args…` (stderr discarded) and initializes a session with it.
    pub async fn spawn(program: &std::path::Path, args: &[&str]) -> anyhow::Result<StdioAgent> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", program.display()))?;
        let stdin = child.stdin.take().context("no stdin pipe")?;
        let stdout = child.stdout.take().context("no stdout pipe")?;
        let mut agent = StdioAgent {
            child,
            stdin,
            stdout: BufReader::new(stdout),
            line: String::new(),
            next_id: 1,
        };
        let init = agent
            .request("initialize", initialize_params("airlock-bench"))
            .await?;
        if init.get("result").is_none() {
            bail!("initialize over stdio failed: {init}");
        }
        agent
            .send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await?;
        Ok(agent)
    }

    async fn send(&mut self, message: &Value) -> anyhow::Result<()> {
        let mut line = message.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await?;
        self.stdin.flush().await?;
        Ok(())
    }

    /// Sends a request and reads lines until its response.
    pub async fn request(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await?;
        loop {
            self.line.clear();
            if self.stdout.read_line(&mut self.line).await? == 0 {
                bail!("the server closed stdout before answering `{method}`");
            }
            let message: Value = serde_json::from_str(self.line.trim_end())
                .with_context(|| format!("invalid JSON line from the server: {}", self.line))?;
            if message.get("id").and_then(Value::as_u64) == Some(id) {
                return Ok(message);
            }
        }
    }

    /// Calls a tool and returns the JSON-RPC response.
    pub async fn call_tool(&mut self, name: &str, arguments: &Value) -> anyhow::Result<Value> {
        self.request("tools/call", json!({"name": name, "arguments": arguments}))
            .await
    }

    /// The child's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}

/// Latency percentiles and throughput of one run.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub calls: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    /// Calls completed per second of wall time.
    pub per_sec: f64,
}

impl Summary {
    /// Summarizes per-call latencies of a run that took `wall`. `None` for an empty run.
    pub fn of(latencies: &mut [Duration], wall: Duration) -> Option<Summary> {
        latencies.sort_unstable();
        let max = *latencies.last()?;
        Some(Summary {
            calls: latencies.len(),
            p50: percentile(latencies, 50.0)?,
            p99: percentile(latencies, 99.0)?,
            max,
            per_sec: latencies.len() as f64 / wall.as_secs_f64(),
        })
    }
}

/// The `p`th percentile (nearest rank) of sorted values.
pub fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// Microseconds, for tables.
pub fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Resident memory of a process (`VmRSS` in `/proc/PID/status`), in KiB.
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no VmRSS in /proc/{pid}/status"))
}

/// CPU time (user + system, all threads) the process `pid` has used so far, from
/// `/proc/<pid>/stat` (fields 14 and 15, in clock ticks of `sysconf(_SC_CLK_TCK)`, 100 Hz on Linux).
pub fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("cannot read /proc/{pid}/stat"))?;
    // The command name (field 2) is in parentheses and may hold spaces: count from its end.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .with_context(|| format!("unexpected /proc/{pid}/stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state), so utime (14) and stime (15) are at 11 and 12.
    let ticks = |i: usize| -> anyhow::Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .with_context(|| format!("no field {} in /proc/{pid}/stat", i + 3))
    };
    let total = ticks(11)? + ticks(12)?;
    Ok(Duration::from_millis(total * 10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_of_this_process_grows_with_work() {
        let pid = std::process::id();
        let before = cpu_time(pid).unwrap();
        let begun = std::time::Instant::now();
        let mut x = 0u64;
        // Busy until the kernel has charged at least one tick, or give up after 10 s of wall time.
        while cpu_time(pid).unwrap() == before && begun.elapsed() < Duration::from_secs(10) {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
        assert!(
            cpu_time(pid).unwrap() > before,
            "no CPU time charged in 10 s of busy loop"
        );
    }

    #[test]
    fn sse_events_split_across_chunks_and_crlf() {
        let mut parser = SseParser::default();
        assert!(parser.feed(b": keep-alive\n\nid: 1\nda").is_empty());
        assert_eq!(
            parser.feed(b"ta: {\"a\":1}\r\n\r\nevent: message\n"),
            vec!["{\"a\":1}".to_string()]
        );
        assert_eq!(
            parser.feed(b"data: x\ndata: y\n\n"),
            vec!["x\ny".to_string()]
        );
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut values: Vec<Duration> = (1..=100).rev().map(Duration::from_micros).collect();
        let summary = Summary::of(&mut values, Duration::from_secs(2));
        let summary = summary.map(|s| (s.p50, s.p99, s.max, s.per_sec));
        assert_eq!(
            summary,
            Some((
                Duration::from_micros(50),
                Duration::from_micros(99),
                Duration::from_micros(100),
                50.0
            ))
        );
        assert_eq!(
            Summary::of(&mut [], Duration::from_secs(1)).map(|s| s.calls),
            None
        );
    }

    #[test]
    fn refusals_are_not_successes() {
        let denied = json!({"jsonrpc": "2.0", "id": 1,
            "result": {"isError": true, "content": [{"type": "text", "text": "Denied by policy"}]}});
        assert!(expect_tool_ok(&denied).is_err());
        let failed = json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32603, "message": "x"}});
        assert!(expect_tool_ok(&failed).is_err());
        let ok = json!({"jsonrpc": "2.0", "id": 1,
            "result": {"content": [{"type": "text", "text": "Channel: a"}]}});
        assert_eq!(
            expect_tool_ok(&ok).ok().and_then(result_text),
            Some("Channel: a")
        );
    }
}
