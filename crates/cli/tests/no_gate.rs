//! `airlock call` and `airlock connect` when no gate runs: one clear line on stderr, a non-zero
//! exit, and nothing on stdout (stdout of `connect` belongs to MCP messages).
//!
//! Run: `cargo test -p airlock-cli --test no_gate`.

use anyhow::{Result, ensure};
use assert_cmd::Command;

fn check_one_line_error(output: &std::process::Output, command: &str) -> Result<()> {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    ensure!(
        output.status.code() == Some(2),
        "`{command}` exit: {:?}, stderr: {stderr}",
        output.status
    );
    ensure!(
        lines.len() == 1,
        "`{command}` must print one line, printed: {stderr}"
    );
    ensure!(
        lines[0].starts_with("airlock: no Airlock gate is running")
            && lines[0].contains("airlock serve"),
        "`{command}`: {stderr}"
    );
    ensure!(output.stdout.is_empty(), "`{command}` wrote to stdout");
    Ok(())
}

#[test]
fn call_without_a_gate_says_so_in_one_line() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let output = Command::cargo_bin("airlock")?
        .args(["call", "pusher", "list_channels", "--data-dir"])
        .arg(dir.path())
        .env_remove("AIRLOCK_URL")
        .output()?;
    check_one_line_error(&output, "airlock call")
}

#[test]
fn connect_without_a_gate_says_so_in_one_line() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let output = Command::cargo_bin("airlock")?
        .args(["connect", "pusher", "--data-dir"])
        .arg(dir.path())
        .env_remove("AIRLOCK_URL")
        .write_stdin("")
        .output()?;
    check_one_line_error(&output, "airlock connect")
}

/// A gate that crashed leaves its `runtime.json` behind: the commands must still fail in one line
/// instead of hanging or printing a trace.
fn stale_runtime_dir() -> Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    let port = airlock_testkit::free_port()?;
    std::fs::write(
        dir.path().join("runtime.json"),
        format!(r#"{{"url": "http://127.0.0.1:{port}", "pid": 4194304}}"#),
    )?;
    Ok(dir)
}

/// What an agent sends first.
const INITIALIZE: &str = concat!(
    r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","#,
    r#""capabilities":{},"clientInfo":{"name":"test","version":"1"}}}"#,
    "\n"
);

fn check_unreachable(output: &std::process::Output, command: &str) -> Result<()> {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    ensure!(
        output.status.code() == Some(2),
        "`{command}` exit: {:?}, stderr: {stderr}",
        output.status
    );
    ensure!(
        lines.len() == 1
            && lines[0].starts_with("airlock: no Airlock gate is running (the one that wrote ")
            && lines[0].contains("is gone"),
        "`{command}` must print one line, printed: {stderr}"
    );
    ensure!(output.stdout.is_empty(), "`{command}` wrote to stdout");
    Ok(())
}

#[test]
fn call_with_the_runtime_file_of_a_crashed_gate_says_so_in_one_line() -> Result<()> {
    let dir = stale_runtime_dir()?;
    let output = Command::cargo_bin("airlock")?
        .args(["call", "pusher", "list_channels", "--data-dir"])
        .arg(dir.path())
        .env_remove("AIRLOCK_URL")
        .timeout(std::time::Duration::from_secs(60))
        .output()?;
    check_unreachable(&output, "airlock call")
}

#[test]
fn connect_with_the_runtime_file_of_a_crashed_gate_says_so_in_one_line() -> Result<()> {
    let dir = stale_runtime_dir()?;
    let output = Command::cargo_bin("airlock")?
        .args(["connect", "pusher", "--data-dir"])
        .arg(dir.path())
        .env_remove("AIRLOCK_URL")
        .write_stdin(INITIALIZE)
        .timeout(std::time::Duration::from_secs(60))
        .output()?;
    check_unreachable(&output, "airlock connect")
}
