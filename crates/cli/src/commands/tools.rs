//! `airlock tools [SERVER]`: the tool definitions Airlock pinned, and the ones it holds because
//! a server added or changed them since (with what changed); `airlock tools accept|reject SERVER
//! TOOL` decides a held one. Talks to the running gate's API (`/api/tool-pins`).

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::{Value, json};

use super::api_client::ApiClient;
use super::gate_client::GateArgs;

/// List pinned and held tools, or accept / reject a held one.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ToolsArgs {
    #[command(subcommand)]
    pub command: Option<ToolsCommand>,
    /// Only this server's tools.
    pub server: Option<String>,
    /// Show the history of changes and decisions instead (newest first).
    #[arg(long)]
    pub history: bool,
    /// Print JSON instead of lines.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub gate: GateArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum ToolsCommand {
    /// Accept the definition the server lists now: the tool is listed and callable again.
    Accept(Decide),
    /// Reject it: the tool stays hidden and refused while the server lists this definition.
    Reject(Decide),
}

#[derive(Debug, clap::Args)]
pub struct Decide {
    pub server: String,
    pub tool: String,
    /// The hash shown when you reviewed it (refused if the server changed it again since);
    /// without it, the change is printed and the definition listed now is decided.
    #[arg(long)]
    pub hash: Option<String>,
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or("?").to_owned()
}

fn table(pins: &[Value]) -> String {
    if pins.is_empty() {
        return "No tools pinned yet: a server's tools are pinned the first time an agent lists them through Airlock.\n".into();
    }
    let width = pins
        .iter()
        .map(|p| text(p, "server").len() + text(p, "tool").len() + 1)
        .max()
        .unwrap_or(0)
        .max(4);
    let mut out = format!(
        "{:<width$}  {:<8}  {:<12}  LISTED\n",
        "TOOL", "STATE", "PINNED"
    );
    for p in pins {
        let name = format!("{}/{}", text(p, "server"), text(p, "tool"));
        let state = text(p, "state");
        let pinned = p["pinnedHash"].as_str().map_or("-", short);
        let seen = text(p, "seenHash");
        let listed = if state == "pinned" { "=" } else { short(&seen) };
        let _ = writeln!(out, "{name:<width$}  {state:<8}  {pinned:<12}  {listed}");
    }
    let held = pins.iter().filter(|p| p["state"] != "pinned").count();
    if held > 0 {
        let _ = writeln!(
            out,
            "\n{held} held: hidden from agents and refused until accepted. Review with `airlock tools SERVER`, then `airlock tools accept SERVER TOOL`."
        );
    }
    out
}

/// The change of one held tool, for a terminal: the description before and after, then the
/// lines of the rest of the definition that differ.
fn change(p: &Value) -> String {
    let mut out = format!(
        "\n{}/{} ({}, listed {}):\n",
        text(p, "server"),
        text(p, "tool"),
        text(p, "state"),
        short(&text(p, "seenHash"))
    );
    let side = |keep: &str| -> String {
        p["descriptionDiff"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|part| part["tag"] == "equal" || part["tag"] == keep)
            .filter_map(|part| part["text"].as_str())
            .collect()
    };
    let (old, new) = (side("delete"), side("insert"));
    if old != new {
        let _ = writeln!(out, "  description was: {}", old.trim());
        let _ = writeln!(out, "  description now: {}", new.trim());
    }
    for part in p["schemaDiff"].as_array().into_iter().flatten() {
        let mark = match part["tag"].as_str() {
            Some("delete") => '-',
            Some("insert") => '+',
            _ => continue,
        };
        let _ = writeln!(
            out,
            "  {mark} {}",
            part["text"].as_str().unwrap_or_default()
        );
    }
    out
}

/// `s` as one URL path segment or query value (tool names may hold any character).
fn path_segment(s: &str) -> String {
    s.bytes().fold(String::new(), |mut out, b| {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
        out
    })
}

pub fn run(args: ToolsArgs) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let result = rt.block_on(async move {
        match args.command {
            Some(ToolsCommand::Accept(d)) => decide(&args.gate, d, true).await,
            Some(ToolsCommand::Reject(d)) => decide(&args.gate, d, false).await,
            None => list(&args).await,
        }
    });
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(err) => {
            eprintln!("airlock: {err:#}");
            Ok(ExitCode::from(1))
        }
    }
}

async fn list(args: &ToolsArgs) -> anyhow::Result<()> {
    let api = ApiClient::new(args.gate.locate()?)?;
    let query = args
        .server
        .as_deref()
        .map(|s| format!("?server={}", path_segment(s)))
        .unwrap_or_default();
    if args.history {
        let events = api.get(&format!("/api/tool-pins/history{query}")).await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&events)?);
            return Ok(());
        }
        for e in events.as_array().into_iter().flatten() {
            let at = e["atMs"].as_i64().unwrap_or_default();
            let by = e["actor"]
                .as_str()
                .map(|a| format!(" by {a}"))
                .unwrap_or_default();
            println!(
                "{}  {}/{}  {}{by}  {}",
                humantime::format_rfc3339_seconds(
                    std::time::UNIX_EPOCH
                        + std::time::Duration::from_millis(u64::try_from(at).unwrap_or(0))
                ),
                text(e, "server"),
                text(e, "tool"),
                text(e, "event"),
                short(&text(e, "hash")),
            );
        }
        return Ok(());
    }
    let pins = api.get(&format!("/api/tool-pins{query}")).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&pins)?);
        return Ok(());
    }
    let pins = pins.as_array().cloned().unwrap_or_default();
    print!("{}", table(&pins));
    if args.server.is_some() {
        for p in pins.iter().filter(|p| p["state"] != "pinned") {
            print!("{}", change(p));
        }
    }
    Ok(())
}

async fn decide(gate: &GateArgs, d: Decide, accept: bool) -> anyhow::Result<()> {
    let api = ApiClient::new(gate.locate()?)?;
    let hash = match d.hash {
        Some(hash) => hash,
        None => {
            let query = format!(
                "/api/tool-pins?server={}&tool={}",
                path_segment(&d.server),
                path_segment(&d.tool)
            );
            let found = api.get(&query).await?;
            let pin = found
                .as_array()
                .and_then(|a| a.first())
                .with_context(|| format!("`{}` has no pinned tool `{}`", d.server, d.tool))?;
            print!("{}", change(pin));
            text(pin, "seenHash")
        }
    };
    let verb = if accept { "accept" } else { "reject" };
    let pin = api
        .post(
            &format!(
                "/api/tool-pins/{}/{}/{verb}",
                path_segment(&d.server),
                path_segment(&d.tool)
            ),
            &json!({"hash": hash, "source": "cli"}),
        )
        .await?;
    if accept {
        println!(
            "Accepted {}/{} ({}): agents see it and may call it again.",
            d.server,
            d.tool,
            short(&text(&pin, "seenHash"))
        );
    } else {
        println!(
            "Rejected {}/{} ({}): it stays hidden and refused while the server lists this definition.",
            d.server,
            d.tool,
            short(&text(&pin, "seenHash"))
        );
    }
    Ok(())
}
