//! `airlock approvals`, `airlock approve ID`, `airlock deny ID`: decide from a terminal.
//!
//! They talk to the running gate's local API with its token, so a decision here goes through the
//! same path as the window and notifications, and history records it as coming from the CLI.
//!
//! A remembered decision (`--for`, `--session`, `--always`) covers this agent, this server and
//! tool, and these arguments; `--any-args` or `--under ARG=DIR` widen the arguments, never by
//! default. What it covers is printed after the decision.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use airlock_api::types::{ArgsScope, DecideRequest, DecisionSource, Effect, Remember};

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
    /// Also approve this agent's calls of this tool with these arguments for this long, e.g.
    /// `10m` (a tokenless agent: any agent declaring the same client name).
    #[arg(long = "for", value_name = "DURATION", conflicts_with_all = ["session", "always"])]
    pub for_: Option<String>,
    /// Also approve this tool with these arguments for the rest of this agent session.
    #[arg(long, conflicts_with = "always")]
    pub session: bool,
    /// Always approve this tool with these arguments for this agent (until revoked).
    #[arg(long)]
    pub always: bool,
    #[command(flatten)]
    pub scope: ArgsFlags,
    #[command(flatten)]
    pub gate: GateArgs,
}

/// Which arguments a remembered decision covers (the same arguments unless one is given).
#[derive(Debug, clap::Args)]
pub struct ArgsFlags {
    /// With --for, --session or --always: cover any arguments of the tool, not just these.
    #[arg(long, conflicts_with = "under")]
    pub any_args: bool,
    /// With --for, --session or --always: cover calls whose path argument ARG is at or below
    /// the absolute directory DIR, e.g. `--under path=/home/me/project`.
    #[arg(long, value_name = "ARG=DIR")]
    pub under: Option<String>,
}

impl ArgsFlags {
    /// The `args` of the decide request; `None` for the same arguments.
    fn scope(&self, remembered: bool) -> anyhow::Result<Option<ArgsScope>> {
        if !remembered && (self.any_args || self.under.is_some()) {
            bail!(
                "--any-args and --under widen a remembered decision: add --for, --session or --always"
            );
        }
        if self.any_args {
            return Ok(Some(ArgsScope::Any));
        }
        let Some(under) = &self.under else {
            return Ok(None);
        };
        let Some((argument, path)) = under.split_once('=') else {
            bail!("--under `{under}` must be ARG=DIR, e.g. `path=/home/me/project`");
        };
        Ok(Some(ArgsScope::Under {
            argument: argument.to_owned(),
            path: path.to_owned(),
        }))
    }
}

/// Deny a pending request.
#[derive(Debug, clap::Args)]
pub struct DenyArgs {
    /// The request id.
    pub id: String,
    /// A note the agent will read with the denial.
    #[arg(long)]
    pub note: Option<String>,
    /// Always deny this tool with these arguments for this agent (until revoked).
    #[arg(long)]
    pub always: bool,
    #[command(flatten)]
    pub scope: ArgsFlags,
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
    let agent = a["agent"].as_str().unwrap_or("?");
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
    let (remember, minutes) = if let Some(duration) = &args.for_ {
        let Some(d) = airlock_gate::parse_duration(duration) else {
            bail!("--for `{duration}` is not a duration; write e.g. `10m` or `1h`");
        };
        let minutes = u32::try_from(d.as_secs().div_ceil(60).max(1)).unwrap_or(u32::MAX);
        (Remember::Minutes, Some(minutes))
    } else if args.session {
        (Remember::Session, None)
    } else if args.always {
        (Remember::Always, None)
    } else {
        (Remember::Once, None)
    };
    let body = DecideRequest {
        decision: Effect::Approve,
        remember: Some(remember),
        minutes,
        args: args.scope.scope(remember != Remember::Once)?,
        note: None,
        source: Some(DecisionSource::Cli),
        // Typed at the terminal, never an argument (`commands::passphrase`).
        passphrase: super::passphrase::ask_if_needed(&args.gate, &args.id)?,
    };
    decide(&args.gate, &args.id, &body)
}

pub fn deny(args: DenyArgs) -> anyhow::Result<ExitCode> {
    let body = DecideRequest {
        decision: Effect::Deny,
        remember: Some(if args.always {
            Remember::Always
        } else {
            Remember::Once
        }),
        minutes: None,
        args: args.scope.scope(args.always)?,
        note: args.note,
        source: Some(DecisionSource::Cli),
        passphrase: None,
    };
    decide(&args.gate, &args.id, &body)
}

fn decide(gate: &GateArgs, id: &str, body: &DecideRequest) -> anyhow::Result<ExitCode> {
    let body = serde_json::to_value(body).context("cannot encode the decision")?;
    let api = ApiClient::new(gate.locate()?)?;
    runtime()?.block_on(async move {
        let path = format!("/api/approvals/{id}/decide");
        match api.post(&path, &body).await {
            Ok(a) => {
                println!("{}", line(&a));
                match a["remembered"].as_str() {
                    Some(scope) => println!("Remembered: {scope}."),
                    None => println!("This request only: the next call asks again."),
                }
                if a["tokenless"] == true {
                    println!(
                        "Note: this agent sent no grant token; its client name is a claim, not authentication."
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(err) => {
                eprintln!("airlock: {err}");
                Ok(ExitCode::from(1))
            }
        }
    })
}
