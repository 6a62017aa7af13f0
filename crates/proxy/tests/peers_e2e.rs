//! End to end through Airlock with real peers on both sides: the relay ([`Proxy`] with
//! [`PassThrough`], served on a loopback port) in front of `@modelcontextprotocol/server-everything`
//! (over stdio and over Streamable HTTP), with the official TypeScript and Python SDK clients as
//! agents. Also runs `@modelcontextprotocol/conformance` server scenarios against our conformance
//! server directly and through Airlock, and checks that Airlock loses none (see docs/conformance.md).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use airlock_proxy::{PassThrough, Proxy, ProxyConfig, UpstreamSpec};
use airlock_testkit::conformance::{self, Selection, Suite};
use airlock_testkit::{EverythingMode, Peer, everything_http};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

const PATIENCE: Duration = Duration::from_secs(120);

/// Airlock on `127.0.0.1:<port>` with one server `everything`. Dropping the handle stops it.
struct Airlock {
    port: u16,
    _proxy: Proxy,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Airlock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Airlock {
    async fn start(spec: UpstreamSpec) -> Result<Airlock> {
        let proxy = Proxy::new(Arc::new(PassThrough), ProxyConfig::default());
        proxy.set_servers([("everything".to_owned(), spec)]);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let router = proxy.router();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Airlock {
            port,
            _proxy: proxy,
            task,
        })
    }

    /// The agent URL. `localhost`, as agents write it (and as the DNS-rebinding scenario needs).
    fn url(&self) -> String {
        format!("http://localhost:{}/mcp/everything", self.port)
    }
}

fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

fn stdio_everything() -> Result<UpstreamSpec> {
    let mut argv = blocking(airlock_testkit::everything_stdio_argv)?.into_iter();
    let command = argv.next().context("empty argv")?;
    Ok(UpstreamSpec::Stdio(airlock_proxy::StdioCommand {
        command,
        args: argv.collect(),
        env: BTreeMap::new(),
        cwd: None,
    }))
}

fn http_everything(peer: &Peer) -> UpstreamSpec {
    UpstreamSpec::StreamableHttp {
        url: peer.url("/mcp"),
        headers: http::HeaderMap::new(),
    }
}

/// Runs an agent with the steps every test checks, returns its JSON-line events.
async fn run_agent(mut cmd: std::process::Command, url: &str) -> Result<Vec<Value>> {
    cmd.args([
        "--url",
        url,
        "--progress",
        "--sampling",
        "--elicitation",
        "--list",
    ])
    .args(["--call", "echo", r#"{"message":"through airlock"}"#])
    .args([
        "--call",
        "trigger-long-running-operation",
        r#"{"duration":0.2,"steps":2}"#,
    ])
    .args(["--call", "trigger-sampling-request", r#"{"prompt":"hi"}"#])
    .args(["--call", "trigger-elicitation-request", "{}"]);
    let output = tokio::process::Command::from(cmd)
        .stderr(std::process::Stdio::inherit())
        .output();
    let output = tokio::time::timeout(PATIENCE, output)
        .await
        .context("the agent did not finish")??;
    let events: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    if !output.status.success() {
        bail!("agent failed ({}): {events:?}", output.status);
    }
    Ok(events)
}

fn result_text(events: &[Value], tool: &str) -> String {
    events
        .iter()
        .find(|e| e["event"] == "result" && e["tool"] == tool)
        .map(|e| e["result"]["content"].to_string())
        .unwrap_or_default()
}

/// `min_progress`: the TypeScript SDK v1 drops the last progress notification when the result
/// follows right after it (also directly, without Airlock), so it may see one fewer.
fn check_agent(events: &[Value], min_progress: usize) {
    let init = events.iter().find(|e| e["event"] == "initialized");
    assert_eq!(
        init.map(|e| e["serverInfo"]["name"].clone()),
        Some(json!("mcp-servers/everything")),
        "{events:?}"
    );
    let tools = events
        .iter()
        .find(|e| e["event"] == "tools")
        .map(|e| e["names"].to_string());
    let tools = tools.unwrap_or_default();
    // Declared capabilities reached the server unchanged: it added its sampling and
    // elicitation tools.
    for name in [
        "echo",
        "trigger-sampling-request",
        "trigger-elicitation-request",
    ] {
        assert!(
            tools.contains(&format!("\"{name}\"")),
            "{name} missing: {tools}"
        );
    }
    assert!(
        result_text(events, "echo").contains("Echo: through airlock"),
        "{events:?}"
    );
    let progress: Vec<f64> = events
        .iter()
        .filter(|e| e["event"] == "progress")
        .filter_map(|e| e["progress"].as_f64())
        .collect();
    assert!(
        progress.len() >= min_progress && progress.len() <= 2,
        "{events:?}"
    );
    assert!(result_text(events, "trigger-long-running-operation").contains("completed"));
    assert!(
        events.iter().any(|e| e["event"] == "sampling"),
        "{events:?}"
    );
    assert!(result_text(events, "trigger-sampling-request").contains("airlock-test-model"));
    assert!(
        events.iter().any(|e| e["event"] == "elicitation"),
        "{events:?}"
    );
    assert!(result_text(events, "trigger-elicitation-request").contains("airlock"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_agent_through_airlock_to_a_stdio_server() -> Result<()> {
    let airlock = Airlock::start(stdio_everything()?).await?;
    let events = run_agent(blocking(airlock_testkit::ts_client)?, &airlock.url()).await?;
    check_agent(&events, 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_agent_through_airlock_to_a_stdio_server() -> Result<()> {
    let airlock = Airlock::start(stdio_everything()?).await?;
    let events = run_agent(blocking(airlock_testkit::python_client)?, &airlock.url()).await?;
    check_agent(&events, 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_agent_through_airlock_to_a_streamable_http_server() -> Result<()> {
    let peer = blocking(|| everything_http(EverythingMode::StreamableHttp))?;
    let airlock = Airlock::start(http_everything(&peer)).await?;
    let events = run_agent(blocking(airlock_testkit::ts_client)?, &airlock.url()).await?;
    check_agent(&events, 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_agent_through_airlock_to_a_legacy_sse_server() -> Result<()> {
    let peer = blocking(|| everything_http(EverythingMode::Sse))?;
    let spec = UpstreamSpec::LegacySse {
        url: peer.url("/sse"),
        headers: http::HeaderMap::new(),
    };
    let airlock = Airlock::start(spec).await?;
    let events = run_agent(blocking(airlock_testkit::python_client)?, &airlock.url()).await?;
    check_agent(&events, 2);
    Ok(())
}

/// The conformance suite against our conformance server directly and through the relay in
/// process (HTTP upstream): the stable suite's active scenarios and the newest suite's
/// `--suite all`. The binary's test (`crates/cli/tests/serve_conformance.rs`) covers the other
/// transports and the repeated runs; this one keeps the relay itself measured without the gate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_scenarios_that_pass_directly_pass_through_airlock() -> Result<()> {
    let peer = blocking(airlock_testkit::conformance_server_http)?;
    let out = tempfile::tempdir()?;
    let direct_url = format!("http://localhost:{}/mcp", peer.port);
    let airlock = Airlock::start(UpstreamSpec::StreamableHttp {
        url: peer.url("/mcp"),
        headers: http::HeaderMap::new(),
    })
    .await?;
    let mut rendered = String::new();
    let mut lost_any = Vec::new();
    for (suite, selection, title) in [
        (Suite::Pinned, Selection::Active, "stable suite, active"),
        (Suite::Next, Selection::All, "newest suite, --suite all"),
    ] {
        let dir = out.path().join(title);
        let direct = blocking(|| {
            conformance::run_suite(suite, selection, &direct_url, &dir.join("direct"))
        })?;
        let through = blocking(|| {
            conformance::run_suite(suite, selection, &airlock.url(), &dir.join("airlock"))
        })?;
        rendered.push_str(&format!(
            "## {title}\n\n{}\n",
            conformance::table(&[("directly", &direct), ("through the relay", &through)])
        ));
        let lost = conformance::lost(&direct, &through);
        if !lost.is_empty() {
            lost_any.push(format!("{title}: {lost:?}"));
        }
        if !conformance::passes(&through, "dns-rebinding-protection") {
            lost_any.push(format!(
                "{title}: Airlock must reject a bad Host and a bad Origin"
            ));
        }
    }
    let target = airlock_testkit::target_dir()
        .join("conformance")
        .join("relay-in-process.md");
    std::fs::create_dir_all(target.parent().context("no parent")?)?;
    std::fs::write(&target, &rendered)?;
    eprintln!("{rendered}\n(written to {})", target.display());
    assert!(
        lost_any.is_empty(),
        "pass directly but not through Airlock: {lost_any:?}\n{rendered}"
    );
    Ok(())
}
