//! The semantic difference of two configs: what a new version would let agents reach or do that
//! the one in force does not, in the same terms as a policy diff ([`airlock_policy::diff`]).
//!
//! Looser: a new server, a server that runs or reaches something else (command, arguments,
//! environment, URL, headers), roots widened, a server decided by another policy file, a new
//! grant or token, a grant let onto more servers, `require_grants` switched off, a listen address
//! beyond loopback, more accepted origins or hosts, another data dir (where the copies of the
//! policies in force are kept), fewer redaction rules, and any other setting of `gate` that
//! changed (fail closed: not provably tighter). Tighter: the reverse of each, where it is one.
//! Fields other tools put in a server entry are ignored, as the gate ignores them.
//!
//! Policy files are compared by the reference the config writes (`policies/x.json`), not by the
//! path it resolves to, so two versions of a config in different places (a checkout and
//! `git show HEAD:config.json > /tmp/old.json`) compare as they are written.

use std::collections::{BTreeMap, BTreeSet};

use airlock_policy::{Change, Direction, PolicyDiff};
use serde_json::Value;

use super::{Config, GateSettings, GrantEntry, ServerEntry};

fn push(out: &mut Vec<Change>, direction: Direction, pointer: String, text: String) {
    out.push(Change {
        direction,
        pointer,
        text,
    });
}

fn token(s: &str) -> String {
    airlock_policy::escape_token(s)
}

/// Compares `new` with `old` (the config in force).
pub fn diff(old: &Config, new: &Config) -> PolicyDiff {
    let mut out = Vec::new();
    gate(&old.gate, &new.gate, &mut out);
    for (name, a) in &old.servers {
        let pointer = format!("/mcpServers/{}", token(name));
        match new.servers.get(name) {
            None => push(
                &mut out,
                Direction::Tighter,
                pointer,
                format!("server `{name}` would be removed"),
            ),
            Some(b) => server(name, &pointer, a, b, &mut out),
        }
    }
    for (name, b) in &new.servers {
        if !old.servers.contains_key(name) {
            let pointer = format!("/mcpServers/{}", token(name));
            let policy = b.policy.as_deref().map_or_else(
                || "no policy: every call asks a human".to_owned(),
                |p| format!("policy `{p}`"),
            );
            let text = format!("server `{name}` would be added ({}, {policy})", reach(b));
            push(&mut out, Direction::Looser, pointer, text);
        }
    }
    for (name, a) in &old.grants {
        let pointer = format!("/grants/{}", token(name));
        match new.grants.get(name) {
            None => push(
                &mut out,
                Direction::Tighter,
                pointer,
                format!("grant `{name}` would be removed: its token no longer gets in"),
            ),
            Some(b) => grant(name, &pointer, a, b, &mut out),
        }
    }
    for (name, b) in &new.grants {
        if !old.grants.contains_key(name) {
            let servers = match &b.servers {
                None => "every server".to_owned(),
                Some(s) => list(s.keys()),
            };
            push(
                &mut out,
                Direction::Looser,
                format!("/grants/{}", token(name)),
                format!("grant `{name}` would be added, with access to {servers}"),
            );
        }
    }
    PolicyDiff::from_changes(out)
}

fn list<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<String> = names.map(|n| format!("`{n}`")).collect();
    if names.is_empty() {
        "no server".to_owned()
    } else {
        names.join(", ")
    }
}

/// How a server is reached, in a few words.
fn reach(s: &ServerEntry) -> String {
    if let Some(b) = &s.builtin {
        return format!("built-in `{b}`");
    }
    if let Some(url) = &s.url {
        return format!("`{url}`");
    }
    let mut command = s.command.clone().unwrap_or_default();
    for a in &s.args {
        command.push(' ');
        command.push_str(a);
    }
    format!("`{command}`")
}

fn server(name: &str, pointer: &str, a: &ServerEntry, b: &ServerEntry, out: &mut Vec<Change>) {
    // What runs, or what is reached, and with which secrets: another program behind the name.
    let ran = |s: &ServerEntry| {
        (
            s.kind.clone(),
            s.command.clone(),
            s.args.clone(),
            s.env.clone(),
            s.cwd.clone(),
            s.url.clone(),
            s.headers.clone(),
            s.builtin.clone(),
        )
    };
    if ran(a) != ran(b) {
        let text = format!(
            "server `{name}` would run or reach something else: {} instead of {}",
            reach(b),
            reach(a)
        );
        push(out, Direction::Looser, pointer.to_owned(), text);
    }
    match (&a.roots, &b.roots) {
        (Some(x), Some(y)) => {
            for root in y.iter().filter(|r| !x.contains(r)) {
                let text = format!("server `{name}` would work under `{root}` too (roots)");
                push(out, Direction::Looser, format!("{pointer}/roots"), text);
            }
            for root in x.iter().filter(|r| !y.contains(r)) {
                let text = format!("server `{name}` would no longer work under `{root}` (roots)");
                push(out, Direction::Tighter, format!("{pointer}/roots"), text);
            }
        }
        (x, y) if x != y => {
            // Roots and the server's `cwd` stand in for each other: not comparable.
            let text = format!("server `{name}` would resolve paths against other roots");
            push(out, Direction::Looser, format!("{pointer}/roots"), text);
        }
        _ => {}
    }
    if a.policy != b.policy {
        let named = |p: &Option<String>| {
            p.as_deref()
                .map_or_else(|| "no policy".to_owned(), |p| format!("`{p}`"))
        };
        let text = format!(
            "server `{name}` would be decided by {} instead of {} (compare them with `airlock check --diff`)",
            named(&b.policy),
            named(&a.policy)
        );
        push(out, Direction::Looser, format!("{pointer}/policy"), text);
    }
}

fn grant(name: &str, pointer: &str, a: &GrantEntry, b: &GrantEntry, out: &mut Vec<Change>) {
    if a.token_sha256 != b.token_sha256 {
        let text = format!("grant `{name}` would accept another token");
        push(
            out,
            Direction::Looser,
            format!("{pointer}/token_sha256"),
            text,
        );
    }
    let pointer = format!("{pointer}/servers");
    match (&a.servers, &b.servers) {
        (None, None) => {}
        (Some(_), None) => {
            let text = format!("grant `{name}` would reach every server");
            push(out, Direction::Looser, pointer, text);
        }
        (None, Some(y)) => {
            let text = format!("grant `{name}` would reach only {}", list(y.keys()));
            push(out, Direction::Tighter, pointer, text);
        }
        (Some(x), Some(y)) => grant_servers(name, &pointer, x, y, out),
    }
}

fn grant_servers(
    name: &str,
    pointer: &str,
    old: &BTreeMap<String, Option<String>>,
    new: &BTreeMap<String, Option<String>>,
    out: &mut Vec<Change>,
) {
    for (server, policy) in new {
        let at = format!("{pointer}/{}", token(server));
        match old.get(server) {
            None => push(
                out,
                Direction::Looser,
                at,
                format!("grant `{name}` would reach server `{server}`"),
            ),
            Some(before) if before != policy => push(
                out,
                Direction::Looser,
                at,
                format!(
                    "grant `{name}` would be decided on `{server}` by {} instead of {}",
                    policy
                        .as_deref()
                        .map_or("the server's policy".to_owned(), |p| format!("`{p}`")),
                    before
                        .as_deref()
                        .map_or("the server's policy".to_owned(), |p| format!("`{p}`"))
                ),
            ),
            Some(_) => {}
        }
    }
    for server in old.keys().filter(|s| !new.contains_key(*s)) {
        push(
            out,
            Direction::Tighter,
            format!("{pointer}/{}", token(server)),
            format!("grant `{name}` would no longer reach server `{server}`"),
        );
    }
}

fn gate(a: &GateSettings, b: &GateSettings, out: &mut Vec<Change>) {
    let flag =
        |out: &mut Vec<Change>, field: &str, before: bool, after: bool, on_is_tighter: bool| {
            if before != after {
                let direction = if after == on_is_tighter {
                    Direction::Tighter
                } else {
                    Direction::Looser
                };
                let state = if after { "on" } else { "off" };
                let text = format!("`gate.{field}` would be {state}");
                push(out, direction, format!("/gate/{field}"), text);
            }
        };
    if a.require_grants != b.require_grants {
        let (direction, text) = if b.require_grants {
            (
                Direction::Tighter,
                "agents without a grant token would be refused (`gate.require_grants` on)",
            )
        } else {
            (
                Direction::Looser,
                "agents without a grant token would be let in (`gate.require_grants` off)",
            )
        };
        push(
            out,
            direction,
            "/gate/require_grants".to_owned(),
            text.to_owned(),
        );
    }
    flag(
        out,
        "allow_non_loopback",
        a.allow_non_loopback,
        b.allow_non_loopback,
        false,
    );
    if a.listen != b.listen {
        let direction = if b.listen.ip().is_loopback() {
            Direction::Tighter
        } else {
            Direction::Looser
        };
        let text = format!(
            "the gate would listen on `{}` instead of `{}`",
            b.listen, a.listen
        );
        push(out, direction, "/gate/listen".to_owned(), text);
    }
    for (field, x, y, what) in [
        (
            "allowed_origins",
            &a.allowed_origins,
            &b.allowed_origins,
            "origin",
        ),
        ("allowed_hosts", &a.allowed_hosts, &b.allowed_hosts, "host"),
        (
            "redact/keys",
            &a.redact.keys,
            &b.redact.keys,
            "redacted key",
        ),
        (
            "redact/patterns",
            &a.redact.patterns,
            &b.redact.patterns,
            "redaction pattern",
        ),
    ] {
        let (x, y): (BTreeSet<&String>, BTreeSet<&String>) =
            (x.iter().collect(), y.iter().collect());
        // More origins and hosts widen who may call; fewer redaction rules keep more secrets.
        let more_is_looser = !field.starts_with("redact");
        for added in y.difference(&x) {
            let direction = if more_is_looser {
                Direction::Looser
            } else {
                Direction::Tighter
            };
            let text = format!(
                "the {what} `{added}` would be added (`gate.{}`)",
                field.replace('/', ".")
            );
            push(out, direction, format!("/gate/{field}"), text);
        }
        for removed in x.difference(&y) {
            let direction = if more_is_looser {
                Direction::Tighter
            } else {
                Direction::Looser
            };
            let text = format!(
                "the {what} `{removed}` would be removed (`gate.{}`)",
                field.replace('/', ".")
            );
            push(out, direction, format!("/gate/{field}"), text);
        }
    }
    if a.data_dir != b.data_dir {
        let text = "the gate would keep its history, token and the copies of the policies in force in another data dir".to_owned();
        push(out, Direction::Looser, "/gate/data_dir".to_owned(), text);
    }
    // Every other setting: compared as written, and looser when it changed (not provably tighter).
    let rest = |g: &GateSettings| {
        let mut v = serde_json::to_value(g).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut v {
            for known in [
                "require_grants",
                "allow_non_loopback",
                "listen",
                "allowed_origins",
                "allowed_hosts",
                "redact",
                "data_dir",
            ] {
                map.remove(known);
            }
        }
        v
    };
    if let (Value::Object(x), Value::Object(y)) = (rest(a), rest(b)) {
        for (field, before) in &x {
            let after = y.get(field).unwrap_or(&Value::Null);
            if after != before {
                let text = format!("`gate.{field}` would change from {before} to {after}");
                push(out, Direction::Looser, format!("/gate/{field}"), text);
            }
        }
    }
}
