//! Where each agent keeps its MCP servers, and how each reaches Airlock once imported.
//!
//! Formats (docs/compatibility.md has the rewrite per client):
//! - Claude Desktop: `claude_desktop_config.json` in the OS config dir, `mcpServers`; it only
//!   launches commands, so it gets `airlock connect <name>`.
//! - Claude Code: `~/.claude.json` (`mcpServers`, and `projects.<path>.mcpServers`) and a
//!   project's `.mcp.json`; `"type": "http"` with a `url`.
//! - Cursor: `~/.cursor/mcp.json` and a project's `.cursor/mcp.json`, `mcpServers`; a `url`.
//! - VS Code: a project's `.vscode/mcp.json` and the user profile's `mcp.json`, key `servers`,
//!   JSONC (comments, trailing commas); `"type": "http"` with a `url`.
//! - Windsurf: `~/.codeium/windsurf/mcp_config.json`, `mcpServers`; a `serverUrl`.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

/// An agent whose config `airlock import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Client {
    ClaudeDesktop,
    ClaudeCode,
    Cursor,
    Vscode,
    Windsurf,
}

impl Client {
    pub const ALL: [Client; 5] = [
        Client::ClaudeDesktop,
        Client::ClaudeCode,
        Client::Cursor,
        Client::Vscode,
        Client::Windsurf,
    ];

    /// The name on the command line and in the API: `claude-desktop`, `vscode`.
    pub fn id(self) -> &'static str {
        match self {
            Client::ClaudeDesktop => "claude-desktop",
            Client::ClaudeCode => "claude-code",
            Client::Cursor => "cursor",
            Client::Vscode => "vscode",
            Client::Windsurf => "windsurf",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Client::ClaudeDesktop => "Claude Desktop",
            Client::ClaudeCode => "Claude Code",
            Client::Cursor => "Cursor",
            Client::Vscode => "VS Code",
            Client::Windsurf => "Windsurf",
        }
    }
}

impl std::str::FromStr for Client {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Client::ALL
            .into_iter()
            .find(|c| c.id() == text)
            .ok_or_else(|| {
                let ids: Vec<&str> = Client::ALL.iter().map(|c| c.id()).collect();
                format!(
                    "`{text}` is not an agent Airlock imports from (one of: {})",
                    ids.join(", ")
                )
            })
    }
}

/// One config file, and where in it the servers are.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    pub client: Client,
    pub path: PathBuf,
    /// The keys from the root to the servers object (`["projects", "/src/app", "mcpServers"]`).
    pub pointer: Vec<String>,
    /// For a project's servers, the project folder: the agent starts them there, so Airlock's
    /// entry gets it as `cwd` (relative `args` keep working).
    pub project: Option<PathBuf>,
}

impl ConfigFile {
    fn new(client: Client, path: PathBuf, pointer: &[&str]) -> Self {
        Self {
            client,
            path,
            pointer: pointer.iter().map(|s| (*s).to_string()).collect(),
            project: None,
        }
    }

    fn in_project(mut self, project: &Path) -> Self {
        self.project = Some(project.to_path_buf());
        self
    }

    /// `Claude Code ~/.claude.json (project /src/app)`, for listings.
    pub fn describe(&self) -> String {
        let scope = match self.pointer.as_slice() {
            [projects, project, _] if projects == "projects" => format!(" (project {project})"),
            _ => String::new(),
        };
        format!("{} {}{scope}", self.client.label(), self.path.display())
    }
}

/// The config files that exist, for the user's `home` and OS `config_dir`, and `project`.
/// `~/.claude.json` is read to find its per-project server lists.
pub fn discover(home: &Path, config_dir: &Path, project: &Path) -> Vec<ConfigFile> {
    let mut files = vec![
        ConfigFile::new(
            Client::ClaudeDesktop,
            config_dir.join("Claude").join("claude_desktop_config.json"),
            &["mcpServers"],
        ),
        ConfigFile::new(
            Client::ClaudeCode,
            home.join(".claude.json"),
            &["mcpServers"],
        ),
    ];
    let claude_json = home.join(".claude.json");
    if let Ok(Some(Value::Object(root))) = crate::jsonc::read_value(&claude_json)
        && let Some(Value::Object(projects)) = root.get("projects")
    {
        for (path, project) in projects {
            if project.get("mcpServers").is_some_and(Value::is_object) {
                files.push(ConfigFile {
                    client: Client::ClaudeCode,
                    path: claude_json.clone(),
                    pointer: vec!["projects".into(), path.clone(), "mcpServers".into()],
                    project: Some(PathBuf::from(path)),
                });
            }
        }
    }
    files.extend([
        ConfigFile::new(
            Client::ClaudeCode,
            project.join(".mcp.json"),
            &["mcpServers"],
        )
        .in_project(project),
        ConfigFile::new(
            Client::Cursor,
            home.join(".cursor").join("mcp.json"),
            &["mcpServers"],
        ),
        ConfigFile::new(
            Client::Cursor,
            project.join(".cursor").join("mcp.json"),
            &["mcpServers"],
        )
        .in_project(project),
        ConfigFile::new(
            Client::Vscode,
            config_dir.join("Code").join("User").join("mcp.json"),
            &["servers"],
        ),
        ConfigFile::new(
            Client::Vscode,
            project.join(".vscode").join("mcp.json"),
            &["servers"],
        )
        .in_project(project),
        ConfigFile::new(
            Client::Windsurf,
            home.join(".codeium")
                .join("windsurf")
                .join("mcp_config.json"),
            &["mcpServers"],
        ),
    ]);
    // The same file twice (a project that is the home folder) is listed once.
    let mut seen = Vec::new();
    files.retain(|f| {
        let key = (f.path.clone(), f.pointer.clone());
        f.path.is_file() && !seen.contains(&key) && {
            seen.push(key);
            true
        }
    });
    files
}

/// The fields of a client's entry that say how to reach the server: they move to Airlock's
/// config (secrets in `env` and `headers` with them) and are replaced by the way to Airlock.
const TRANSPORT: &[&str] = &[
    "type",
    "transport",
    "command",
    "args",
    "env",
    "envFile",
    "cwd",
    "url",
    "serverUrl",
    "headers",
];

pub fn is_transport(key: &str) -> bool {
    TRANSPORT.contains(&key)
}

/// Airlock's `mcpServers` entry for a client's entry: its transport fields, in Airlock's shape;
/// a stdio server of a `project` runs in the project folder, as its agent would start it.
pub fn airlock_entry(
    entry: &Map<String, Value>,
    project: Option<&Path>,
) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    let url = entry.get("url").or_else(|| entry.get("serverUrl"));
    if let Some(command) = entry.get("command") {
        out.insert("command".into(), command.clone());
        for key in ["args", "env", "cwd"] {
            if let Some(value) = entry.get(key) {
                out.insert(key.into(), value.clone());
            }
        }
        if let Some(project) = project {
            let cwd = match entry.get("cwd").and_then(Value::as_str) {
                Some(cwd) => project.join(cwd),
                None => project.to_path_buf(),
            };
            out.insert("cwd".into(), json!(cwd.display().to_string()));
        }
    } else if let Some(url) = url {
        let kind = entry.get("type").or_else(|| entry.get("transport"));
        let sse = kind.and_then(Value::as_str) == Some("sse");
        out.insert("type".into(), json!(if sse { "sse" } else { "http" }));
        out.insert("url".into(), url.clone());
        if let Some(headers) = entry.get("headers") {
            out.insert("headers".into(), headers.clone());
        }
    } else {
        return Err("has neither `command` nor `url`".into());
    }
    if uses_variables(&Value::Object(out.clone())) {
        return Err(
            "uses a `${…}` variable that only its agent fills in; copy it to Airlock's config by hand"
                .into(),
        );
    }
    if entry.contains_key("envFile") {
        return Err("reads its environment from `envFile`, which Airlock does not read".into());
    }
    Ok(out)
}

/// Whether a string in `value` is a `${…}` variable (`${input:key}` in VS Code, `${env:NAME}` in
/// Windsurf, `${NAME}` in Claude Code): Airlock would pass it on unexpanded.
fn uses_variables(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains("${"),
        Value::Array(items) => items.iter().any(uses_variables),
        Value::Object(map) => map.values().any(uses_variables),
        _ => false,
    }
}

/// Whether the entry already goes through Airlock (so a second import leaves it alone).
pub fn points_at_airlock(entry: &Map<String, Value>) -> bool {
    let url = entry
        .get("url")
        .or_else(|| entry.get("serverUrl"))
        .and_then(Value::as_str);
    if let Some(url) = url {
        let local = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"]
            .iter()
            .any(|prefix| url.starts_with(prefix));
        return local && url.contains("/mcp/");
    }
    let command = entry.get("command").and_then(Value::as_str).unwrap_or("");
    let launches_airlock = Path::new(command)
        .file_stem()
        .is_some_and(|stem| stem == "airlock");
    let first_arg = entry
        .get("args")
        .and_then(Value::as_array)
        .and_then(|args| args.first())
        .and_then(Value::as_str);
    launches_airlock && first_arg == Some("connect")
}

/// The fields that point `client`'s entry at the server `name` behind Airlock.
pub fn via_airlock(client: Client, name: &str, port: u16, airlock: &Path) -> Vec<(String, Value)> {
    let url = format!("http://127.0.0.1:{port}/mcp/{name}");
    let fields: Vec<(&str, Value)> = match client {
        Client::ClaudeDesktop => vec![
            ("command", json!(airlock.display().to_string())),
            ("args", json!(["connect", name])),
        ],
        Client::ClaudeCode | Client::Vscode => vec![("type", json!("http")), ("url", json!(url))],
        Client::Cursor => vec![("url", json!(url))],
        Client::Windsurf => vec![("serverUrl", json!(url))],
    };
    fields
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn entries_pointing_at_airlock_are_recognised() {
        for entry in [
            json!({ "type": "http", "url": "http://127.0.0.1:4141/mcp/github" }),
            json!({ "serverUrl": "http://localhost:4242/mcp/git" }),
            json!({ "command": "/usr/local/bin/airlock", "args": ["connect", "pusher"] }),
        ] {
            assert!(points_at_airlock(&object(entry.clone())), "{entry}");
        }
        for entry in [
            json!({ "url": "https://api.githubcopilot.com/mcp/" }),
            json!({ "url": "http://127.0.0.1:8080/sse" }),
            json!({ "command": "airlock", "args": ["demo-pusher"] }),
            json!({ "command": "npx", "args": ["connect"] }),
        ] {
            assert!(!points_at_airlock(&object(entry.clone())), "{entry}");
        }
    }

    #[test]
    fn airlock_entry_takes_the_transport_and_refuses_what_it_cannot_carry() {
        let stdio = object(json!({ "type": "stdio", "command": "uvx", "args": ["x"],
                                    "env": { "K": "v" }, "disabled": false }));
        assert_eq!(
            airlock_entry(&stdio, None),
            Ok(object(
                json!({ "command": "uvx", "args": ["x"], "env": { "K": "v" } })
            ))
        );
        let project = object(json!({ "command": "node", "args": ["./server.js"] }));
        assert_eq!(
            airlock_entry(&project, Some(Path::new("/src/app"))),
            Ok(object(
                json!({ "command": "node", "args": ["./server.js"], "cwd": "/src/app" })
            ))
        );
        let sub = object(json!({ "command": "node", "cwd": "tools" }));
        assert_eq!(
            airlock_entry(&sub, Some(Path::new("/src/app"))).map(|e| e["cwd"].clone()),
            Ok(json!("/src/app/tools"))
        );
        let windsurf = object(json!({ "serverUrl": "https://h/mcp", "headers": { "A": "b" } }));
        assert_eq!(
            airlock_entry(&windsurf, Some(Path::new("/p"))),
            Ok(object(
                json!({ "type": "http", "url": "https://h/mcp", "headers": { "A": "b" } })
            ))
        );
        let sse = object(json!({ "type": "sse", "url": "https://h/sse" }));
        assert_eq!(
            airlock_entry(&sse, None).ok().map(|e| e["type"].clone()),
            Some(json!("sse"))
        );
        let input = object(json!({ "command": "npx", "env": { "K": "${input:key}" } }));
        assert!(airlock_entry(&input, None).is_err_and(|e| e.contains("${")));
        assert!(airlock_entry(&object(json!({ "disabled": true })), None).is_err());
    }
}
