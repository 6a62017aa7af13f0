//! `airlock remembered`: the decisions a human asked Airlock to remember, each with what it
//! covers in words, and `airlock remembered revoke ID`.

use std::process::ExitCode;

use anyhow::Context;
use serde_json::Value;

use super::api_client::ApiClient;
use super::gate_client::GateArgs;

/// List remembered decisions (what each covers), or revoke one.
#[derive(Debug, clap::Args)]
pub struct RememberedArgs {
    #[command(subcommand)]
    pub command: Option<RememberedCommand>,
    /// Print JSON instead of lines.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub gate: GateArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum RememberedCommand {
    /// Revoke a remembered decision: the next matching call asks again.
    Revoke { id: String },
}

fn line(r: &Value) -> String {
    let until = match r["expiresMs"].as_i64() {
        Some(t) => format!(
            " (ends in {} min)",
            ((t - airlock_store::now_ms()).max(0) + 59_999) / 60_000
        ),
        None => String::new(),
    };
    format!(
        "{:<6} {}{until}",
        r["id"].as_str().unwrap_or("?"),
        r["scope"].as_str().unwrap_or("?")
    )
}

pub fn run(args: RememberedArgs) -> anyhow::Result<ExitCode> {
    let api = ApiClient::new(args.gate.locate()?)?;
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    rt.block_on(async move {
        let result = match args.command {
            Some(RememberedCommand::Revoke { id }) => api
                .delete(&format!("/api/remembered/{id}"))
                .await
                .map(|_| println!("Revoked: the next matching call asks again.")),
            None => api.get("/api/remembered").await.map(|list| {
                let items = list.as_array().cloned().unwrap_or_default();
                if args.json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&list).unwrap_or_default()
                    );
                } else if items.is_empty() {
                    println!(
                        "No remembered decisions: every call the policy asks about asks a human."
                    );
                } else {
                    items.iter().for_each(|r| println!("{}", line(r)));
                }
            }),
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
