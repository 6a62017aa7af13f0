//! `airlock approvals`, `airlock approve ID`, `airlock deny ID`: decide from a terminal.
//!
//! They talk to the running gate's local API with its token, so a decision here goes through the
//! same path as the window and notifications, and history records it as coming from the CLI.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::api_client::ApiClient;
use super::gate_client::GateArgs;

/// List the requests waiting for a human.
#[derive(Debug, clap::Args)]
pub struct ApprovalsArgs {
    /// Keep watching: print requests as they arrive and when they are decided.
    #[arg(long)]
    pub watch: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub gate: GateArgs,
}

/// Approve a pending request.
#[derive(Debug, clap::Args)]
pub struct ApproveArgs {
    /// The request id (from `airlock approvals` or the notification).
    pub id: String,
    /// Also approve identical-scope calls (same agent, server and tool) for this long, e.g. `10m`.
    #[arg(long = "for", value_name = "DURATION", conflicts_with_all = ["session", "always"])]
    pub for_: Option<String>,
    /// Also approve the same tool for the rest of this agent session.
    #[arg(long, conflicts_with = "always")]
    pub session: bool,
    /// Always approve this tool for this agent on this server (until revoked).
    #[arg(long)]
    pub always: bool,
    #[command(flatten)]
    pub gate: GateArgs,
}

/// Deny a pending request.
#[derive(Debug, clap::Args)]
pub struct DenyArgs {
    /// The request id.
    pub id: String,
    /// A note the agent will read with the denial.
    #[arg(long)]
    pub note: Option<String>,
    /// Always deny this tool for this agent on this server (until revoked).
    #[arg(long)]
    pub always: bool,
    #[command(flatten)]
    pub gate: GateArgs,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("cannot start the async runtime")
}

fn line(a: &Value) -> String {
    let left = a["expiresMs"]
        .as_i64()
        .map(|t| (t - airlock_store::now_ms()).max(0) / 1000)
        .unwrap_or(0);
    let agent = a["client"]["name"].as_str().map_or_else(
        || a["grant"].as_str().unwrap_or("?").to_string(),
        |c| format!("{} ({c})", a["grant"].as_str().unwrap_or("?")),
    );
    format!(
        "{:<12} {:<9} {} wants {} on {} {}  ({}s left)",
        a["id"].as_str().unwrap_or("?"),
        a["status"].as_str().unwrap_or("?"),
        agent,
        a["tool"].as_str().unwrap_or("?"),
        a["server"].as_str().unwrap_or("?"),
        serde_json::to_string(&a["arguments"]).unwrap_or_default(),
        left
    )
}

pub fn list(args: ApprovalsArgs) -> anyhow::Result<ExitCode> {
    let api = ApiClient::new(args.gate.locate()?)?;
    runtime()?.block_on(async move {
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        loop {
            let pending = api.get("/api/approvals").await?;
            let list = pending.as_array().cloned().unwrap_or_default();
            if !args.watch {
                if args.json {
                    println!("{}", serde_json::to_string_pretty(&pending)?);
                } else if list.is_empty() {
                    println!("No agent is waiting for approval.");
                } else {
                    for a in &list {
                        println!("{}", line(a));
                    }
                }
                return Ok(ExitCode::SUCCESS);
            }
            let now: BTreeMap<String, String> = list
                .iter()
                .map(|a| (a["id"].as_str().unwrap_or("").to_string(), line(a)))
                .collect();
            for (id, text) in &now {
                if !seen.contains_key(id) {
                    if args.json {
                        println!("{}", json!({"event": "pending", "id": id}));
                    } else {
                        println!("+ {text}");
                    }
                }
            }
            for id in seen.keys() {
                if !now.contains_key(id) {
                    if args.json {
                        println!("{}", json!({"event": "settled", "id": id}));
                    } else {
                        println!("- {id} settled");
                    }
                }
            }
            seen = now;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
}

pub fn approve(args: ApproveArgs) -> anyhow::Result<ExitCode> {
    let mut body = json!({"decision": "approve", "remember": "once", "source": "cli"});
    if let Some(duration) = &args.for_ {
        let Some(d) = airlock_gate::parse_duration(duration) else {
            bail!("--for `{duration}` is not a duration; write e.g. `10m` or `1h`");
        };
        let minutes = d.as_secs().div_ceil(60).max(1);
        body["remember"] = json!("minutes");
        body["minutes"] = json!(minutes);
    } else if args.session {
        body["remember"] = json!("session");
    } else if args.always {
        body["remember"] = json!("always");
    }
    decide(&args.gate, &args.id, body)
}

pub fn deny(args: DenyArgs) -> anyhow::Result<ExitCode> {
    let mut body = json!({
        "decision": "deny",
        "remember": if args.always { "always" } else { "once" },
        "source": "cli",
    });
    if let Some(note) = args.note {
        body["note"] = json!(note);
    }
    decide(&args.gate, &args.id, body)
}

fn decide(gate: &GateArgs, id: &str, body: Value) -> anyhow::Result<ExitCode> {
    let api = ApiClient::new(gate.locate()?)?;
    runtime()?.block_on(async move {
        let path = format!("/api/approvals/{id}/decide");
        match api.post(&path, &body).await {
            Ok(a) => {
                println!("{}", line(&a));
                Ok(ExitCode::SUCCESS)
            }
            Err(err) => {
                eprintln!("airlock: {err}");
                Ok(ExitCode::from(1))
            }
        }
    })
}
