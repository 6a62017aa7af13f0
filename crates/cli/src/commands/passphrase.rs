//! `airlock passphrase set|status`: the passphrase that approves calls of `"approval":
//! "passphrase"` rules, and asking for it in `airlock approve`.
//!
//! The passphrase is read from the terminal without echo (`rpassword`, which opens the
//! controlling terminal, not stdin), never from an argument or an environment variable: those
//! are visible to other programs of the same user, and an agent that can run `airlock approve`
//! could pass them too. Without a terminal, no passphrase can be given.

use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::api_client::ApiClient;
use super::gate_client::GateArgs;

/// Arguments of `airlock passphrase`.
#[derive(Debug, clap::Args)]
pub struct PassphraseArgs {
    #[command(subcommand)]
    pub command: PassphraseCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum PassphraseCommand {
    /// Set the passphrase (asked twice, no echo); once one is set, changing it asks for the
    /// current one first.
    Set(GateOnly),
    /// Say whether a passphrase is set, and since when.
    Status(GateOnly),
}

#[derive(Debug, clap::Args)]
pub struct GateOnly {
    #[command(flatten)]
    pub gate: GateArgs,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Reads one passphrase from the terminal, without echo.
fn ask(prompt: &str) -> anyhow::Result<String> {
    rpassword::prompt_password(prompt).context(
        "cannot read the passphrase from a terminal: it is only ever typed, never passed as an argument or in the environment",
    )
}

fn since(state: &Value) -> String {
    state["setMs"]
        .as_i64()
        .and_then(|ms| {
            std::time::UNIX_EPOCH
                .checked_add(std::time::Duration::from_millis(u64::try_from(ms).ok()?))
        })
        .map(|t| humantime::format_rfc3339_seconds(t).to_string())
        .unwrap_or_else(|| "an unknown time".into())
}

pub fn run(args: PassphraseArgs) -> anyhow::Result<ExitCode> {
    let gate = match &args.command {
        PassphraseCommand::Set(g) | PassphraseCommand::Status(g) => &g.gate,
    };
    let api = ApiClient::new(gate.locate()?)?;
    runtime()?.block_on(async move {
        let state = api.get("/api/passphrase").await?;
        let set = state["set"] == true;
        match args.command {
            PassphraseCommand::Status(_) => {
                if set {
                    println!("A passphrase is set (since {}).", since(&state));
                } else {
                    println!(
                        "No passphrase is set: rules with \"approval\": \"passphrase\" cannot be approved until one is (`airlock passphrase set`)."
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
            PassphraseCommand::Set(_) => {
                let mut body = json!({"source": "cli"});
                if set {
                    body["current"] = json!(ask("Current passphrase: ")?);
                }
                let new = ask("New passphrase: ")?;
                if ask("Repeat the new passphrase: ")? != new {
                    bail!("the two passphrases differ; nothing was changed");
                }
                body["passphrase"] = json!(new);
                match api.put("/api/passphrase", &body).await {
                    Ok(_) => {
                        println!("The passphrase is set. Calls of rules with \"approval\": \"passphrase\" are approved only with it.");
                        Ok(ExitCode::SUCCESS)
                    }
                    Err(err) => {
                        eprintln!("airlock: {err}");
                        Ok(ExitCode::from(1))
                    }
                }
            }
        }
    })
}

/// For `airlock approve ID`: the passphrase, asked at the terminal, when request `id` needs one.
pub fn ask_if_needed(gate: &GateArgs, id: &str) -> anyhow::Result<Option<String>> {
    let api = ApiClient::new(gate.locate()?)?;
    let pending = runtime()?.block_on(api.get("/api/approvals"))?;
    let needs = pending
        .as_array()
        .and_then(|all| all.iter().find(|a| a["id"] == id))
        .is_some_and(|a| a["needsPassphrase"] == true);
    if !needs {
        return Ok(None);
    }
    Ok(Some(ask(&format!(
        "Request {id} needs your Airlock passphrase: "
    ))?))
}
