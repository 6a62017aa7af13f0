//! The semantic diff of two configs: what would widen what agents may reach is looser, its
//! reverse tighter, and a config never differs from itself.

#![allow(
    clippy::unwrap_used,
    reason = "tests: a failure must fail the test loudly"
)]

use airlock_gate::Config;
use airlock_gate::config::diff::diff;
use airlock_policy::Direction;
use serde_json::{Value, json};

fn config(v: &Value) -> Config {
    Config::parse(&v.to_string(), None).unwrap()
}

fn base() -> Value {
    json!({
        "gate": {"require_grants": true},
        "mcpServers": {
            "files": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"],
                      "roots": ["/tmp"], "policy": "policies/files.json"}
        },
        "grants": {
            "claude": {"token_sha256": "00".repeat(32), "servers": {"files": null}}
        }
    })
}

fn changes(old: &Value, new: &Value) -> Vec<(Direction, String, String)> {
    diff(&config(old), &config(new))
        .changes()
        .iter()
        .map(|c| (c.direction, c.pointer.clone(), c.text.clone()))
        .collect()
}

#[test]
fn a_config_never_differs_from_itself() {
    assert!(diff(&config(&base()), &config(&base())).is_empty());
    let builtin = Config::builtin_default();
    assert!(diff(&builtin, &builtin).is_empty());
}

#[test]
fn what_widens_what_agents_reach_is_looser_and_its_reverse_tighter() {
    let mut wider = base();
    wider["gate"]["require_grants"] = json!(false);
    wider["mcpServers"]["shell"] = json!({"command": "bash", "args": ["-c", "serve"]});
    wider["mcpServers"]["files"]["roots"] = json!(["/tmp", "/home"]);
    wider["grants"]["claude"]
        .as_object_mut()
        .unwrap()
        .remove("servers");
    wider["grants"]["other"] = json!({"token_sha256": "11".repeat(32)});

    let looser = changes(&base(), &wider);
    let texts: Vec<&str> = looser.iter().map(|c| c.2.as_str()).collect();
    assert!(
        looser.iter().all(|c| c.0 == Direction::Looser),
        "{looser:?}"
    );
    for expected in [
        "agents without a grant token would be let in (`gate.require_grants` off)",
        "server `shell` would be added (`bash -c serve`, no policy: every call asks a human)",
        "server `files` would work under `/home` too (roots)",
        "grant `claude` would reach every server",
        "grant `other` would be added, with access to every server",
    ] {
        assert!(texts.contains(&expected), "{expected} not in {texts:?}");
    }
    assert_eq!(looser.len(), 5, "{looser:?}");

    let tighter = changes(&wider, &base());
    assert_eq!(tighter.len(), 5, "{tighter:?}");
    assert!(
        tighter.iter().all(|c| c.0 == Direction::Tighter),
        "{tighter:?}"
    );
}

#[test]
fn another_program_or_policy_behind_a_name_is_looser() {
    let mut other = base();
    other["mcpServers"]["files"]["args"] = json!(["-y", "evil-server"]);
    other["mcpServers"]["files"]["policy"] = json!("/tmp/open.json");
    other["gate"]["hold_seconds"] = json!(5);
    let c = changes(&base(), &other);
    assert_eq!(c.len(), 3, "{c:?}");
    assert!(c.iter().all(|c| c.0 == Direction::Looser), "{c:?}");
    assert!(c.iter().any(|c| c.1 == "/mcpServers/files/policy"), "{c:?}");
    assert!(c.iter().any(|c| c.1 == "/gate/hold_seconds"), "{c:?}");
}
