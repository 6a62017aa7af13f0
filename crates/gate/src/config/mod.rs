//! The gate's configuration file.
//!
//! One JSON file in the `mcpServers` shape that Claude Desktop, Claude Code and Cursor already use,
//! extended with a `policy` per server, `grants` (agent identities) and `gate` settings:
//!
//! ```json
//! {
//!   "gate": { "listen": "127.0.0.1:4141" },
//!   "mcpServers": {
//!     "pusher": { "builtin": "demo-pusher", "policy": "builtin:pusher-channels" },
//!     "files":  { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"],
//!                 "roots": ["/tmp"], "policy": "policies/files.json" },
//!     "remote": { "type": "http", "url": "https://example.com/mcp", "headers": { "Authorization": "Bearer …" } }
//!   },
//!   "grants": {
//!     "claude-code": { "token_sha256": "…", "servers": { "pusher": "policies/pusher-strict.json" } }
//!   }
//! }
//! ```
//!
//! Relative paths are resolved against the directory of the config file. Unknown fields are errors
//! (a typo must not silently change security settings), except in a server entry, where they are
//! warnings, because configs copied from other tools carry their own extras (`disabled`,
//! `autoApprove`, …). Every problem is reported at once with its position (`config/check/`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use airlock_policy::{Diagnostic, Diagnostics, Severity};
use airlock_proxy::StdioCommand;
use serde::{Deserialize, Serialize};

use crate::GateError;
mod check;
pub mod diff;

pub use check::Environment;

/// Default port of the gate on loopback.
pub const DEFAULT_PORT: u16 = 4141;

/// The policy shipped for the demo Pusher server, embedded so the default works anywhere.
pub const PUSHER_POLICY_NAME: &str = "builtin:pusher-channels";
pub const PUSHER_POLICY_SOURCE: &str = include_str!("../../../../policies/pusher-channels.json");

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub gate: GateSettings,
    #[serde(rename = "mcpServers", default)]
    pub servers: BTreeMap<String, ServerEntry>,
    #[serde(default)]
    pub grants: BTreeMap<String, GrantEntry>,
    /// Where the file was read from; relative paths resolve against its directory.
    #[serde(skip)]
    pub source: Option<PathBuf>,
    /// What loads but is likely not what was meant (no servers, unknown server fields, policy
    /// warnings), in source order; `airlock serve` prints them and the API reports them.
    #[serde(skip)]
    pub warnings: Vec<Diagnostic>,
}

/// Settings of the gate itself.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GateSettings {
    /// Address the proxy and the local API listen on. Loopback by default: a gate reachable by
    /// other machines would let them drive your agents' tools.
    pub listen: SocketAddr,
    /// Must be true to listen on a non-loopback address, and then grants and `require_grants`
    /// are required.
    pub allow_non_loopback: bool,
    /// Refuse agents that send no grant token (HTTP 401). Off by default: a tokenless agent is
    /// let in as the grant `default` and told apart by its session and its declared client name,
    /// which any program can claim (not authentication). Creating grants does not change this;
    /// turn it on once every agent has a token.
    pub require_grants: bool,
    /// Extra `Origin` values accepted besides loopback ones (e.g. a browser extension).
    pub allowed_origins: Vec<String>,
    /// Extra `Host` names accepted besides loopback ones.
    pub allowed_hosts: Vec<String>,
    /// How long a held call without a progress token waits for a human before the agent is told
    /// to call again (seconds). Below the TypeScript SDK's 60 s default request timeout.
    pub hold_seconds: u64,
    /// How long a request may wait for a human when the policy does not say (`approval_timeout`).
    pub approval_timeout: String,
    /// Offer task-augmented calls (MCP 2025-11-25) for tools that may wait for a human: an agent
    /// that asks for a task gets one at once and polls it, instead of a request held open.
    pub offer_tasks: bool,
    /// An agent's Streamable HTTP session unused this long (no request, no open stream, nothing
    /// in flight) is closed with its upstream connection; the agent starts a new one.
    pub session_idle_timeout: String,
    /// How long a forwarded request may wait for the upstream's answer (e.g. `5m`); then the
    /// agent gets an error, the upstream `notifications/cancelled`, and history `timeout`.
    /// Progress from the server extends it, up to `max_request_time`.
    pub request_timeout: String,
    /// The longest any forwarded request may take, progress or not (e.g. `30m`).
    pub max_request_time: String,
    /// How long an agent may take to send one request body (e.g. `30s`); slower bodies are cut
    /// off with 408.
    pub body_timeout: String,
    /// Most agent sessions one server may have at once (each may be a child process); a new
    /// session beyond gets HTTP 503.
    pub max_sessions_per_server: usize,
    /// Where the history database, the API token and the runtime file live.
    pub data_dir: Option<PathBuf>,
    /// Largest request body accepted from an agent, in bytes.
    pub max_body_bytes: usize,
    /// Extra redaction rules for history.
    pub redact: RedactSettings,
    /// What happens when a server adds a tool or changes a tool's definition after its tools
    /// were pinned: `hold` (hidden and refused until a human accepts it), `ask` (every call
    /// needs approval until then) or `allow` (accepted at once, only recorded). See
    /// docs/pinning.md.
    pub on_tool_change: OnToolChange,
    /// Deny, before any policy, every tool call whose arguments name Airlock's own files (this
    /// config, its policy files, the data directory with history and the API token), so an
    /// agent cannot loosen or switch off the gate through a file tool. On by default; `false`
    /// turns it off (warned about at start).
    pub guard_own_files: bool,
}

impl Default for GateSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)),
            allow_non_loopback: false,
            require_grants: false,
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            hold_seconds: 50,
            approval_timeout: "10m".into(),
            offer_tasks: true,
            session_idle_timeout: "30m".into(),
            request_timeout: "5m".into(),
            max_request_time: "30m".into(),
            body_timeout: "30s".into(),
            max_sessions_per_server: 64,
            data_dir: None,
            max_body_bytes: 4 * 1024 * 1024,
            redact: RedactSettings::default(),
            on_tool_change: OnToolChange::default(),
            guard_own_files: true,
        }
    }
}

/// What the gate does when a server changes a tool's definition or adds a tool
/// (`gate.on_tool_change`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnToolChange {
    /// Hide the tool from `tools/list` and refuse its calls until a human accepts it.
    #[default]
    Hold,
    /// Keep it listed, but every call needs a human's approval until the change is accepted.
    Ask,
    /// Accept the change at once; it is only recorded.
    Allow,
}

impl OnToolChange {
    /// The config's spelling.
    pub const NAMES: &'static [&'static str] = &["hold", "ask", "allow"];
}

/// Extra redaction rules, on top of the built-in ones.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedactSettings {
    /// Argument key names whose values are never stored (case-insensitive).
    pub keys: Vec<String>,
    /// Regular expressions; matching parts of string values are never stored.
    pub patterns: Vec<String>,
}

/// One upstream MCP server, in the `mcpServers` shape.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ServerEntry {
    /// `stdio`, `http` (Streamable HTTP), `streamable-http`, `sse`; inferred when absent.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<PathBuf>,
    /// The directories the server works in, against which the policy's `under` and `glob`
    /// resolve a relative path argument (absolute, `~/…`, or relative to the config file's
    /// folder). For `@modelcontextprotocol/server-filesystem`, its allowed directories (the
    /// directories on its command line). Absent: the server's `cwd`; with neither, relative
    /// paths cannot be normalized and path conditions on them fail closed. See `crate::roots`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roots: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// A server built into Airlock: `demo-pusher`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builtin: Option<String>,
    /// The policy file for this server (or `builtin:pusher-channels`). Without one, every call of
    /// a tool the server listed needs a human's approval; a call of any other tool is denied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Fields other tools put here; kept, ignored, warned about.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// An agent identity. Agents present its token as `Authorization: Bearer <token>`; only the
/// SHA-256 of the token is stored.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GrantEntry {
    /// Lowercase hex SHA-256 of the token.
    pub token_sha256: String,
    /// Servers this grant may use, each with an optional policy that replaces the server's own.
    /// Absent: every server, under the server's policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servers: Option<BTreeMap<String, Option<String>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// How to reach an upstream, resolved from a [`ServerEntry`]: the config's form. The relay's
/// form is `airlock_proxy::UpstreamSpec`, made from it by `upstreams::spec` (the only code that
/// converts), which resolves a relative `cwd`, parses headers and starts the demo server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamKind {
    /// `cwd` as written (relative to the config's folder).
    Stdio(StdioCommand),
    StreamableHttp {
        url: String,
        headers: BTreeMap<String, String>,
    },
    LegacySse {
        url: String,
        headers: BTreeMap<String, String>,
    },
    DemoPusher,
}

/// Where a policy comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicySource {
    /// A file on disk, watched for changes.
    File(PathBuf),
    /// Built into the binary (`builtin:pusher-channels`).
    Builtin(&'static str),
    /// No policy configured: every call of a listed tool needs approval, others are denied.
    AskForEverything,
}

impl PolicySource {
    pub fn label(&self) -> String {
        match self {
            PolicySource::File(p) => p.display().to_string(),
            PolicySource::Builtin(name) => (*name).to_string(),
            PolicySource::AskForEverything => {
                "(no policy: every call of a listed tool needs approval)".into()
            }
        }
    }
}

impl Config {
    /// The configuration used when no file exists: the demo Pusher server under the shipped policy.
    pub fn builtin_default() -> Self {
        let mut servers = BTreeMap::new();
        servers.insert(
            "pusher".to_string(),
            ServerEntry {
                kind: None,
                command: None,
                args: Vec::new(),
                env: BTreeMap::new(),
                cwd: None,
                roots: None,
                url: None,
                headers: BTreeMap::new(),
                builtin: Some("demo-pusher".into()),
                policy: Some(PUSHER_POLICY_NAME.into()),
                extra: BTreeMap::new(),
            },
        );
        Config {
            gate: GateSettings::default(),
            servers,
            grants: BTreeMap::new(),
            source: None,
            warnings: Vec::new(),
        }
    }

    /// Reads and checks a config file at start: the text (every problem at once, see
    /// `config/check/`) and what it names on this machine (stdio commands on `PATH`,
    /// policy files that exist and load).
    pub fn load(path: &Path) -> Result<Self, GateError> {
        let text = std::fs::read_to_string(path).map_err(|source| GateError::ConfigRead {
            path: path.to_path_buf(),
            source,
        })?;
        Self::check(&text, Some(path), Environment::Check).map_err(GateError::ConfigProblems)
    }

    /// Parses config text and checks the text alone (nothing on disk); `path` is used for
    /// messages and to resolve relative paths.
    pub fn parse(text: &str, path: Option<&Path>) -> Result<Self, GateError> {
        Self::check(text, path, Environment::Skip).map_err(GateError::ConfigProblems)
    }

    /// Checks config text, returning the config (with its warnings in [`Config::warnings`]) or
    /// every error and warning found, in source order.
    pub fn check(
        text: &str,
        path: Option<&Path>,
        environment: Environment,
    ) -> Result<Self, Diagnostics> {
        let shown = path.map_or_else(|| "<config>".to_string(), |p| p.display().to_string());
        let base_dir = path
            .and_then(Path::parent)
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let tree = airlock_policy::json::parse(text)
            .map_err(|err| Diagnostics(vec![Diagnostic::new(&shown, err.pos, "", err.message)]))?;
        let problems = check::check(&tree, &shown, &base_dir, environment);
        if problems.iter().any(|d| d.severity == Severity::Error) {
            return Err(Diagnostics(problems));
        }
        let mut config: Config = serde_json::from_value(tree.to_value()).map_err(|err| {
            // The checker covers every field serde reads; this is a safety net.
            Diagnostics(vec![Diagnostic::new(&shown, tree.pos, "", err.to_string())])
        })?;
        config.source = path.map(Path::to_path_buf);
        config.warnings = problems;
        Ok(config)
    }

    /// The directory relative paths resolve against.
    pub fn base_dir(&self) -> PathBuf {
        self.source
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    }

    /// Resolves a policy reference from the config.
    pub fn policy_source(&self, reference: Option<&str>) -> PolicySource {
        match reference {
            None => PolicySource::AskForEverything,
            Some(PUSHER_POLICY_NAME) => PolicySource::Builtin(PUSHER_POLICY_NAME),
            Some(path) => {
                let path = Path::new(path);
                if path.is_absolute() {
                    PolicySource::File(path.to_path_buf())
                } else {
                    PolicySource::File(self.base_dir().join(path))
                }
            }
        }
    }
}

impl ServerEntry {
    /// Works out the transport, or says what is wrong with the entry.
    pub fn upstream(&self, name: &str) -> Result<UpstreamKind, String> {
        let kind = self.kind.as_deref();
        if let Some(builtin) = &self.builtin {
            return match builtin.as_str() {
                "demo-pusher" => Ok(UpstreamKind::DemoPusher),
                other => Err(format!(
                    "mcpServers.{name}.builtin `{other}` is unknown; the built-in server is `demo-pusher`"
                )),
            };
        }
        match (kind, &self.command, &self.url) {
            (None | Some("stdio"), Some(command), None) => Ok(UpstreamKind::Stdio(StdioCommand {
                command: command.clone(),
                args: self.args.clone(),
                env: self.env.clone(),
                cwd: self.cwd.clone(),
            })),
            (None | Some("http" | "streamable-http" | "streamableHttp"), None, Some(url)) => {
                Ok(UpstreamKind::StreamableHttp {
                    url: url.clone(),
                    headers: self.headers.clone(),
                })
            }
            (Some("sse"), None, Some(url)) => Ok(UpstreamKind::LegacySse {
                url: url.clone(),
                headers: self.headers.clone(),
            }),
            (Some(other), _, _)
                if !matches!(
                    other,
                    "stdio" | "http" | "streamable-http" | "streamableHttp" | "sse"
                ) =>
            {
                Err(format!(
                    "mcpServers.{name}.type `{other}` is unknown; expected `stdio`, `http` or `sse`"
                ))
            }
            (_, Some(_), Some(_)) => Err(format!(
                "mcpServers.{name} has both `command` and `url`; keep one"
            )),
            _ => Err(format!(
                "mcpServers.{name} needs `command` (a stdio server) or `url` (an HTTP server)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_default_uses_the_demo_and_the_shipped_policy() {
        let config = Config::builtin_default();
        let pusher = &config.servers["pusher"];
        assert_eq!(pusher.upstream("pusher"), Ok(UpstreamKind::DemoPusher));
        assert_eq!(
            config.policy_source(pusher.policy.as_deref()),
            PolicySource::Builtin(PUSHER_POLICY_NAME)
        );
        assert!(config.gate.listen.ip().is_loopback());
    }

    #[test]
    fn claude_desktop_shape_loads_with_extras_ignored() {
        let text = r#"{"mcpServers": {
            "files": {"command": "npx", "args": ["-y", "server-filesystem", "/tmp"], "env": {"A": "1"},
                      "disabled": false, "policy": "files.json"},
            "remote": {"type": "http", "url": "http://127.0.0.1:9/mcp", "headers": {"X": "y"}},
            "old": {"type": "sse", "url": "http://127.0.0.1:9/sse"}
        }}"#;
        let config = Config::parse(text, Some(Path::new("/etc/airlock/config.json"))).unwrap();
        assert!(matches!(
            config.servers["files"].upstream("files"),
            Ok(UpstreamKind::Stdio { .. })
        ));
        assert!(matches!(
            config.servers["remote"].upstream("remote"),
            Ok(UpstreamKind::StreamableHttp { .. })
        ));
        assert!(matches!(
            config.servers["old"].upstream("old"),
            Ok(UpstreamKind::LegacySse { .. })
        ));
        assert_eq!(
            config.policy_source(config.servers["files"].policy.as_deref()),
            PolicySource::File(PathBuf::from("/etc/airlock/files.json"))
        );
        assert_eq!(config.policy_source(None), PolicySource::AskForEverything);
    }

    #[test]
    fn unknown_gate_field_is_an_error_with_position() {
        let err = Config::parse("{\"gate\": {\"listne\": \"x\"}}", None).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("1:"), "{text}");
        assert!(text.contains("unknown field `listne`"), "{text}");
    }

    #[test]
    fn non_loopback_listen_needs_opt_in_and_grants() {
        let err = Config::parse(r#"{"gate": {"listen": "0.0.0.0:4141"}}"#, None).unwrap_err();
        assert!(err.to_string().contains("not a loopback address"), "{err}");
        let err = Config::parse(
            r#"{"gate": {"listen": "0.0.0.0:4141", "allow_non_loopback": true}}"#,
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("needs grants"), "{err}");
        let hash = "0".repeat(64);
        let with_grants = format!(
            r#"{{"gate": {{"listen": "0.0.0.0:4141", "allow_non_loopback": true}},
                "grants": {{"ci": {{"token_sha256": "{hash}"}}}}}}"#
        );
        let err = Config::parse(&with_grants, None).unwrap_err();
        assert!(err.to_string().contains("gate.require_grants"), "{err}");
        let required = with_grants.replace(
            r#""allow_non_loopback": true"#,
            r#""allow_non_loopback": true, "require_grants": true"#,
        );
        assert!(Config::parse(&required, None).unwrap().gate.require_grants);
    }

    #[test]
    fn server_entry_errors_name_the_server() {
        let err = Config::parse(r#"{"mcpServers": {"x": {"args": []}}}"#, None).unwrap_err();
        assert!(
            err.to_string()
                .contains("<config>:1:22: /mcpServers/x: needs `command`"),
            "{err}"
        );
        let err = Config::parse(r#"{"mcpServers": {"x": {"type": "ws", "url": "u"}}}"#, None)
            .unwrap_err();
        assert!(err.to_string().contains("unknown type `ws`"), "{err}");
    }

    #[test]
    fn grant_hash_must_be_hex_sha256() {
        let err =
            Config::parse(r#"{"grants": {"a": {"token_sha256": "nothex"}}}"#, None).unwrap_err();
        assert!(err.to_string().contains("64 hex digits"), "{err}");
    }

    fn problems(text: &str, environment: Environment) -> Vec<String> {
        match Config::check(text, Some(Path::new("c.json")), environment) {
            Ok(config) => config.warnings.iter().map(ToString::to_string).collect(),
            Err(problems) => problems.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn every_problem_at_every_level_is_reported_in_one_run() {
        let text = r#"{
"gate": {"listne": "127.0.0.1:1", "offer_tasks": "yes", "redact": {"pattern": []}},
"mcpServers": {
  "a": {"comand": "x", "type": "htp", "url": "http://h/mcp"},
  "b": {"url": "file:///etc/passwd"},
  "b c": {"builtin": "demo"}
},
"grants": {"g": {"token_sha256": 1, "servers": {"aa": null}, "descripton": ""}},
"gate": {}
}"#;
        let got = problems(text, Environment::Skip);
        let expected = [
            "c.json:2:10: /gate/listne: unknown field `listne`\n  = help: did you mean `listen`?",
            "c.json:2:50: /gate/offer_tasks: expected `true` or `false`, found a string",
            "c.json:2:68: /gate/redact/pattern: unknown field `pattern`\n  = help: did you mean `patterns`?",
            "c.json:4:9: warning: /mcpServers/a/comand: unknown field `comand`\n  = help: did you mean `command`?",
            "c.json:4:32: /mcpServers/a/type: unknown type `htp`\n  = help: did you mean `http`?",
            "c.json:5:16: /mcpServers/b/url: `file:///etc/passwd` is not an http or https URL (scheme `file`)",
            "c.json:6:3: /mcpServers/b c: server name `b c` must be non-empty",
            "c.json:6:22: /mcpServers/b c/builtin: unknown built-in server `demo`",
            "c.json:8:34: /grants/g/token_sha256: expected a string, found a number",
            "c.json:8:49: /grants/g/servers/aa: `aa` is not in `mcpServers`\n  = help: did you mean `a`?",
            "c.json:8:62: /grants/g/descripton: unknown field `descripton`\n  = help: did you mean `description`?",
            "c.json:9:1: /gate: duplicate field `gate`",
        ];
        for (want, line) in expected.iter().zip(&got) {
            assert!(
                line.starts_with(want),
                "want `{want}`, got `{line}`\nall: {got:#?}"
            );
        }
        assert_eq!(got.len(), expected.len(), "{got:#?}");
    }

    #[test]
    fn commands_and_policies_are_checked_only_with_the_environment() {
        let text = r#"{"mcpServers": {"x": {"command": "airlock-no-such-command-x1", "policy": "nope.json"}}}"#;
        assert!(problems(text, Environment::Skip).is_empty());
        let got = problems(text, Environment::Check);
        assert_eq!(got.len(), 2, "{got:#?}");
        assert!(got[0].contains("command `airlock-no-such-command-x1` is not found on PATH"));
        assert!(got[1].contains("/mcpServers/x/policy: cannot read policy `nope.json`"));
    }

    #[test]
    fn a_config_without_servers_loads_with_a_warning() {
        let config = Config::parse("{}", None).unwrap();
        assert!(config.servers.is_empty());
        assert_eq!(config.warnings.len(), 1);
        assert!(
            config.warnings[0]
                .to_string()
                .starts_with("<config>:1:1: warning: no servers are configured"),
            "{:?}",
            config.warnings
        );
    }

    #[test]
    fn the_guard_is_on_unless_turned_off_and_turning_it_off_is_warned_about() {
        let servers = r#""mcpServers": {"s": {"builtin": "demo-pusher"}}"#;
        let on = Config::parse(&format!("{{{servers}}}"), None).unwrap();
        assert!(on.gate.guard_own_files && on.warnings.is_empty());
        let off = Config::parse(
            &format!("{{\"gate\": {{\"guard_own_files\": false}}, {servers}}}"),
            None,
        )
        .unwrap();
        assert!(!off.gate.guard_own_files);
        let warning = off.warnings[0].to_string();
        assert!(
            warning.starts_with("<config>:1:30: warning: /gate/guard_own_files: the guard of Airlock's own files is off"),
            "{warning}"
        );
        let bad = Config::parse(r#"{"gate": {"guard_own_files": "no"}}"#, None).unwrap_err();
        assert!(bad.to_string().contains("/gate/guard_own_files"), "{bad}");
    }

    #[cfg(unix)]
    #[test]
    fn a_relative_command_is_found_under_a_cwd_relative_to_the_config_folder() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("bin")).unwrap();
        let tool = dir.path().join("bin/tool");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        let text = r#"{"mcpServers": {"x": {"command": "./tool", "cwd": "bin"}}}"#;
        let path = dir.path().join("config.json");
        let config = Config::check(text, Some(&path), Environment::Check).unwrap();
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
        let text = r#"{"mcpServers": {"x": {"command": "./tool"}}}"#;
        let err = Config::check(text, Some(&path), Environment::Check).unwrap_err();
        assert!(err.to_string().contains("`./tool` is not found"), "{err}");
    }

    #[test]
    fn a_request_timeout_beyond_the_default_longest_time_is_an_error() {
        let got = problems(
            r#"{"gate": {"request_timeout": "1h"}, "mcpServers": {}}"#,
            Environment::Skip,
        );
        assert!(
            got[0].starts_with(
                "c.json:1:30: /gate/request_timeout: `max_request_time` (30m) is shorter than `request_timeout` (1h)"
            ),
            "{got:#?}"
        );
    }
}
