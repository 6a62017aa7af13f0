//! `proxy-bench`: what a `tools/call` costs through Airlock, against no proxy and supergateway.
//!
//! Three paths to the same fast stdio upstream (`airlock demo-pusher`, tool `get_channel_info`),
//! in one run, on loopback:
//!
//! - **direct**: a client speaking MCP over the upstream's stdio, no proxy;
//! - **airlock**: `airlock serve` (a separate process, the real binary) with the upstream as a
//!   stdio server under the shipped policy `policies/pusher-channels.json`, its limits raised so
//!   the run is not rate limited (same conditions otherwise); every call is decided, recorded in a
//!   real SQLite file and forwarded;
//! - **supergateway**: `supergateway --stdio "airlock demo-pusher" --outputTransport
//!   streamableHttp --stateful`, the common Node gateway, with no policy at all.
//!
//! Airlock and supergateway are measured with the same HTTP client ([`HttpAgent`]: reqwest with
//! keep-alive, one session per worker). Each worker has its own session, and both gateways run one
//! upstream child per session; the direct path gives each worker its own child too. Every response
//! is checked to be a successful tool result, so a denial cannot pass for a fast call.
//!
//! Reported: p50/p99 latency and calls/s at concurrency 1 and N (default 16), the CPU time the
//! proxy process (not its upstream children) spent per measured call (`/proc/<pid>/stat`, 10 ms
//! ticks summed over the level), and Airlock's resident memory (VmRSS) idle after start and after
//! the run. Run it with `--release` on a quiet machine;
//! the client shares the cores with the server, as an agent on the same desktop would.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use airlock_bench::{
    HttpAgent, StdioAgent, Summary, airlock_bin, cpu_time, expect_tool_ok, rss_kib, us,
};
use airlock_testkit::{Peer, free_port, node_command, workspace_root};
use anyhow::{Context, bail};
use clap::Parser;
use serde_json::{Value, json};

/// Measure a `tools/call` directly, through Airlock and through supergateway.
#[derive(Debug, Parser)]
struct Args {
    /// Calls measured at concurrency 1.
    #[arg(long, default_value_t = 2000)]
    calls: usize,
    /// Concurrency of the second level (one session per worker).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Calls per worker measured at that concurrency.
    #[arg(long, default_value_t = 1000)]
    calls_per_worker: usize,
    /// Unmeasured calls per session before measuring.
    #[arg(long, default_value_t = 200)]
    warmup: usize,
    /// Only these paths (comma separated: direct, airlock, supergateway, airlock-nodelay).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Seconds to wait after Airlock started, before measuring (time to attach `perf -p PID`).
    #[arg(long, default_value_t = 0)]
    attach_delay: u64,
}

const TOOL: &str = "get_channel_info";

fn arguments() -> Value {
    json!({"channel": "presence-lobby", "info": ["subscription_count"]})
}

/// Where the calls go.
#[derive(Debug, Clone)]
enum Target {
    Direct(PathBuf),
    Http(String),
}

enum Agent {
    Stdio(Box<StdioAgent>),
    Http(HttpAgent),
}

impl Agent {
    async fn connect(target: &Target, client: &reqwest::Client) -> anyhow::Result<Agent> {
        Ok(match target {
            Target::Direct(airlock) => Agent::Stdio(Box::new(
                StdioAgent::spawn(airlock, &["demo-pusher"]).await?,
            )),
            Target::Http(url) => Agent::Http(HttpAgent::connect(client, url).await?),
        })
    }

    async fn call(&mut self, arguments: &Value) -> anyhow::Result<()> {
        let response = match self {
            Agent::Stdio(agent) => agent.call_tool(TOOL, arguments).await?,
            Agent::Http(agent) => agent.call_tool(TOOL, arguments).await?,
        };
        expect_tool_ok(&response)?;
        Ok(())
    }
}

/// What one level measured: latencies, and the CPU the proxy process spent per measured call.
struct Level {
    summary: Summary,
    cpu_per_call: Option<Duration>,
}

/// Runs `concurrency` sessions doing `per_worker` calls each, after a warm-up; `proxy` is the
/// process whose CPU time is charged to the measured calls (none for the direct path).
async fn run_level(
    target: &Target,
    client: &reqwest::Client,
    concurrency: usize,
    per_worker: usize,
    warmup: usize,
    proxy: Option<u32>,
) -> anyhow::Result<Level> {
    let arguments = Arc::new(arguments());
    let mut agents = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let mut agent = Agent::connect(target, client).await?;
        for _ in 0..warmup {
            agent.call(&arguments).await?;
        }
        agents.push(agent);
    }
    let start = Arc::new(tokio::sync::Barrier::new(concurrency + 1));
    let mut workers = Vec::with_capacity(concurrency);
    for mut agent in agents {
        let start = start.clone();
        let arguments = arguments.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_worker);
            start.wait().await;
            for _ in 0..per_worker {
                let begun = Instant::now();
                agent.call(&arguments).await?;
                latencies.push(begun.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let cpu_before = proxy.map(cpu_time).transpose()?;
    start.wait().await;
    let begun = Instant::now();
    let mut latencies = Vec::with_capacity(concurrency * per_worker);
    for worker in workers {
        latencies.extend(worker.await??);
    }
    let wall = begun.elapsed();
    let cpu_per_call = match (proxy, cpu_before) {
        (Some(pid), Some(before)) => {
            let spent = cpu_time(pid)?.saturating_sub(before);
            Some(spent / u32::try_from(latencies.len()).unwrap_or(u32::MAX).max(1))
        }
        _ => None,
    };
    let summary = Summary::of(&mut latencies, wall).context("no calls were measured")?;
    Ok(Level {
        summary,
        cpu_per_call,
    })
}

/// The shipped Pusher policy with every limit's `max` raised to one billion: the same tools,
/// conditions, counters and windows, so each call still runs the whole decision and reserves and
/// commits its quota, but the run is never rate limited.
fn generous_policy() -> anyhow::Result<Value> {
    let path = workspace_root().join("policies/pusher-channels.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut policy: Value = serde_json::from_str(&text)?;
    raise_limits(&mut policy);
    Ok(policy)
}

fn raise_limits(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(limits)) = map.get_mut("limits") {
                for limit in limits {
                    limit["max"] = json!(1_000_000_000u64);
                }
            }
            for (_, child) in map.iter_mut() {
                raise_limits(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(raise_limits),
        _ => {}
    }
}

/// Writes `config.json` (the demo upstream over stdio) and `policy.json` (the generous policy)
/// into `dir`.
fn write_config(airlock: &Path, dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::write(dir.join("policy.json"), generous_policy()?.to_string())?;
    // An experiment switch: `AIRLOCK_BENCH_NO_GUARD=1` turns the guard of Airlock's own files off
    // (`gate.guard_own_files`), to measure what its per-call path lookup costs.
    let guard = std::env::var_os("AIRLOCK_BENCH_NO_GUARD").is_none();
    let config = json!({
        "gate": {"guard_own_files": guard},
        "mcpServers": {
            "pusher": {
                "command": airlock,
                "args": ["demo-pusher"],
                "policy": "policy.json",
            }
        }
    });
    std::fs::write(dir.join("config.json"), config.to_string())?;
    Ok(dir.join("config.json"))
}

/// Starts `airlock serve` with the demo upstream over stdio and the generous policy.
fn start_airlock(airlock: &Path, dir: &Path) -> anyhow::Result<Peer> {
    let config = write_config(airlock, dir)?;
    let port = free_port()?;
    let mut cmd = Command::new(airlock);
    cmd.arg("serve")
        .arg("--config")
        .arg(config)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env_remove("AIRLOCK_CONFIG")
        .env_remove("AIRLOCK_LOG");
    Peer::start(cmd, port).context("cannot start `airlock serve`")
}

/// The experiment behind the analysis in BENCHMARKS.md: the same gate (same config, same
/// policy, same stdio upstream, history in a real SQLite file), built in this process on a runtime
/// of its own (two worker threads, on a thread of its own), serving the same MCP router, but on a
/// listener that sets `TCP_NODELAY` on every accepted connection. Only the socket option differs
/// from `airlock serve`.
struct NodelayGate {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl NodelayGate {
    fn start(airlock: &Path) -> anyhow::Result<NodelayGate> {
        use axum::serve::ListenerExt;
        let dir = tempfile::tempdir()?;
        let config = write_config(airlock, dir.path())?;
        let data = dir.path().join("data");
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<anyhow::Result<String>>();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || -> anyhow::Result<()> {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let started = async {
                    let mut options =
                        airlock_gate::GateOptions::new(airlock_gate::Config::load(&config)?);
                    options.data_dir = Some(data);
                    let gate = airlock_gate::Gate::build(options).await?;
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                    let url = format!("http://{}/mcp/pusher", listener.local_addr()?);
                    anyhow::Ok((gate, listener, url))
                };
                let (gate, listener, url) = match started.await {
                    Ok(started) => started,
                    Err(err) => {
                        let _ = ready_tx.send(Err(anyhow::anyhow!("{err:#}")));
                        return Err(err);
                    }
                };
                let _ = ready_tx.send(Ok(url));
                let listener = listener.tap_io(|tcp| {
                    let _ = tcp.set_nodelay(true);
                });
                // Stops at once (open keep-alive connections would hold a graceful shutdown);
                // dropping the runtime ends the sessions and their upstream children.
                tokio::select! {
                    served = std::future::IntoFuture::into_future(
                        axum::serve(listener, gate.proxy_router()),
                    ) => served?,
                    _ = stopped => {}
                }
                Ok(())
            })
        });
        let url = ready_rx
            .recv()
            .context("the in-process gate's thread ended before it was ready")??;
        Ok(NodelayGate {
            url,
            stop: Some(stop),
            thread: Some(thread),
            _dir: dir,
        })
    }

    fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            match thread.join() {
                Ok(result) => result?,
                Err(_) => bail!("the in-process gate's thread panicked"),
            }
        }
        Ok(())
    }
}

fn start_supergateway(airlock: &Path) -> anyhow::Result<Peer> {
    let port = free_port()?;
    let mut cmd = node_command("supergateway")?;
    cmd.arg("--stdio")
        .arg(format!("{} demo-pusher", airlock.display()))
        .arg("--outputTransport")
        .arg("streamableHttp")
        .arg("--stateful")
        .arg("--port")
        .arg(port.to_string())
        .arg("--logLevel")
        .arg("none");
    Peer::start(cmd, port).context("cannot start supergateway")
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cpus} CPUs, {model}")
}

struct Row {
    path: &'static str,
    concurrency: usize,
    level: Level,
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let wants = |name: &str| args.only.is_empty() || args.only.iter().any(|o| o == name);
    let airlock = airlock_bin()?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency * 2)
        .tcp_nodelay(true)
        .build()?;
    let per_worker_1 = args.calls;
    let levels = [(1, per_worker_1), (args.concurrency, args.calls_per_worker)];
    eprintln!("machine: {}", machine());
    let mut rows = Vec::new();

    if wants("direct") {
        let target = Target::Direct(airlock.clone());
        for (concurrency, per_worker) in levels {
            eprintln!("direct, concurrency {concurrency} …");
            let level =
                run_level(&target, &client, concurrency, per_worker, args.warmup, None).await?;
            rows.push(Row {
                path: "direct (stdio, no proxy)",
                concurrency,
                level,
            });
        }
    }

    let mut memory = None;
    if wants("airlock") {
        let dir = tempfile::tempdir()?;
        let peer = start_airlock(&airlock, dir.path())?;
        let pid = peer.pid();
        // Ready means listening; give the start-up allocations a moment to settle.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let idle = rss_kib(pid)?;
        eprintln!("airlock serve: pid {pid}, idle VmRSS {:.1} MiB", mib(idle));
        if args.attach_delay > 0 {
            eprintln!(
                "waiting {} s (attach a profiler to pid {pid})",
                args.attach_delay
            );
            tokio::time::sleep(Duration::from_secs(args.attach_delay)).await;
        }
        let target = Target::Http(peer.url("/mcp/pusher"));
        for (concurrency, per_worker) in levels {
            eprintln!("airlock, concurrency {concurrency} …");
            let level = run_level(
                &target,
                &client,
                concurrency,
                per_worker,
                args.warmup,
                Some(pid),
            )
            .await?;
            rows.push(Row {
                path: "airlock (HTTP in, stdio out, policy)",
                concurrency,
                level,
            });
        }
        let after = rss_kib(pid)?;
        let recorded = count_recorded(&dir.path().join("data/airlock.db"));
        memory = Some((idle, after, recorded));
        drop(peer);
    }

    if wants("airlock-nodelay") {
        let gate = NodelayGate::start(&airlock)?;
        let target = Target::Http(gate.url.clone());
        for (concurrency, per_worker) in levels {
            eprintln!("airlock in-process with TCP_NODELAY, concurrency {concurrency} …");
            let level =
                run_level(&target, &client, concurrency, per_worker, args.warmup, None).await?;
            rows.push(Row {
                path: "experiment: same gate, TCP_NODELAY listener",
                concurrency,
                level,
            });
        }
        tokio::task::spawn_blocking(move || gate.stop()).await??;
    }

    let mut supergateway_rss = None;
    if wants("supergateway") {
        let peer = start_supergateway(&airlock)?;
        let pid = peer.pid();
        let target = Target::Http(peer.url("/mcp"));
        for (concurrency, per_worker) in levels {
            eprintln!("supergateway, concurrency {concurrency} …");
            let level = run_level(
                &target,
                &client,
                concurrency,
                per_worker,
                args.warmup,
                Some(pid),
            )
            .await?;
            rows.push(Row {
                path: "supergateway (stateful, no policy)",
                concurrency,
                level,
            });
        }
        supergateway_rss = rss_kib(pid).ok();
        drop(peer);
    }

    println!("machine: {}", machine());
    println!();
    println!(
        "| Path | Concurrency | Calls | p50 (µs) | p99 (µs) | max (µs) | calls/s | proxy CPU µs/call |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for row in &rows {
        let s = row.level.summary;
        let cpu = row
            .level
            .cpu_per_call
            .map_or_else(|| "".to_string(), |c| format!("{:.0}", us(c)));
        println!(
            "| {} | {} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {cpu} |",
            row.path,
            row.concurrency,
            s.calls,
            us(s.p50),
            us(s.p99),
            us(s.max),
            s.per_sec
        );
    }
    println!();
    for concurrency in [1, args.concurrency] {
        let p50 = |prefix: &str| {
            rows.iter()
                .find(|r| r.concurrency == concurrency && r.path.starts_with(prefix))
                .map(|r| us(r.level.summary.p50))
        };
        if let (Some(direct), Some(airlock)) = (p50("direct"), p50("airlock")) {
            print!(
                "concurrency {concurrency}: Airlock adds {:.0} µs at p50",
                airlock - direct
            );
            if let Some(sg) = p50("supergateway") {
                print!(
                    ", supergateway adds {:.0} µs (Airlock's share: {:.2})",
                    sg - direct,
                    (airlock - direct) / (sg - direct)
                );
            }
            println!();
        }
    }
    if let Some((idle, after, recorded)) = memory {
        println!(
            "airlock serve VmRSS: idle after start {:.1} MiB, after the run {:.1} MiB (upstream children not included)",
            mib(idle),
            mib(after)
        );
        match recorded {
            Ok(n) => println!("calls recorded in its history: {n}"),
            Err(err) => println!("calls recorded in its history: unknown ({err})"),
        }
    }
    if let Some(rss) = supergateway_rss {
        println!("supergateway VmRSS after the run: {:.1} MiB", mib(rss));
    }
    Ok(())
}

/// How many calls Airlock's history holds, read with the `sqlite3` shell if there is one (a
/// read-only reader beside the running gate: the file is in WAL mode).
fn count_recorded(db: &Path) -> anyhow::Result<String> {
    let output = Command::new("sqlite3")
        .arg("-readonly")
        .arg(db)
        .arg("select count(*) from calls")
        .output()
        .context("no `sqlite3` shell")?;
    if !output.status.success() {
        bail!("{}", String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}
