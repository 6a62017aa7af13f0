//! Checks of server entries (transport, URL, command, policy) and grants.

use std::path::PathBuf;

use airlock_policy::json::{Key, Kind, Spanned};
use airlock_policy::{Policy, did_you_mean};

use super::{
    Checker, Environment, GRANT_FIELDS, SERVER_FIELDS, TYPES, child, get, members, string,
};
use crate::config::PUSHER_POLICY_NAME;

impl Checker<'_> {
    pub(super) fn server(&mut self, key: &Key, entry: &Spanned) {
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
            // Relative to the config file's folder, as `upstreams.rs` starts it.
            Some(dir) => self.base_dir.join(dir),
            None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        };
        if which::which_in(command, path_var, &cwd).is_err() {
            let (message, hint) = if command.contains(['/', '\\']) {
                (
                    format!(
                        "command `{command}` is not found (looked in `{}`)",
                        cwd.display()
                    ),
                    "no executable file exists at that path; a relative one is read against the entry's `cwd`",
                )
            } else {
                (
                    format!("command `{command}` is not found on PATH"),
                    "install it, or write its full path",
                )
            };
            self.error(value.pos, at, message, Some(hint.to_string()));
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

    pub(super) fn grant(&mut self, key: &Key, grant: &Spanned, servers: &[&str]) {
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
