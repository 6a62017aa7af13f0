//! The logging upstream (`python/logging_upstream.py`): a stdio MCP server that writes every
//! message it receives, and every tool call it *executes*, to a log file. It is lenient on
//! purpose (it runs a `tools/call` sent as a notification, and decodes string arguments), so a
//! test can check that only what the gate decided reached it: [`Log::executed`].

use std::io;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The argv that starts the server with its log at `log` (for a config's `command` and `args`).
pub fn argv(log: &Path) -> Vec<String> {
    vec![
        "python3".into(),
        crate::python_dir()
            .join("logging_upstream.py")
            .display()
            .to_string(),
        log.display().to_string(),
    ]
}

/// The `mcpServers` entry of the server, under `policy`.
pub fn entry(log: &Path, policy: &str) -> Value {
    let argv = argv(log);
    serde_json::json!({ "command": argv[0], "args": argv[1..], "policy": policy })
}

/// What the server wrote. Every server process started with the same path appends to it.
#[derive(Debug, Clone)]
pub struct Log(pub PathBuf);

impl Log {
    /// Every entry so far (an absent file is no entries).
    pub fn entries(&self) -> io::Result<Vec<Value>> {
        let text = match std::fs::read_to_string(&self.0) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        Ok(text
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect())
    }

    /// The tool calls the server ran: `{"executed": tool, "arguments": …, "id": …}`.
    pub fn executed(&self) -> io::Result<Vec<Value>> {
        Ok(self
            .entries()?
            .into_iter()
            .filter(|e| e.get("executed").is_some())
            .collect())
    }

    /// The messages the server received, in order.
    pub fn received(&self) -> io::Result<Vec<Value>> {
        Ok(self
            .entries()?
            .into_iter()
            .filter_map(|mut e| e.get_mut("received").map(Value::take))
            .collect())
    }

    /// The process ids of every server process that started.
    pub fn pids(&self) -> io::Result<Vec<u32>> {
        Ok(self
            .entries()?
            .iter()
            .filter_map(|e| e.get("pid").and_then(Value::as_u64))
            .filter_map(|p| u32::try_from(p).ok())
            .collect())
    }
}

/// True while process `pid` exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the field after the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}
