//! `airlock policy staged | apply | discard`: policy changes from disk that loosen the policy in
//! force wait for a human (`airlock_gate::policies`, `staged.rs`); these list them with their
//! semantic diff, put one in force, or drop it and restore the file.
//!
//! `apply` prints the difference it applies and applies exactly that revision: a file changed
//! again since it was listed is refused by the gate, and its new version has a diff of its own.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::api_client::ApiClient;
use super::gate_client::GateArgs;

/// `airlock policy staged`.
#[derive(Debug, clap::Args)]
pub struct StagedArgs {
    /// Print JSON instead of lines.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub gate: GateArgs,
}

/// `airlock policy apply` and `airlock policy discard`.
#[derive(Debug, clap::Args)]
pub struct DecideArgs {
    /// The staged policy: its file path, its id (`airlock policy staged`) or the name of a server
    /// it decides. May be left out when exactly one change is staged.
    pub policy: Option<String>,
    #[command(flatten)]
    pub gate: GateArgs,
}

fn lines(item: &Value) -> Vec<String> {
    let text = |v: &Value| v.as_str().unwrap_or("?").to_owned();
    let servers: Vec<String> = item["servers"]
        .as_array()
        .map(|s| s.iter().map(text).collect())
        .unwrap_or_default();
    let changes = item["changes"].as_array().cloned().unwrap_or_default();
    let looser = changes
        .iter()
        .filter(|c| c["direction"] == "looser")
        .count();
    let mut out = vec![format!(
        "{} ({}; id {}): {looser} looser, {} tighter, waiting for a human",
        text(&item["source"]),
        if servers.is_empty() {
            "no server".to_owned()
        } else {
            format!("servers {}", servers.join(", "))
        },
        text(&item["id"]),
        changes.len() - looser
    )];
    for c in &changes {
        out.push(format!(
            "  {:<8} {} ({})",
            format!("{}:", text(&c["direction"])),
            text(&c["text"]),
            text(&c["pointer"])
        ));
    }
    out
}

/// The staged change `wanted` names, or the only one.
fn pick<'a>(items: &'a [Value], wanted: Option<&str>) -> anyhow::Result<&'a Value> {
    let Some(wanted) = wanted else {
        return match items {
            [one] => Ok(one),
            [] => bail!("no policy change is staged"),
            _ => bail!(
                "{} policy changes are staged; name one (its file, id or server): {}",
                items.len(),
                items
                    .iter()
                    .map(|i| format!("`{}`", i["source"].as_str().unwrap_or("?")))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
    };
    let same_file = |source: &str| {
        let (a, b) = (Path::new(source), Path::new(wanted));
        a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b)
    };
    items
        .iter()
        .find(|i| {
            i["id"] == wanted
                || i["source"].as_str().is_some_and(same_file)
                || i["servers"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|s| s == wanted))
        })
        .with_context(|| {
            format!("no staged policy change matches `{wanted}` (see `airlock policy staged`)")
        })
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("cannot start the async runtime")
}

fn exit(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("airlock: {err:#}");
            ExitCode::from(1)
        }
    }
}

pub fn staged(args: StagedArgs) -> anyhow::Result<ExitCode> {
    let api = ApiClient::new(args.gate.locate()?)?;
    let result = runtime()?.block_on(async move {
        let list = api.get("/api/policies/staged").await?;
        let items = list.as_array().cloned().unwrap_or_default();
        if args.json {
            println!("{}", serde_json::to_string_pretty(&list)?);
        } else if items.is_empty() {
            println!("No policy change is staged: the files on disk are in force.");
        } else {
            for item in &items {
                lines(item).iter().for_each(|l| println!("{l}"));
            }
            println!("Apply with `airlock policy apply <file>`, or restore the file with `airlock policy discard <file>`.");
        }
        Ok(())
    });
    Ok(exit(result))
}

/// `apply` when `apply` is true, else `discard`.
pub fn decide(args: DecideArgs, apply: bool) -> anyhow::Result<ExitCode> {
    let api = ApiClient::new(args.gate.locate()?)?;
    let result = runtime()?.block_on(async move {
        let list = api.get("/api/policies/staged").await?;
        let items = list.as_array().cloned().unwrap_or_default();
        let item = pick(&items, args.policy.as_deref())?;
        let id = item["id"].as_str().unwrap_or_default();
        let verb = if apply { "apply" } else { "discard" };
        api.post(
            &format!("/api/policies/{id}/{verb}"),
            &json!({"revision": item["revision"]}),
        )
        .await?;
        lines(item).iter().for_each(|l| println!("{l}"));
        let source = item["source"].as_str().unwrap_or("?");
        if apply {
            println!("Applied: `{source}` is in force.");
        } else {
            println!("Discarded: `{source}` is restored to the policy in force.");
        }
        Ok(())
    });
    Ok(exit(result))
}
