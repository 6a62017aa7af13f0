//! `@modelcontextprotocol/conformance` server scenarios through the real `airlock serve`.
//!
//! The upstream is our own conformance server (`crates/testkit/node/conformance-server/`), which
//! has every tool, resource and prompt the scenarios call. Each transport gets the same three
//! runs ([`RUNS`]): the stable suite's active scenarios, the newest suite's `--suite all`, and
//! its 2026-07-28 requirement set; then the scenarios in which the server sends the client a
//! request ([`REPEATED`]) run [`TIMES`] times each, since their failures have been races.
//!
//! - directly: the server over Streamable HTTP at `http://localhost:<port>/mcp` (the baseline,
//!   measured once per test binary; the server must pass every scenario but the tasks extension);
//! - `airlock serve` with the server as a Streamable HTTP upstream;
//! - `airlock serve` with the server as a stdio child;
//! - `airlock connect` on the path: a first `airlock serve` whose stdio upstream is
//!   `airlock connect conformance --url <second>`, the second `airlock serve` in front of the
//!   server over HTTP.
//!
//! Policy `{"version": "1", "default": "allow"}`: Airlock only relays (and records). A test
//! fails when a scenario that passes directly fails through Airlock, when one repeated run
//! fails, or when `dns-rebinding-protection` fails through Airlock. The tables go to
//! `target/conformance/<transport>.md` (with every failed check's message) and are copied into
//! `docs/conformance.md`; each run's `checks.json` stays under `target/conformance/<transport>/`.
//!
//! Run: `cargo test -p airlock-cli --test serve_conformance -- --nocapture`.

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use airlock_testkit::conformance::{self, Score, Scores, Selection, Suite};
use anyhow::{Result, anyhow, bail};
use common::{Serve, airlock_bin};
use serde_json::{Value, json};

/// The runs every transport gets: suite, selection, the column's title.
const RUNS: [(Suite, Selection, &str); 3] = [
    (Suite::Pinned, Selection::Active, "stable suite, active"),
    (Suite::Next, Selection::All, "newest suite, `--suite all`"),
    (
        Suite::Next,
        Selection::Requirements("2026-07-28"),
        "newest suite, `--requirements 2026-07-28`",
    ),
];

/// The scenarios in which the server asks the client something (sampling, elicitation) while a
/// call is open, on the call's stream or the session's GET stream.
const REPEATED: [&str; 4] = [
    "tools-call-sampling",
    "tools-call-elicitation",
    "elicitation-sep1034-defaults",
    "elicitation-sep1330-enums",
];
const TIMES: u32 = 20;

/// The tasks extension (SEP-2663, `--suite all` only): the server SDK does not implement it, so
/// these scenarios fail directly and are not expected of the server.
fn unsupported_directly(scenario: &str) -> bool {
    scenario.starts_with("tasks-")
}

#[test]
fn the_conformance_server_passes_every_scenario_directly_but_the_tasks_extension() -> Result<()> {
    let direct = direct()?;
    let mut problems = Vec::new();
    for ((_, _, title), scores) in RUNS.iter().zip(&direct.runs) {
        for (name, score) in scores {
            if !score.passes() && !unsupported_directly(name) {
                problems.push(format!("{title}: `{name}` fails directly"));
            }
        }
    }
    if !problems.is_empty() {
        bail!("{}\n{}", problems.join("\n"), direct.failures);
    }
    Ok(())
}

#[test]
fn through_airlock_serve_with_an_http_upstream() -> Result<()> {
    let server = airlock_testkit::conformance_server_http()?;
    let serve = Serve::start(&json!({
        "mcpServers": { "conformance": { "type": "http", "url": server.url("/mcp"), "policy": "allow.json" } }
    }))?;
    check_through(
        "http-upstream",
        "`airlock serve`, HTTP upstream",
        &serve.mcp_url("conformance"),
    )
}

#[test]
fn through_airlock_serve_with_a_stdio_upstream() -> Result<()> {
    let argv = airlock_testkit::conformance_server_stdio_argv()?;
    let serve = Serve::start(&json!({
        "mcpServers": {
            "conformance": { "command": argv[0], "args": argv[1..], "policy": "allow.json" }
        }
    }))?;
    check_through(
        "stdio-upstream",
        "`airlock serve`, stdio upstream",
        &serve.mcp_url("conformance"),
    )
}

#[test]
fn through_airlock_connect_between_two_airlock_serves() -> Result<()> {
    let server = airlock_testkit::conformance_server_http()?;
    let inner = Serve::start(&json!({
        "mcpServers": { "conformance": { "type": "http", "url": server.url("/mcp"), "policy": "allow.json" } }
    }))?;
    let connect = json!({
        "command": airlock_bin(),
        "args": ["connect", "conformance", "--url", inner.base_url],
        "policy": "allow.json"
    });
    let outer = Serve::start(&json!({ "mcpServers": { "conformance": connect } }))?;
    check_through(
        "airlock-connect",
        "`airlock serve` → `airlock connect` → `airlock serve`",
        &outer.mcp_url("conformance"),
    )
}

/// The direct baseline, measured once per test binary (the tests run in parallel and share it).
struct Direct {
    runs: Vec<Scores>,
    /// Every failed check of the direct runs, as Markdown.
    failures: String,
}

fn direct() -> Result<&'static Direct> {
    static DIRECT: OnceLock<Result<Direct, String>> = OnceLock::new();
    DIRECT
        .get_or_init(|| measure_direct().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow!("the direct baseline failed: {e}"))
}

fn measure_direct() -> Result<Direct> {
    let server = airlock_testkit::conformance_server_http()?;
    let url = format!("http://localhost:{}/mcp", server.port);
    let out = fresh_dir("direct")?;
    let mut runs = Vec::new();
    let mut failures = String::new();
    for (i, (suite, selection, title)) in RUNS.into_iter().enumerate() {
        let dir = out.join(i.to_string());
        let scores = conformance::run_suite(suite, selection, &url, &dir)?;
        failures.push_str(&failed_checks(title, &dir, &scores));
        runs.push(scores);
    }
    Ok(Direct { runs, failures })
}

/// Runs [`RUNS`] and [`REPEATED`] through Airlock at `url`, writes the tables to
/// `target/conformance/<name>.md` and fails on anything Airlock lost.
fn check_through(name: &str, column: &str, url: &str) -> Result<()> {
    let direct = direct()?;
    let out = fresh_dir(name)?;
    let mut report = format!("# Conformance through {column}\n\n");
    let mut problems = Vec::new();
    for (i, ((suite, selection, title), direct_scores)) in
        RUNS.into_iter().zip(&direct.runs).enumerate()
    {
        let dir = out.join(i.to_string());
        let through = conformance::run_suite(suite, selection, url, &dir)?;
        let version = suite.version()?;
        let _ = write!(
            report,
            "## {title} ({version})\n\n{}\n{}",
            conformance::table(&[("directly", direct_scores), (column, &through)]),
            failed_checks(title, &dir, &through)
        );
        let lost = conformance::lost(direct_scores, &through);
        if !lost.is_empty() {
            problems.push(format!(
                "{title}: pass directly but not through Airlock: {lost:?}"
            ));
        }
        if !conformance::passes(&through, "dns-rebinding-protection") {
            problems.push(format!(
                "{title}: Airlock must reject a bad Host and a bad Origin"
            ));
        }
    }

    let mut repeated = Scores::new();
    for scenario in REPEATED {
        let dir = out.join("repeated").join(scenario);
        let runs = conformance::repeat(Suite::Pinned, scenario, TIMES, url, &dir)?;
        if runs.failed > 0 {
            problems.push(format!(
                "`{scenario}` failed {} of {TIMES} runs through Airlock",
                runs.failed
            ));
            report.push_str(&failed_checks_of_runs(scenario, &dir));
        }
        repeated.insert(format!("{scenario} ×{TIMES}"), runs);
    }
    let _ = write!(
        report,
        "## {TIMES} runs of each scenario in which the server asks the client (stable suite)\n\n\
         A cell counts runs, not checks.\n\n{}",
        conformance::table(&[(column, &repeated)])
    );

    let target = airlock_testkit::target_dir()
        .join("conformance")
        .join(format!("{name}.md"));
    std::fs::write(&target, &report)?;
    eprintln!("{report}\n(written to {})", target.display());
    if !problems.is_empty() {
        bail!("{}\n(see {})", problems.join("\n"), target.display());
    }
    Ok(())
}

/// `target/conformance/<name>`, emptied.
fn fresh_dir(name: &str) -> Result<PathBuf> {
    let dir = airlock_testkit::target_dir().join("conformance").join(name);
    match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The failed checks of the failing scenarios in `scores`, read from the `checks.json` files the
/// suite wrote under `dir` (`server-<scenario>-<time>/checks.json`), as a Markdown list.
fn failed_checks(title: &str, dir: &Path, scores: &Scores) -> String {
    let failing: Vec<&String> = scores
        .iter()
        .filter(|(_, s)| !Score::passes(s))
        .map(|(name, _)| name)
        .collect();
    if failing.is_empty() {
        return String::new();
    }
    let mut out = format!("Failed checks ({title}):\n\n");
    for (scenario, check) in checks_under(dir) {
        if failing.contains(&&scenario) && check["status"] == "FAILURE" {
            let _ = writeln!(out, "- `{scenario}` {}", describe(&check));
        }
    }
    out.push('\n');
    out
}

fn failed_checks_of_runs(scenario: &str, dir: &Path) -> String {
    let mut out = format!("Failed checks of `{scenario}` (repeated runs):\n\n");
    let Ok(runs) = std::fs::read_dir(dir) else {
        return out;
    };
    for run in runs.flatten() {
        for (_, check) in checks_under(&run.path()) {
            if check["status"] == "FAILURE" {
                let _ = writeln!(
                    out,
                    "- run {}: {}",
                    run.file_name().to_string_lossy(),
                    describe(&check)
                );
            }
        }
    }
    out.push('\n');
    out
}

fn describe(check: &Value) -> String {
    format!(
        "`{}`: {}",
        check["id"].as_str().unwrap_or("?"),
        check["errorMessage"]
            .as_str()
            .unwrap_or("(no message)")
            .replace('\n', " ")
    )
}

/// Every check the suite wrote under `dir`, with its scenario's name.
fn checks_under(dir: &Path) -> Vec<(String, Value)> {
    let mut checks = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return checks;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let folder = entry.file_name().to_string_lossy().into_owned();
        // `server-<scenario>-<ISO time with dashes>`: the time is the last 6 dash-separated parts.
        let Some(scenario) = folder.strip_prefix("server-").map(|rest| {
            let parts: Vec<&str> = rest.split('-').collect();
            parts[..parts.len().saturating_sub(6)].join("-")
        }) else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(entry.path().join("checks.json")) else {
            continue;
        };
        let Ok(Value::Array(list)) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        checks.extend(list.into_iter().map(|check| (scenario.clone(), check)));
    }
    checks
}
