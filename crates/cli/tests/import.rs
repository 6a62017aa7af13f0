//! `airlock import` through the real binary, with HOME pointed at a temp dir holding the config
//! of every supported agent in its real format (fixtures/import): a dry run changes nothing and
//! masks secrets; an import rewrites every agent file and Airlock's config keeping unrelated
//! fields and VS Code's comments, gives the stdio server it can start (`airlock demo-pusher`) a
//! starter policy that `airlock check` accepts; a second import changes nothing; undo restores
//! every file byte for byte.
//!
//! PATH is emptied so the fixtures' `npx`/`uvx` servers fail to start at once: they are imported
//! without a policy, which the output must say.
//!
//! Run: `cargo test -p airlock-cli --test import`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use assert_cmd::Command;
use serde_json::{Value, json};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/import");
const AIRLOCK: &str = env!("CARGO_BIN_EXE_airlock");
const SECRETS: &[&str] = &[
    "desktop-s3cr3t-value",
    "ghp_claude-code-token",
    "sk_test_cursor-secret",
    "lin_api_cursor-secret",
    // Inside `args`: a flag's value and a URL's password.
    "sbp_cursor-args-secret",
    "cursor-url-secret",
    "vscode-fetch-secret",
    "windsurf-ctx7-secret",
];

struct Setup {
    _dir: tempfile::TempDir,
    home: PathBuf,
    project: PathBuf,
    config: PathBuf,
    empty_path: PathBuf,
}

impl Setup {
    fn new() -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let home = dir.path().join("home");
        let project = dir.path().join("project");
        let config = dir.path().join("airlock").join("config.json");
        let empty_path = dir.path().join("empty-bin");
        std::fs::create_dir_all(&empty_path)?;
        let places = [
            (
                "claude_desktop_config.json",
                home.join(".config/Claude/claude_desktop_config.json"),
            ),
            ("claude.json", home.join(".claude.json")),
            ("mcp.json", project.join(".mcp.json")),
            ("cursor_mcp.json", home.join(".cursor/mcp.json")),
            ("cursor_project_mcp.json", project.join(".cursor/mcp.json")),
            ("vscode_mcp.json", project.join(".vscode/mcp.json")),
            (
                "windsurf_mcp_config.json",
                home.join(".codeium/windsurf/mcp_config.json"),
            ),
        ];
        for (fixture, place) in places {
            let text = std::fs::read_to_string(Path::new(FIXTURES).join(fixture))?;
            std::fs::create_dir_all(place.parent().context("no parent")?)?;
            std::fs::write(&place, text.replace("{{AIRLOCK}}", AIRLOCK))?;
        }
        std::fs::create_dir_all(config.parent().context("no parent")?)?;
        std::fs::write(
            &config,
            "{\n  \"gate\": { \"listen\": \"127.0.0.1:4242\", \"hold_seconds\": 40 },\n  \"mcpServers\": {\n    \"demo\": { \"builtin\": \"demo-pusher\", \"policy\": \"builtin:pusher-channels\" }\n  }\n}\n",
        )?;
        Ok(Self {
            _dir: dir,
            home,
            project,
            config,
            empty_path,
        })
    }

    fn airlock(&self, args: &[&str]) -> Result<(String, String)> {
        let output = Command::new(AIRLOCK)
            .args(args)
            .current_dir(&self.project)
            .env("HOME", &self.home)
            .env_remove("XDG_CONFIG_HOME")
            .env("PATH", &self.empty_path)
            .env("AIRLOCK_CONFIG", &self.config)
            .output()?;
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        ensure!(
            output.status.success(),
            "airlock {args:?}: {:?}\nstdout: {stdout}\nstderr: {stderr}",
            output.status
        );
        Ok((stdout, stderr))
    }

    /// Every file under the temp dir, with its bytes.
    fn snapshot(&self) -> Result<BTreeMap<PathBuf, Vec<u8>>> {
        let mut files = BTreeMap::new();
        let root = self.home.parent().context("no parent")?;
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir)? {
                let path = entry?.path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    files.insert(path.clone(), std::fs::read(&path)?);
                }
            }
        }
        Ok(files)
    }

    fn read_json(&self, path: &Path) -> Result<Value> {
        let text = std::fs::read_to_string(path)?;
        Ok(serde_json::from_str(&text)?)
    }
}

fn no_secrets(text: &str) -> Result<()> {
    for secret in SECRETS {
        ensure!(!text.contains(secret), "secret `{secret}` printed:\n{text}");
    }
    Ok(())
}

#[test]
fn dry_run_prints_a_masked_diff_and_writes_nothing() -> Result<()> {
    let setup = Setup::new()?;
    let before = setup.snapshot()?;
    let (stdout, stderr) = setup.airlock(&["import", "--all", "--dry-run"])?;
    ensure!(setup.snapshot()? == before, "a dry run changed files");
    no_secrets(&stdout)?;
    no_secrets(&stderr)?;
    ensure!(stdout.contains("********"), "masked values shown: {stdout}");
    for file in [
        ".claude.json",
        "claude_desktop_config.json",
        "mcp_config.json",
        "config.json",
    ] {
        ensure!(stdout.contains(file), "no diff for {file}: {stdout}");
    }
    ensure!(
        stdout.contains("+      \"serverUrl\": \"http://127.0.0.1:4242/mcp/context7\""),
        "{stdout}"
    );
    ensure!(
        stdout.contains("\"--access-token\", \"********\"")
            && stdout.contains("postgresql://app:********@db.local/app"),
        "secrets in args are masked, the rest shown: {stdout}"
    );
    ensure!(stdout.contains("dry run: nothing was written"), "{stdout}");
    // Entries with variables only their agent expands stay where they are, with a reason.
    ensure!(
        stderr.contains("perplexity") && stderr.contains("${"),
        "{stderr}"
    );
    ensure!(stderr.contains("sentry"), "{stderr}");
    // The comment on the line of VS Code's `env` goes with the field: the user is told.
    ensure!(
        stderr.contains(".vscode/mcp.json: 1 comment(s) inside the replaced fields are dropped"),
        "{stderr}"
    );
    Ok(())
}

#[test]
fn import_rewrites_every_agent_then_is_idempotent_and_undo_restores() -> Result<()> {
    let setup = Setup::new()?;
    let before = setup.snapshot()?;
    let (stdout, stderr) = setup.airlock(&["import", "--all", "--timeout", "20s"])?;
    no_secrets(&stdout)?;
    no_secrets(&stderr)?;

    // Airlock's config: the servers with their secrets, the old fields kept.
    let config = setup.read_json(&setup.config)?;
    ensure!(config["gate"] == json!({ "listen": "127.0.0.1:4242", "hold_seconds": 40 }));
    let servers = &config["mcpServers"];
    ensure!(servers["demo"]["builtin"] == "demo-pusher", "{config}");
    ensure!(
        servers["pusher"]
            == json!({ "command": AIRLOCK, "args": ["demo-pusher"],
                       "env": { "PUSHER_SECRET": "desktop-s3cr3t-value" },
                       "policy": "policies/pusher.json" }),
        "{config}"
    );
    ensure!(
        servers["github"]["headers"]["Authorization"] == "Bearer ghp_claude-code-token"
            && servers["github"]["type"] == "http",
        "{config}"
    );
    ensure!(
        servers["context7"]["url"] == "https://mcp.context7.com/mcp",
        "{config}"
    );
    for name in [
        "sqlite",
        "memory",
        "stripe",
        "linear",
        "postgres",
        "playwright",
        "fetch",
        "git",
    ] {
        ensure!(servers[name].is_object(), "{name} not imported: {config}");
        ensure!(
            servers[name].get("policy").is_none(),
            "{name} has a policy it cannot have"
        );
    }
    // A project's stdio servers run in the project folder, as their agent starts them.
    ensure!(servers["sqlite"]["cwd"] == "/src/app", "{config}");
    ensure!(
        servers["memory"]["cwd"] == json!(setup.project.display().to_string()),
        "{config}"
    );
    ensure!(servers.get("perplexity").is_none() && servers.get("sentry").is_none());
    ensure!(
        stdout.contains("stripe: imported without a policy"),
        "an unprobed server must say so: {stdout}"
    );

    // The starter policy passes `airlock check`.
    let policy = setup
        .config
        .parent()
        .context("no parent")?
        .join("policies/pusher.json");
    let (checked, _) = setup.airlock(&["check", &policy.display().to_string()])?;
    ensure!(!checked.is_empty(), "check printed nothing");

    // Each agent's entries go through Airlock, other fields kept.
    let desktop = setup.read_json(&setup.home.join(".config/Claude/claude_desktop_config.json"))?;
    ensure!(desktop["globalShortcut"] == "Ctrl+Space");
    ensure!(
        desktop["mcpServers"]["pusher"]
            == json!({ "command": AIRLOCK, "args": ["connect", "pusher"] }),
        "{desktop}"
    );
    let claude = setup.read_json(&setup.home.join(".claude.json"))?;
    ensure!(claude["numStartups"] == 12 && claude["theme"] == "dark");
    ensure!(
        claude["mcpServers"]["github"]
            == json!({ "type": "http", "url": "http://127.0.0.1:4242/mcp/github" }),
        "{claude}"
    );
    let project = &claude["projects"]["/src/app"];
    ensure!(project["hasTrustDialogAccepted"] == true);
    ensure!(project["mcpServers"]["sqlite"]["url"] == "http://127.0.0.1:4242/mcp/sqlite");
    let cursor = setup.read_json(&setup.home.join(".cursor/mcp.json"))?;
    ensure!(
        cursor["mcpServers"]["linear"] == json!({ "url": "http://127.0.0.1:4242/mcp/linear" }),
        "{cursor}"
    );
    let windsurf = setup.read_json(&setup.home.join(".codeium/windsurf/mcp_config.json"))?;
    ensure!(
        windsurf["mcpServers"]["git"]
            == json!({ "serverUrl": "http://127.0.0.1:4242/mcp/git", "disabled": false }),
        "{windsurf}"
    );
    let vscode = std::fs::read_to_string(setup.project.join(".vscode/mcp.json"))?;
    for kept in [
        "// Servers for this workspace; VS Code reads this file as JSONC.",
        "// The Playwright browser, for UI checks.",
        "/* Needs the key from the prompt above. */",
        "\"PERPLEXITY_API_KEY\": \"${input:perplexity-key}\"",
        "\"dev\": { \"watch\": \"src/**/*.py\" }",
        "\"url\": \"http://127.0.0.1:4242/mcp/playwright\"",
    ] {
        ensure!(
            vscode.contains(kept),
            "`{kept}` lost from .vscode/mcp.json:\n{vscode}"
        );
    }
    ensure!(!vscode.contains("vscode-fetch-secret"), "{vscode}");

    // A second import finds everything already behind Airlock and changes nothing.
    let after = setup.snapshot()?;
    let (again, _) = setup.airlock(&["import", "--all"])?;
    ensure!(
        setup.snapshot()? == after,
        "a second import changed files: {again}"
    );

    // Undo puts every file back byte for byte and removes the policy it wrote.
    setup.airlock(&["import", "--undo"])?;
    let restored: BTreeMap<PathBuf, Vec<u8>> = setup
        .snapshot()?
        .into_iter()
        .filter(|(path, _)| !path.components().any(|c| c.as_os_str() == "import-backups"))
        .collect();
    ensure!(restored == before, "undo did not restore every file");
    Ok(())
}

#[test]
fn without_a_choice_it_lists_and_a_client_choice_imports_only_that_agent() -> Result<()> {
    let setup = Setup::new()?;
    let before = setup.snapshot()?;
    // Not a terminal and no choice: a listing, nothing changed.
    let (listing, _) = setup.airlock(&["import"])?;
    ensure!(setup.snapshot()? == before, "a listing changed files");
    for line in [
        "pusher",
        "Claude Desktop",
        "sqlite",
        "(project /src/app)",
        "stripe",
        "playwright",
        "VS Code",
        "context7",
        "Windsurf",
        "choose with --all",
    ] {
        ensure!(listing.contains(line), "`{line}` not listed: {listing}");
    }
    no_secrets(&listing)?;

    setup.airlock(&["import", "--client", "windsurf", "--timeout", "5s"])?;
    let config = setup.read_json(&setup.config)?;
    let names: Vec<&String> = config["mcpServers"]
        .as_object()
        .context("no mcpServers")?
        .keys()
        .collect();
    ensure!(names == ["demo", "context7", "git"], "{names:?}");
    let cursor = setup.home.join(".cursor/mcp.json");
    ensure!(
        std::fs::read(&cursor)? == before[&cursor],
        "another agent's file changed"
    );

    // A file edited after the import is not overwritten by undo unless forced.
    let windsurf = setup.home.join(".codeium/windsurf/mcp_config.json");
    std::fs::write(&windsurf, "{ \"mcpServers\": {} }\n")?;
    let refused = Command::new(AIRLOCK)
        .args(["import", "--undo"])
        .env("HOME", &setup.home)
        .env("AIRLOCK_CONFIG", &setup.config)
        .output()?;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    ensure!(
        !refused.status.success()
            && stderr.contains("changed since the import")
            && stderr.contains("mcp_config.json"),
        "{stderr}"
    );
    ensure!(std::fs::read_to_string(&windsurf)? == "{ \"mcpServers\": {} }\n");
    setup.airlock(&["import", "--undo", "--force"])?;
    ensure!(std::fs::read(&windsurf)? == before[&windsurf]);
    ensure!(std::fs::read(&setup.config)? == before[&setup.config]);
    Ok(())
}
