//! Strict checking of the config file, in the style of the policy checker (`airlock-policy`):
//! the text is read into the policy crate's spanned JSON tree, every field at every level is
//! checked, and every problem is reported at once with file, line, column, JSON Pointer and a
//! hint ("did you mean" for unknown fields). Only a tree without errors is handed to serde for
//! the typed [`Config`](crate::Config).
//!
//! With [`Environment::Check`], what depends on the machine is checked too: stdio commands are
//! found on `PATH` (or exist as a path), policy files exist and load (their own errors are
//! reported with their own file).

use std::net::SocketAddr;
use std::path::Path;

use airlock_policy::json::{Key, Kind, Pos, Spanned};
use airlock_policy::{Diagnostic, did_you_mean, escape_token};

use crate::duration::parse_duration;

mod entries;

const TOP_FIELDS: &[&str] = &["gate", "mcpServers", "grants"];
const GATE_FIELDS: &[&str] = &[
    "listen",
    "allow_non_loopback",
    "require_grants",
    "allowed_origins",
    "allowed_hosts",
    "hold_seconds",
    "approval_timeout",
    "offer_tasks",
    "session_idle_timeout",
    "request_timeout",
    "max_request_time",
    "body_timeout",
    "max_sessions_per_server",
    "data_dir",
    "max_body_bytes",
    "redact",
    "on_tool_change",
    "guard_own_files",
];
const REDACT_FIELDS: &[&str] = &["keys", "patterns"];
const SERVER_FIELDS: &[&str] = &[
    "type", "command", "args", "env", "cwd", "roots", "url", "headers", "builtin", "policy",
];
const GRANT_FIELDS: &[&str] = &["token_sha256", "servers", "description"];
const TYPES: &[&str] = &["stdio", "http", "streamable-http", "streamableHttp", "sse"];
const DURATIONS: &[&str] = &[
    "approval_timeout",
    "session_idle_timeout",
    "request_timeout",
    "max_request_time",
    "body_timeout",
];

/// Whether checks that depend on this machine (commands on `PATH`, policy files) run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// Only the text: what [`Config::parse`](crate::Config::parse) does.
    Skip,
    /// Also commands and policy files: what [`Config::load`](crate::Config::load) does at start.
    Check,
}

/// Every problem found in the config text, errors and warnings, in source order.
pub(crate) fn check(
    tree: &Spanned,
    file: &str,
    base_dir: &Path,
    environment: Environment,
) -> Vec<Diagnostic> {
    let mut c = Checker {
        file,
        base_dir,
        environment,
        diags: Vec::new(),
        nested: Vec::new(),
    };
    c.document(tree);
    c.diags.sort_by_key(|d| (d.line, d.column));
    // A policy's own problems follow the config line that names the policy.
    let mut out = Vec::with_capacity(c.diags.len());
    let mut nested = c.nested.into_iter().peekable();
    for d in c.diags {
        let at = (d.line, d.column);
        while let Some((_, group)) = nested.next_if(|(anchor, _)| *anchor < at) {
            out.extend(group);
        }
        out.push(d);
    }
    out.extend(nested.flat_map(|(_, group)| group));
    out
}

struct Checker<'a> {
    file: &'a str,
    base_dir: &'a Path,
    environment: Environment,
    diags: Vec<Diagnostic>,
    /// Problems of the policy files the config names, each group with the position (line,
    /// column) of the reference; checked in source order, so already sorted.
    nested: Vec<((u32, u32), Vec<Diagnostic>)>,
}

fn child(pointer: &str, token: &str) -> String {
    format!("{pointer}/{}", escape_token(token))
}

fn members(value: &Spanned) -> &[(Key, Spanned)] {
    match &value.kind {
        Kind::Object(m) => m,
        _ => &[],
    }
}

fn get<'v>(value: &'v Spanned, name: &str) -> Option<&'v Spanned> {
    members(value)
        .iter()
        .find(|(k, _)| k.name == name)
        .map(|(_, v)| v)
}

fn string(value: Option<&Spanned>) -> Option<&str> {
    match value.map(|v| &v.kind) {
        Some(Kind::String(s)) => Some(s),
        _ => None,
    }
}

impl Checker<'_> {
    fn error(&mut self, pos: Pos, pointer: &str, message: String, help: Option<String>) {
        let mut d = Diagnostic::new(self.file, pos, pointer, message);
        d.help = help;
        self.diags.push(d);
    }

    fn warn(&mut self, pos: Pos, pointer: &str, message: String, help: Option<String>) {
        let mut d = Diagnostic::warning(self.file, pos, pointer, message);
        d.help = help;
        self.diags.push(d);
    }

    /// Checks that `value` is an object, reports duplicate and unknown keys (errors, or
    /// warnings when `lenient`), and returns whether it was an object.
    fn object(&mut self, value: &Spanned, pointer: &str, known: &[&str], lenient: bool) -> bool {
        let Kind::Object(members) = &value.kind else {
            self.error(
                value.pos,
                pointer,
                format!("expected an object, found {}", value.kind.describe()),
                None,
            );
            return false;
        };
        let mut seen = std::collections::HashSet::new();
        for (key, _) in members {
            let at = child(pointer, &key.name);
            if !seen.insert(key.name.as_str()) {
                self.error(
                    key.pos,
                    &at,
                    format!("duplicate field `{}`", key.name),
                    Some("keep one; JSON readers disagree on which one wins".into()),
                );
            }
            if known.is_empty() || known.contains(&key.name.as_str()) {
                continue;
            }
            let hint = did_you_mean(&key.name, known);
            if lenient {
                let hint = hint.or_else(|| Some("kept and ignored by Airlock".into()));
                self.warn(key.pos, &at, format!("unknown field `{}`", key.name), hint);
            } else {
                let hint = hint.or_else(|| Some(format!("expected one of {}", list(known))));
                self.error(key.pos, &at, format!("unknown field `{}`", key.name), hint);
            }
        }
        true
    }

    fn expect_string<'v>(&mut self, value: &'v Spanned, pointer: &str) -> Option<&'v str> {
        match &value.kind {
            Kind::String(s) => Some(s),
            other => {
                self.error(
                    value.pos,
                    pointer,
                    format!("expected a string, found {}", other.describe()),
                    None,
                );
                None
            }
        }
    }

    fn expect_bool(&mut self, value: &Spanned, pointer: &str) {
        if !matches!(value.kind, Kind::Bool(_)) {
            let found = value.kind.describe();
            self.error(
                value.pos,
                pointer,
                format!("expected `true` or `false`, found {found}"),
                None,
            );
        }
    }

    fn expect_count(&mut self, value: &Spanned, pointer: &str) -> Option<u64> {
        match &value.kind {
            Kind::Number(n) if n.as_u64().is_some() => n.as_u64(),
            other => {
                let found = match other {
                    Kind::Number(n) => format!("`{n}`"),
                    other => other.describe().to_string(),
                };
                self.error(
                    value.pos,
                    pointer,
                    format!("expected a whole number of 0 or more, found {found}"),
                    None,
                );
                None
            }
        }
    }

    fn expect_strings(&mut self, value: &Spanned, pointer: &str) {
        match &value.kind {
            Kind::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.expect_string(item, &child(pointer, &i.to_string()));
                }
            }
            other => {
                let found = other.describe();
                self.error(
                    value.pos,
                    pointer,
                    format!("expected an array of strings, found {found}"),
                    None,
                );
            }
        }
    }

    fn expect_string_map(&mut self, value: &Spanned, pointer: &str) {
        if self.object(value, pointer, &[], false) {
            for (key, v) in members(value) {
                self.expect_string(v, &child(pointer, &key.name));
            }
        }
    }

    fn document(&mut self, tree: &Spanned) {
        if !self.object(tree, "", TOP_FIELDS, false) {
            return;
        }
        if let Some(gate) = get(tree, "gate") {
            self.gate(gate, tree);
        }
        let servers = get(tree, "mcpServers");
        match servers {
            Some(servers) => {
                if self.object(servers, "/mcpServers", &[], false) {
                    for (key, entry) in members(servers) {
                        self.server(key, entry);
                    }
                    if members(servers).is_empty() {
                        self.no_servers(servers.pos, "/mcpServers");
                    }
                }
            }
            None => self.no_servers(tree.pos, ""),
        }
        if let Some(grants) = get(tree, "grants")
            && self.object(grants, "/grants", &[], false)
        {
            let names: Vec<&str> = servers
                .map(members)
                .unwrap_or_default()
                .iter()
                .map(|(k, _)| k.name.as_str())
                .collect();
            for (key, grant) in members(grants) {
                self.grant(key, grant, &names);
            }
        }
    }

    fn no_servers(&mut self, pos: Pos, pointer: &str) {
        self.warn(
            pos,
            pointer,
            "no servers are configured, so agents have nothing to call".into(),
            Some("add an entry under `mcpServers`, e.g. `\"files\": {\"command\": \"npx\", \"args\": [\"-y\", \"@modelcontextprotocol/server-filesystem\", \"/tmp\"]}`".into()),
        );
    }

    fn gate(&mut self, gate: &Spanned, tree: &Spanned) {
        if !self.object(gate, "/gate", GATE_FIELDS, false) {
            return;
        }
        for (key, value) in members(gate) {
            let at = child("/gate", &key.name);
            match key.name.as_str() {
                "listen" => {
                    let Some(text) = self.expect_string(value, &at) else {
                        continue;
                    };
                    match text.parse::<SocketAddr>() {
                        Err(_) => self.error(
                            value.pos,
                            &at,
                            format!("`{text}` is not an address and port"),
                            Some("write e.g. `127.0.0.1:4141`".into()),
                        ),
                        Ok(addr) if !addr.ip().is_loopback() => {
                            self.non_loopback(value, &at, addr, gate, tree)
                        }
                        Ok(_) => {}
                    }
                }
                "allow_non_loopback" | "require_grants" | "offer_tasks" => {
                    self.expect_bool(value, &at)
                }
                "guard_own_files" => {
                    self.expect_bool(value, &at);
                    if matches!(value.kind, Kind::Bool(false)) {
                        self.warn(
                            value.pos,
                            &at,
                            "the guard of Airlock's own files is off: agents' file tools may read the API token and rewrite this config and the policies".into(),
                            Some("remove `guard_own_files` to turn the guard back on".into()),
                        );
                    }
                }
                "allowed_origins" | "allowed_hosts" => self.expect_strings(value, &at),
                "hold_seconds" | "max_body_bytes" => {
                    self.expect_count(value, &at);
                }
                "max_sessions_per_server" if self.expect_count(value, &at) == Some(0) => {
                    self.error(
                        value.pos,
                        &at,
                        "must be at least 1 (0 would refuse every agent)".into(),
                        None,
                    );
                }
                "max_sessions_per_server" => {}
                "data_dir" => {
                    self.expect_string(value, &at);
                }
                "redact" if self.object(value, &at, REDACT_FIELDS, false) => {
                    for (k, v) in members(value) {
                        self.expect_strings(v, &child(&at, &k.name));
                    }
                }
                "redact" => {}
                "on_tool_change" => {
                    let names = crate::config::OnToolChange::NAMES;
                    if let Some(text) = self.expect_string(value, &at)
                        && !names.contains(&text)
                    {
                        let hint = did_you_mean(text, names)
                            .unwrap_or_else(|| "expected `hold`, `ask` or `allow`".into());
                        self.error(
                            value.pos,
                            &at,
                            format!("unknown value `{text}`"),
                            Some(hint),
                        );
                    }
                }
                name if DURATIONS.contains(&name) => {
                    let Some(text) = self.expect_string(value, &at) else {
                        continue;
                    };
                    let parsed = parse_duration(text);
                    let zero_ok = name == "approval_timeout";
                    if parsed.is_none_or(|d| d.is_zero() && !zero_ok) {
                        self.error(
                            value.pos,
                            &at,
                            format!("`{text}` is not a positive duration"),
                            Some("write e.g. `30s`, `10m` or `1h`".into()),
                        );
                    }
                }
                _ => {}
            }
        }
        // Either may be left at its default; the pair is checked as the gate will use it.
        let defaults = crate::config::GateSettings::default();
        let duration = |name: &str, default: &str| {
            string(get(gate, name)).map_or_else(|| parse_duration(default), parse_duration)
        };
        let max = duration("max_request_time", &defaults.max_request_time);
        let timeout = duration("request_timeout", &defaults.request_timeout);
        if let (Some(max), Some(timeout)) = (max, timeout)
            && max < timeout
        {
            let (pointer, value) = match get(gate, "max_request_time") {
                Some(value) => ("/gate/max_request_time", value),
                None => (
                    "/gate/request_timeout",
                    get(gate, "request_timeout").unwrap_or(gate),
                ),
            };
            self.error(
                value.pos,
                pointer,
                format!(
                    "`max_request_time` ({}) is shorter than `request_timeout` ({}); the longest request time must be at least the timeout",
                    humanize(max),
                    humanize(timeout)
                ),
                None,
            );
        }
    }

    fn non_loopback(
        &mut self,
        value: &Spanned,
        at: &str,
        addr: SocketAddr,
        gate: &Spanned,
        tree: &Spanned,
    ) {
        let allowed = matches!(
            get(gate, "allow_non_loopback").map(|v| &v.kind),
            Some(Kind::Bool(true))
        );
        if !allowed {
            self.error(
                value.pos,
                at,
                format!("`{addr}` is not a loopback address"),
                Some("set `gate.allow_non_loopback` to true (and configure grants) if you really want other machines to reach the gate".into()),
            );
        } else if get(tree, "grants").is_none_or(|g| members(g).is_empty()) {
            self.error(
                value.pos,
                at,
                "a gate listening beyond loopback needs grants, so strangers cannot use it".into(),
                Some("add an entry under `grants` (see `airlock grants create`)".into()),
            );
        } else if !matches!(
            get(gate, "require_grants").map(|v| &v.kind),
            Some(Kind::Bool(true))
        ) {
            self.error(
                value.pos,
                at,
                "a gate listening beyond loopback needs `gate.require_grants`, so agents without a token cannot use it".into(),
                Some("set `gate.require_grants` to true".into()),
            );
        }
    }
}

/// A duration as written in the config (`90s`, `5m`).
fn humanize(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    if d.subsec_millis() != 0 || secs == 0 {
        format!("{}ms", d.as_millis())
    } else if secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else if secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

fn list(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("`{w}`")).collect();
    quoted.join(", ")
}
