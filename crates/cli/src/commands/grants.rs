//! `airlock grants`: agent identities beside the window, over the same local API.
//!
//! A rollout: `grants create NAME` for each agent (the token is printed once) while agents
//! without a token still get in, unauthenticated; `grants access` shows who is connected
//! without one; `grants require on` once nobody is. Turning it on says how many tokenless
//! sessions are connected at that moment.

use std::process::ExitCode;

use anyhow::Context;
use serde_json::{Value, json};

use super::api_client::ApiClient;
use super::gate_client::GateArgs;

/// List, create, rotate and revoke grants; see and switch `gate.require_grants`.
#[derive(Debug, clap::Args)]
pub struct GrantsArgs {
    #[command(subcommand)]
    pub command: GrantsCommand,
    #[command(flatten)]
    pub gate: GateArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum GrantsCommand {
    /// Every grant, from the config file and created here or in the window.
    List {
        /// Print JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Create a grant and print its token (shown once; Airlock keeps only its hash).
    Create {
        /// Letters, digits, `-`, `_` and `.`.
        name: String,
        /// Servers it may use (repeat the flag); all when absent.
        #[arg(long = "server", value_name = "NAME")]
        servers: Vec<String>,
    },
    /// Give a grant a new token (the old one stops working at once) and print it.
    Rotate { name: String },
    /// Revoke a grant: its token authenticates nobody from now on; its history stays.
    Revoke { name: String },
    /// Whether tokens are required, and the agents connected now (tokenless ones marked).
    Access {
        /// Print JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Turn `gate.require_grants` on (refuse agents without a token) or off.
    Require {
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("cannot start the async runtime")
}

fn grant_line(g: &Value) -> String {
    let servers = g["servers"].as_array().map_or_else(
        || "all servers".to_owned(),
        |list| {
            list.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        },
    );
    let state = if g["revoked"] == true {
        "revoked"
    } else {
        "active"
    };
    format!(
        "{:<20} {state:<8} {servers}",
        g["name"].as_str().unwrap_or("?")
    )
}

fn print_token(answer: &Value) {
    println!(
        "Token for grant `{}` (shown once; send it as `Authorization: Bearer <token>`):",
        answer["name"].as_str().unwrap_or("?")
    );
    println!("{}", answer["token"].as_str().unwrap_or(""));
    if let Some(note) = answer["note"].as_str() {
        println!("{note}");
    }
}

pub fn run(args: GrantsArgs) -> anyhow::Result<ExitCode> {
    let api = ApiClient::new(args.gate.locate()?)?;
    runtime()?.block_on(async move {
        let result = match args.command {
            GrantsCommand::List { json } => api.get("/api/grants").await.map(|list| {
                let items = list.as_array().cloned().unwrap_or_default();
                if json {
                    println!("{}", serde_json::to_string_pretty(&list).unwrap_or_default());
                } else if items.is_empty() {
                    println!("No grants: every agent comes in without a token, as `default`.");
                } else {
                    items.iter().for_each(|g| println!("{}", grant_line(g)));
                }
            }),
            GrantsCommand::Create { name, servers } => {
                let mut body = json!({ "name": name });
                if !servers.is_empty() {
                    body["servers"] = json!(servers);
                }
                api.post("/api/grants", &body).await.map(|a| print_token(&a))
            }
            GrantsCommand::Rotate { name } => api
                .post(&format!("/api/grants/{name}/rotate"), &json!({}))
                .await
                .map(|a| print_token(&a)),
            GrantsCommand::Revoke { name } => api
                .delete(&format!("/api/grants/{name}"))
                .await
                .map(|_| println!("Grant `{name}` revoked: its token authenticates nobody now.")),
            GrantsCommand::Access { json } => api.get("/api/access").await.map(|a| {
                if json {
                    println!("{}", serde_json::to_string_pretty(&a).unwrap_or_default());
                    return;
                }
                if a["requireGrants"] == true {
                    println!("gate.require_grants is on: agents without a grant token are refused.");
                } else {
                    println!(
                        "gate.require_grants is off: agents without a token get in, unauthenticated."
                    );
                }
                let sessions = a["sessions"].as_array().cloned().unwrap_or_default();
                println!(
                    "{} grant(s); {} open session(s), {} without a token.",
                    a["grants"],
                    sessions.len(),
                    a["tokenlessSessions"]
                );
                for s in &sessions {
                    println!(
                        "  {:<36} on {}",
                        s["agent"].as_str().unwrap_or("?"),
                        s["server"].as_str().unwrap_or("?")
                    );
                }
            }),
            GrantsCommand::Require { state } => api
                .put("/api/access", &json!({ "requireGrants": state == "on" }))
                .await
                .map(|a| println!("{}", a["message"].as_str().unwrap_or(""))),
        };
        match result {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(err) => {
                eprintln!("airlock: {err}");
                Ok(ExitCode::from(1))
            }
        }
    })
}
