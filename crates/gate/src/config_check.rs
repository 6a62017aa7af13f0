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
use std::path::{Path, PathBuf};

use airlock_policy::json::{Key, Kind, Pos, Spanned};
use airlock_policy::{Diagnostic, Policy, did_you_mean, escape_token};

use crate::config::PUSHER_POLICY_NAME;
use crate::gate::parse_duration;

const TOP_FIELDS: &[&str] = &["gate", "mcpServers", "grants"];
const GATE_FIELDS: &[&str] = &[
    "listen",
    "allow_non_loopback",
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
                self.error(
                    value.pos,
                    pointer,
                    format!(
                        "expected a whole number of 0 or more, found {}",
                        other.describe()
                    ),
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
                "allow_non_loopback" | "offer_tasks" => self.expect_bool(value, &at),
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
        let duration = |name: &str| string(get(gate, name)).and_then(parse_duration);
        if let (Some(max), Some(timeout)) =
            (duration("max_request_time"), duration("request_timeout"))
            && max < timeout
            && let Some(value) = get(gate, "max_request_time")
        {
            self.error(
                value.pos,
                "/gate/max_request_time",
                "is shorter than `request_timeout`; the longest request time must be at least the timeout".into(),
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
                Some("add an entry under `grants` (see `airlock grant`)".into()),
            );
        }
    }

    fn server(&mut self, key: &Key, entry: &Spanned) {
        let at = child("/mcpServers", &key.name);
        let name = &key.name;
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            self.error(
                key.pos,
                &at,
                format!("server name `{name}` must be non-empty and use only letters, digits, `-`, `_` and `.`"),
                None,
            );
        }
        if !self.object(entry, &at, SERVER_FIELDS, true) {
            return;
        }
        for (k, v) in members(entry) {
            let here = child(&at, &k.name);
            match k.name.as_str() {
                "type" => {
                    if let Some(t) = self.expect_string(v, &here)
                        && !TYPES.contains(&t)
                    {
                        let hint = did_you_mean(t, TYPES)
                            .unwrap_or_else(|| "expected `stdio`, `http` or `sse`".into());
                        self.error(v.pos, &here, format!("unknown type `{t}`"), Some(hint));
                    }
                }
                "command" | "cwd" => {
                    self.expect_string(v, &here);
                }
                "args" | "roots" => self.expect_strings(v, &here),
                "env" | "headers" => self.expect_string_map(v, &here),
                "url" => {
                    if let Some(text) = self.expect_string(v, &here) {
                        self.url(v, &here, text);
                    }
                }
                "builtin" => {
                    if let Some(b) = self.expect_string(v, &here)
                        && b != "demo-pusher"
                    {
                        self.error(
                            v.pos,
                            &here,
                            format!("unknown built-in server `{b}`"),
                            Some("the built-in server is `demo-pusher`".into()),
                        );
                    }
                }
                "policy" => {
                    if let Some(reference) = self.expect_string(v, &here) {
                        self.policy(v, &here, reference);
                    }
                }
                _ => {}
            }
        }
        self.transport(entry, &at);
    }

    /// Which transport the entry describes: exactly one of `builtin`, `command`, `url`.
    fn transport(&mut self, entry: &Spanned, at: &str) {
        let command = get(entry, "command");
        let url = get(entry, "url");
        let kind = string(get(entry, "type"));
        if get(entry, "builtin").is_some() {
            return;
        }
        match (command, url) {
            (Some(_), Some(u)) => self.error(
                u.pos,
                &child(at, "url"),
                "the entry has both `command` and `url`".into(),
                Some("keep `command` for a stdio server or `url` for an HTTP server".into()),
            ),
            (None, None) => self.error(
                entry.pos,
                at,
                "needs `command` (a stdio server) or `url` (an HTTP server)".into(),
                None,
            ),
            (Some(c), None) => {
                if matches!(
                    kind,
                    Some("http" | "streamable-http" | "streamableHttp" | "sse")
                ) {
                    self.error(
                        c.pos,
                        &child(at, "command"),
                        "a `command` needs `type` `stdio` (or no `type`)".into(),
                        Some("an HTTP server is reached with `url`".into()),
                    );
                } else if let Some(command) = string(Some(c)) {
                    self.command(c, &child(at, "command"), command, entry);
                }
            }
            (None, Some(u)) => {
                if kind == Some("stdio") {
                    self.error(
                        u.pos,
                        &child(at, "url"),
                        "a `url` needs `type` `http` or `sse` (or no `type`)".into(),
                        Some("a stdio server is started with `command`".into()),
                    );
                }
            }
        }
    }

    fn url(&mut self, value: &Spanned, at: &str, text: &str) {
        match url::Url::parse(text) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            Ok(u) => self.error(
                value.pos,
                at,
                format!(
                    "`{text}` is not an http or https URL (scheme `{}`)",
                    u.scheme()
                ),
                Some("write e.g. `https://example.com/mcp`".into()),
            ),
            Err(err) => self.error(
                value.pos,
                at,
                format!("`{text}` is not a URL: {err}"),
                Some("write e.g. `https://example.com/mcp`".into()),
            ),
        }
    }

    fn command(&mut self, value: &Spanned, at: &str, command: &str, entry: &Spanned) {
        if self.environment == Environment::Skip {
            return;
        }
        // Look where the gate will: the server's own `PATH` if its `env` sets one, and a
        // relative path against its `cwd` (else the current directory), as the spawn does.
        let path_var = string(get(entry, "env").and_then(|env| get(env, "PATH")))
            .map(std::ffi::OsString::from)
            .or_else(|| std::env::var_os("PATH"));
        let cwd = match string(get(entry, "cwd")) {
            Some(dir) => PathBuf::from(dir),
            None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        };
        if which::which_in(command, path_var, cwd).is_err() {
            let hint = if command.contains(['/', '\\']) {
                "no executable file exists at that path".to_string()
            } else {
                "install it, or write its full path".to_string()
            };
            self.error(
                value.pos,
                at,
                format!("command `{command}` is not found on PATH"),
                Some(hint),
            );
        }
    }

    fn policy(&mut self, value: &Spanned, at: &str, reference: &str) {
        if reference.starts_with("builtin:") {
            if reference != PUSHER_POLICY_NAME {
                self.error(
                    value.pos,
                    at,
                    format!("unknown built-in policy `{reference}`"),
                    Some(format!("the built-in policy is `{PUSHER_POLICY_NAME}`")),
                );
            }
            return;
        }
        if self.environment == Environment::Skip {
            return;
        }
        let path = self.base_dir.join(reference);
        let shown = path.display().to_string();
        match std::fs::read_to_string(&path) {
            Err(err) => self.error(
                value.pos,
                at,
                format!("cannot read policy `{shown}`: {err}"),
                Some("relative policy paths are resolved against the config file's folder".into()),
            ),
            Ok(text) => {
                let anchor = (value.pos.line, value.pos.column);
                match Policy::parse(&text, &shown) {
                    Ok(policy) => self.nested.push((anchor, policy.warnings().to_vec())),
                    Err(problems) => {
                        let count = match problems.len() {
                            1 => "1 problem".to_string(),
                            n => format!("{n} problems"),
                        };
                        self.error(
                            value.pos,
                            at,
                            format!("policy `{shown}` does not load ({count}, below)"),
                            None,
                        );
                        // After the error itself, which sorts at the same position.
                        self.nested.push(((anchor.0, anchor.1 + 1), problems.0));
                    }
                }
            }
        }
    }

    fn grant(&mut self, key: &Key, grant: &Spanned, servers: &[&str]) {
        let at = child("/grants", &key.name);
        if !self.object(grant, &at, GRANT_FIELDS, false) {
            return;
        }
        match get(grant, "token_sha256") {
            None => self.error(grant.pos, &at, "missing field `token_sha256`".into(), None),
            Some(v) => {
                let here = child(&at, "token_sha256");
                if let Some(hash) = self.expect_string(v, &here)
                    && (hash.len() != 64 || !hash.chars().all(|c| c.is_ascii_hexdigit()))
                {
                    self.error(
                        v.pos,
                        &here,
                        "must be 64 hex digits (the SHA-256 of the token)".into(),
                        Some("`airlock grant` writes it for you".into()),
                    );
                }
            }
        }
        if let Some(d) = get(grant, "description") {
            self.expect_string(d, &child(&at, "description"));
        }
        let Some(map) = get(grant, "servers") else {
            return;
        };
        let here = child(&at, "servers");
        if !self.object(map, &here, &[], false) {
            return;
        }
        for (k, v) in members(map) {
            let server_at = child(&here, &k.name);
            if !servers.contains(&k.name.as_str()) {
                self.error(
                    k.pos,
                    &server_at,
                    format!("`{}` is not in `mcpServers`", k.name),
                    did_you_mean(&k.name, servers),
                );
            }
            match &v.kind {
                Kind::Null => {}
                Kind::String(reference) => self.policy(v, &server_at, reference),
                other => self.error(
                    v.pos,
                    &server_at,
                    format!("expected a policy path or null, found {}", other.describe()),
                    None,
                ),
            }
        }
    }
}

fn list(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("`{w}`")).collect();
    quoted.join(", ")
}
