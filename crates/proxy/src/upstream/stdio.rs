//! A server run as a child process speaking MCP's stdio transport.
//!
//! The command is started directly with its argv vector (never through a shell, so arguments are
//! not re-interpreted). stdout carries one JSON message per line ([`super::lines`]); stderr is
//! free-form and goes to `tracing` under the server's name.
//!
//! Shutdown follows the spec: when the relay drops `to_server`, the child's stdin is closed; if it
//! has not exited after [`GRACE`], it gets SIGTERM, and after another [`GRACE`] SIGKILL.
//! `kill_on_drop` is the backstop when the runtime itself goes away.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::{UpstreamError, UpstreamLink};

/// How long a child gets to exit after stdin closes, and again after SIGTERM.
pub const GRACE: Duration = Duration::from_secs(2);

/// Starts `command args..` and links its stdin/stdout. `name` labels the log lines.
pub fn spawn(
    name: &str,
    command: &str,
    args: &[String],
    env: &BTreeMap<String, String>,
    cwd: Option<&Path>,
) -> Result<UpstreamLink, UpstreamError> {
    let mut cmd = Command::new(command);
    cmd.args(args)
        .envs(env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let spawn_err = |source| UpstreamError::Spawn {
        command: command.to_owned(),
        source,
    };
    let mut child = cmd.spawn().map_err(spawn_err)?;
    let missing = || {
        spawn_err(std::io::Error::other(
            "the child's standard streams are not available",
        ))
    };
    let stdin = child.stdin.take().ok_or_else(missing)?;
    let stdout = child.stdout.take().ok_or_else(missing)?;
    let stderr = child.stderr.take().ok_or_else(missing)?;

    let name: Arc<str> = Arc::from(name);
    let ename = name.clone();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::info!(server = %ename, "{line}");
        }
    });

    let (link, _reader, writer) = super::lines::spawn(&name, stdout, stdin);
    tokio::spawn(supervise(name, child, writer));
    Ok(link)
}

/// Owns the child until it is gone: logs an exit of its own, or shuts it down politely once the
/// relay has closed its input.
async fn supervise(name: Arc<str>, mut child: Child, writer: tokio::task::JoinHandle<()>) {
    let pid = child.id();
    tokio::select! {
        status = child.wait() => {
            match status {
                Ok(s) => tracing::warn!(server = %name, status = %s, "upstream process exited"),
                Err(e) => tracing::warn!(server = %name, error = %e, "cannot wait for upstream process"),
            }
            return;
        }
        _ = writer => {}
    }
    // stdin is closed now.
    if let Ok(Ok(_)) = tokio::time::timeout(GRACE, child.wait()).await {
        tracing::debug!(server = %name, "upstream process exited after its input closed");
        return;
    }
    if let Some(pid) = pid
        .and_then(|p| i32::try_from(p).ok())
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        if let Ok(Ok(_)) = tokio::time::timeout(GRACE, child.wait()).await {
            tracing::debug!(server = %name, "upstream process exited on SIGTERM");
            return;
        }
    }
    tracing::warn!(server = %name, "upstream process ignored SIGTERM; killing it");
    let _ = child.kill().await;
}
