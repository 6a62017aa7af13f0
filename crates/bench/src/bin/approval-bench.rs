//! `approval-bench`: how fast a human's approval loop runs (issue 5).
//!
//! A real gate in this process (`Gate::build`, history in a real SQLite file in a temp dir),
//! serving Streamable HTTP on loopback; an agent over HTTP ([`HttpAgent`]); and as the upstream a
//! tiny stdio MCP server that is this same binary (`approval-bench upstream`): one tool, `stamp`,
//! which answers with the wall-clock time (ns since the Unix epoch) at which the call reached it.
//! The policy requires approval for `stamp`.
//!
//! Two spans per approval:
//! - **call → pending event**: from just before the agent sends the `tools/call` to the moment
//!   `gate.subscribe()` yields its `GateEvent::Approval` with status pending. The call is decided
//!   and the request written to the store before the event, so both are inside. The HTTP request on
//!   loopback is inside too: an upper bound of "reaching the gate".
//! - **decision → upstream**: from just before `gate.decide(..)` to the upstream's arrival stamp
//!   (both `SystemTime` on this machine). Inside: the decision written durably to the store, the
//!   broker waking the held call, its record, the relay, the pipe to the child.
//!
//! Rounds of one call (sequential), then rounds of a burst of concurrent calls from separate
//! sessions (all pending at once, decided one after the other, as bulk approval does).

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use airlock_bench::{HttpAgent, Summary, expect_tool_ok, result_text, us};
use airlock_gate::{
    Approval, ApprovalStatus, Config, DecisionSource, Gate, GateEvent, GateOptions, HumanDecision,
    Remember,
};
use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

/// Measure call → pending event and decision → upstream through a real gate.
#[derive(Debug, Parser)]
struct Args {
    #[command(subcommand)]
    command: Option<Mode>,
    /// Sequential approvals (one call at a time).
    #[arg(long, default_value_t = 300)]
    sequential: usize,
    /// Concurrent calls per burst (each from its own session).
    #[arg(long, default_value_t = 16)]
    burst: usize,
    /// Number of bursts.
    #[arg(long, default_value_t = 20)]
    bursts: usize,
    /// Unmeasured approvals first.
    #[arg(long, default_value_t = 20)]
    warmup: usize,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Run as the stamping stdio MCP upstream (started by the gate, not by hand).
    Upstream,
}

const TOOL: &str = "stamp";

fn unix_ns(at: SystemTime) -> u128 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

/// The stamping upstream: a minimal MCP server on stdin/stdout, blocking std I/O (it is its own
/// process and serves one session).
fn upstream() -> anyhow::Result<()> {
    let stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lines() {
        let line = line?;
        let arrived = unix_ns(SystemTime::now());
        let message: Value = serde_json::from_str(&line)?;
        let Some(id) = message.get("id").cloned() else {
            continue; // a notification
        };
        let Some(method) = message.get("method").and_then(Value::as_str) else {
            continue; // a response to nothing we asked
        };
        let reply = match method {
            "initialize" => json!({"jsonrpc": "2.0", "id": id, "result": {
                "protocolVersion": message["params"]["protocolVersion"],
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "stamp", "version": "0.1.0"},
            }}),
            "tools/list" => json!({"jsonrpc": "2.0", "id": id, "result": {"tools": [{
                "name": TOOL,
                "description": "Answers with the time the call arrived",
                "inputSchema": {"type": "object", "properties": {"n": {"type": "integer"}}},
            }]}}),
            "tools/call" => json!({"jsonrpc": "2.0", "id": id, "result": {
                "content": [{"type": "text", "text": arrived.to_string()}],
            }}),
            "ping" => json!({"jsonrpc": "2.0", "id": id, "result": {}}),
            other => json!({"jsonrpc": "2.0", "id": id,
                "error": {"code": -32601, "message": format!("method `{other}` not found")}}),
        };
        writeln!(stdout, "{reply}")?;
        stdout.flush()?;
    }
    Ok(())
}

struct Bench {
    gate: Gate,
    /// Pending requests of `stamp`, each with the moment the event stream delivered it.
    pending: mpsc::UnboundedReceiver<anyhow::Result<(Box<Approval>, Instant)>>,
    next_n: u64,
}

/// Reads the gate's event stream on a task of its own and timestamps each pending event as it
/// arrives, so that time spent deciding one request is not counted as delay of the next.
fn watch_pending(
    mut events: broadcast::Receiver<GateEvent>,
) -> mpsc::UnboundedReceiver<anyhow::Result<(Box<Approval>, Instant)>> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let item = match events.recv().await {
                Ok(GateEvent::Approval(approval)) => {
                    let seen = Instant::now();
                    if approval.status != ApprovalStatus::Pending || approval.request.tool != TOOL {
                        continue;
                    }
                    Ok((approval, seen))
                }
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(n)) => Err(anyhow::anyhow!(
                    "the benchmark fell {n} events behind the gate's event stream"
                )),
                Err(broadcast::error::RecvError::Closed) => break,
            };
            if tx.send(item).is_err() {
                break;
            }
        }
    });
    rx
}

/// The measurements of one approval.
struct Sample {
    to_pending: Duration,
    to_upstream: Duration,
    decision_to_agent: Duration,
}

impl Bench {
    /// One round: every agent calls at once; each pending request is approved as it appears.
    async fn round(
        &mut self,
        agents: Vec<HttpAgent>,
    ) -> anyhow::Result<(Vec<HttpAgent>, Vec<Sample>)> {
        let sent: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
        let mut calls = Vec::with_capacity(agents.len());
        for mut agent in agents {
            let n = self.next_n;
            self.next_n += 1;
            let sent = sent.clone();
            calls.push(tokio::spawn(async move {
                let arguments = json!({"n": n});
                sent.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(n, Instant::now());
                let response = agent.call_tool(TOOL, &arguments).await;
                (agent, n, response, Instant::now())
            }));
        }
        let mut decided = Vec::with_capacity(calls.len());
        while decided.len() < calls.len() {
            let (approval, seen) =
                match tokio::time::timeout(Duration::from_secs(30), self.pending.recv()).await {
                    Err(_) => bail!("no pending event within 30 s"),
                    Ok(None) => bail!("the gate's event stream closed"),
                    Ok(Some(item)) => item?,
                };
            let n = approval.request.arguments["n"]
                .as_u64()
                .context("a pending request without `n`")?;
            let decision_wall = SystemTime::now();
            let decision_at = Instant::now();
            self.gate
                .decide(
                    &approval.id,
                    HumanDecision {
                        approve: true,
                        remember: Remember::Once,
                        note: None,
                        source: DecisionSource::Api,
                        args: airlock_gate::scope::ArgsChoice::Same,
                    },
                )
                .await?;
            decided.push((n, seen, decision_wall, decision_at));
        }
        let mut agents = Vec::with_capacity(calls.len());
        let mut arrivals = HashMap::new();
        for call in calls {
            let (agent, n, response, done) = call.await?;
            let response = response?;
            let result = expect_tool_ok(&response)?;
            let stamp: u128 = result_text(result)
                .and_then(|t| t.parse().ok())
                .with_context(|| format!("the upstream's answer has no stamp: {result}"))?;
            arrivals.insert(n, (stamp, done));
            agents.push(agent);
        }
        let sent = sent.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let mut samples = Vec::with_capacity(decided.len());
        for (n, seen, decision_wall, decision_at) in decided {
            let (stamp, done) = arrivals
                .get(&n)
                .context("an approved call that never returned")?;
            let sent_at = sent.get(&n).context("a call without a send time")?;
            let to_upstream =
                Duration::from_nanos(u64::try_from(stamp.saturating_sub(unix_ns(decision_wall)))?);
            samples.push(Sample {
                to_pending: seen.duration_since(*sent_at),
                to_upstream,
                decision_to_agent: done.duration_since(decision_at),
            });
        }
        Ok((agents, samples))
    }
}

fn print_summary(label: &str, samples: &[Sample]) -> anyhow::Result<()> {
    let pick = |f: fn(&Sample) -> Duration| -> anyhow::Result<Summary> {
        let mut values: Vec<Duration> = samples.iter().map(f).collect();
        Summary::of(&mut values, Duration::from_secs(1)).context("no samples")
    };
    for (span, summary) in [
        ("call → pending event", pick(|s| s.to_pending)?),
        ("decision → upstream", pick(|s| s.to_upstream)?),
        (
            "decision → agent has the result",
            pick(|s| s.decision_to_agent)?,
        ),
    ] {
        println!(
            "| {label} | {span} | {} | {:.2} | {:.2} | {:.2} |",
            summary.calls,
            us(summary.p50) / 1000.0,
            us(summary.p99) / 1000.0,
            us(summary.max) / 1000.0,
        );
    }
    Ok(())
}

async fn bench(args: Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let exe = std::env::current_exe()?;
    let policy = json!({
        "version": "1",
        "default": "deny",
        "tools": {TOOL: {"action": "require_approval", "reason": "benchmark"}},
    });
    std::fs::write(dir.path().join("policy.json"), policy.to_string())?;
    let config = json!({
        "gate": {"listen": "127.0.0.1:0"},
        "mcpServers": {"bench": {"command": exe, "args": ["upstream"], "policy": "policy.json"}},
    });
    std::fs::write(dir.path().join("config.json"), config.to_string())?;
    let mut options = GateOptions::new(Config::load(&dir.path().join("config.json"))?);
    options.data_dir = Some(dir.path().join("data"));
    let gate = Gate::build(options).await?;
    let listener = gate.bind(None).await?;
    let url = format!("http://{}/mcp/bench", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = gate.clone();
    let app = gate.proxy_router();
    let server = tokio::spawn(async move {
        serving
            .serve(listener, app, async {
                let _ = stopped.await;
            })
            .await
    });

    let client = reqwest::Client::builder().tcp_nodelay(true).build()?;
    let mut bench = Bench {
        pending: watch_pending(gate.subscribe()),
        gate: gate.clone(),
        next_n: 0,
    };
    let mut one = vec![HttpAgent::connect(&client, &url).await?];
    for _ in 0..args.warmup {
        one = bench.round(one).await?.0;
    }
    let mut sequential = Vec::with_capacity(args.sequential);
    for _ in 0..args.sequential {
        let (agents, samples) = bench.round(one).await?;
        one = agents;
        sequential.extend(samples);
    }
    let mut many = Vec::with_capacity(args.burst);
    for _ in 0..args.burst {
        many.push(HttpAgent::connect(&client, &url).await?);
    }
    let mut bursts = Vec::with_capacity(args.burst * args.bursts);
    for _ in 0..args.bursts {
        let (agents, samples) = bench.round(many).await?;
        many = agents;
        bursts.extend(samples);
    }

    println!("| Load | Span | Approvals | p50 (ms) | p99 (ms) | max (ms) |");
    println!("|---|---|---:|---:|---:|---:|");
    print_summary("one call at a time", &sequential)?;
    print_summary(
        &format!("bursts of {} concurrent calls", args.burst),
        &bursts,
    )?;

    drop((one, many));
    let _ = stop.send(());
    server.await??;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(Mode::Upstream) = args.command {
        return upstream();
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(bench(args))
}
