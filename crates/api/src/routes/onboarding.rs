//! The onboarding routes: "Create a policy" for a server, and "Import from your agents". They run
//! the code of `airlock policy init` and `airlock import` (`airlock_onboard`); every file they
//! change is backed up first, and `POST /api/import/undo` restores the newest change.
//!
//! | route | what |
//! |---|---|
//! | `GET /api/servers/{name}/starter` | the server's tools, each with its class and the rule of every choice |
//! | `PUT /api/servers/{name}/policy` | writes the policy and points the server's config entry at it; in force at once |
//! | `GET /api/import` | the servers in the agents' configs that do not go through Airlock yet |
//! | `POST /api/import/preview` | the diff of every file an import of the chosen servers changes, secrets masked |
//! | `POST /api/import/apply` | the import, with starter policies, after a backup |
//! | `POST /api/import/undo` | restores the files of the newest import or policy save |
//!
//! Wire types are in `crate::types::onboarding`, exported to `ui/src/bindings/onboarding.ts`.

use crate::types::onboarding::*;

use std::path::PathBuf;
use std::time::Duration;

use airlock_gate::Gate;
use airlock_onboard::Error as OnboardError;
use airlock_onboard::import::{self, Plan, Scan};
use axum::extract::{Path, State};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::types::{Diagnostic, PolicyText};

/// How long a server may take to list its tools (a first `npx -y` downloads its package).
const PROBE_TIMEOUT: Duration = Duration::from_secs(60);

fn onboard_error(e: OnboardError) -> ApiError {
    match e {
        OnboardError::UnknownServer { name, .. } => ApiError::NotFound {
            what: "server",
            id: name,
        },
        OnboardError::InvalidPolicy(d) => ApiError::InvalidPolicy(
            d.iter()
                .map(|d| Diagnostic {
                    line: d.line,
                    column: d.column,
                    pointer: d.pointer.clone(),
                    message: d.message.clone(),
                    hint: d.help.clone(),
                })
                .collect(),
        ),
        e @ (OnboardError::Probe(_)
        | OnboardError::NoConfigFile
        | OnboardError::NothingToUndo(_)
        | OnboardError::EditedSince { .. }
        | OnboardError::Config { .. }
        | OnboardError::NotJson { .. }) => ApiError::Conflict(e.chain()),
        e => ApiError::Internal(e.chain()),
    }
}

/// Runs blocking file work off the async runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
}

// ---- create a policy ----

pub(crate) async fn starter(
    State(gate): State<Gate>,
    Path(name): Path<String>,
) -> Result<axum::Json<Starter>, ApiError> {
    let config = gate.config();
    let (file, _) = airlock_onboard::create::target(&config, &name).map_err(onboard_error)?;
    let current = config
        .policy_source(config.servers.get(&name).and_then(|e| e.policy.as_deref()))
        .label();
    let proposal = airlock_onboard::create::propose(&config, &name, PROBE_TIMEOUT, &name)
        .await
        .map_err(onboard_error)?;
    let mut base = proposal.policy.clone();
    if let Some(map) = base.as_object_mut() {
        map.remove("tools");
    }
    let rows = proposal
        .rows
        .iter()
        .map(|row| StarterRow {
            tool: row.tool.clone(),
            class: row.class.as_str().to_string(),
            confidence: row.confidence.as_str().to_string(),
            evidence: row.classification.summary(),
            conflict: row.classification.has_conflict(),
            proposed: match row.action {
                airlock_classify::starter::Action::Limit => Choice::Limit,
                airlock_classify::starter::Action::Ask => Choice::Ask,
            },
            options: ChoiceRules {
                allow: row.options.allow.clone(),
                limit: row.options.limit.clone(),
                ask: row.options.ask.clone(),
                deny: row.options.deny.clone(),
            },
        })
        .collect();
    Ok(axum::Json(Starter {
        server: name,
        file: file.display().to_string(),
        current,
        base,
        rows,
    }))
}

pub(crate) async fn save_policy(
    State(gate): State<Gate>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<PolicyText>,
) -> Result<axum::Json<SavedPolicy>, ApiError> {
    let config = gate.config();
    let config_path = config
        .source
        .clone()
        .ok_or_else(|| onboard_error(OnboardError::NoConfigFile))?;
    let (_, reference) = airlock_onboard::create::target(&config, &name).map_err(onboard_error)?;
    let backups = airlock_onboard::backup::root(&config_path);
    let server = name.clone();
    let saved = blocking(move || {
        airlock_onboard::create::save(&config_path, &backups, &server, &body.text)
            .map_err(onboard_error)
    })
    .await?;
    // The files are written: the gate takes them now, not at the next start.
    let bound = {
        let gate = gate.clone();
        let name = name.clone();
        blocking(move || {
            gate.bind_policy(&name, &reference)
                .map_err(|e| ApiError::Internal(e.to_string()))
        })
        .await
    };
    bound?;
    tracing::info!(server = %name, policy = %saved.policy.display(), "policy created from the API");
    Ok(axum::Json(SavedPolicy {
        policy: saved.policy.display().to_string(),
        config: saved.config.map(|p| p.display().to_string()),
        backups: saved.backups.display().to_string(),
    }))
}

// ---- import ----

/// Airlock's config file: the one in force, else where `airlock import` would create it.
fn config_path(gate: &Gate) -> PathBuf {
    gate.config()
        .source
        .clone()
        .unwrap_or_else(airlock_gate::runtime::default_config_path)
}

fn scan_now() -> Result<Scan, ApiError> {
    // Project files (`.mcp.json`, `.vscode/mcp.json`) are read in the folder Airlock runs in.
    let project = std::env::current_dir().map_err(|e| ApiError::Internal(e.to_string()))?;
    import::scan_user(&project).map_err(onboard_error)
}

fn server_id(scan: &Scan, found: &import::Found) -> String {
    let file = scan.files.get(found.file);
    let key = format!(
        "{}\n{}\n{}",
        file.map(|f| f.path.display().to_string())
            .unwrap_or_default(),
        file.map(|f| f.pointer.join("\n")).unwrap_or_default(),
        found.name
    );
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

/// The binary agents that only launch commands start: this one when it is `airlock`, else
/// `airlock` from the PATH (the desktop app's binary has another name).
fn airlock_binary() -> PathBuf {
    std::env::current_exe()
        .ok()
        .filter(|p| p.file_stem().is_some_and(|s| s == "airlock"))
        .unwrap_or_else(|| PathBuf::from("airlock"))
}

fn plan_for(gate: &Gate, ids: &[String]) -> Result<(Scan, Plan), ApiError> {
    let scan = scan_now()?;
    let mut chosen = Vec::new();
    for id in ids {
        let index = scan
            .found
            .iter()
            .position(|f| &server_id(&scan, f) == id)
            .ok_or_else(|| ApiError::NotFound {
                what: "server in your agents' configs",
                id: id.clone(),
            })?;
        chosen.push(index);
    }
    let plan =
        Plan::new(&config_path(gate), &scan, &chosen, &airlock_binary()).map_err(onboard_error)?;
    Ok((scan, plan))
}

pub(crate) async fn import_scan(
    State(gate): State<Gate>,
) -> Result<axum::Json<ImportScan>, ApiError> {
    let config_file = config_path(&gate).display().to_string();
    let scan = blocking(scan_now).await?;
    let servers = scan
        .found
        .iter()
        .map(|f| {
            let file = scan.files.get(f.file);
            FoundServer {
                id: server_id(&scan, f),
                name: f.name.clone(),
                client: file
                    .map(|f| f.client.label().to_string())
                    .unwrap_or_default(),
                file: file.map(|f| f.describe()).unwrap_or_default(),
                entry: import::masked_entry(&f.entry),
            }
        })
        .collect();
    Ok(axum::Json(ImportScan {
        config_file,
        files: scan.files.iter().map(|f| f.describe()).collect(),
        servers,
        already: u32::try_from(scan.already).unwrap_or(u32::MAX),
        unreadable: scan
            .unreadable
            .iter()
            .map(|(i, why)| {
                let file = scan.files.get(*i).map(|f| f.describe()).unwrap_or_default();
                format!("{file}: {why}")
            })
            .collect(),
    }))
}

pub(crate) async fn import_preview(
    State(gate): State<Gate>,
    ApiJson(body): ApiJson<ImportChoice>,
) -> Result<axum::Json<ImportPreview>, ApiError> {
    let preview = blocking(move || {
        let (_, plan) = plan_for(&gate, &body.servers)?;
        let diffs = plan.diffs().map_err(onboard_error)?;
        Ok(ImportPreview {
            diffs: diffs
                .into_iter()
                .map(|d| FileDiff {
                    path: d.path.display().to_string(),
                    diff: d.diff,
                })
                .collect(),
            skipped: plan.skipped().to_vec(),
            added: plan.servers(),
        })
    })
    .await?;
    Ok(axum::Json(preview))
}

pub(crate) async fn import_apply(
    State(gate): State<Gate>,
    ApiJson(body): ApiJson<ImportChoice>,
) -> Result<axum::Json<ImportDone>, ApiError> {
    let backups = airlock_onboard::backup::root(&config_path(&gate));
    let plan_gate = gate.clone();
    let (_, plan) = blocking(move || plan_for(&plan_gate, &body.servers)).await?;
    if plan.is_empty() {
        return Ok(axum::Json(ImportDone {
            lines: vec!["nothing to change".into()],
            restart: false,
        }));
    }
    // Each new server is asked for its tools before any file changes.
    let starters = plan.starters(PROBE_TIMEOUT).await.map_err(onboard_error)?;
    let applied = blocking(move || plan.write(&backups, &starters).map_err(onboard_error)).await?;
    let mut lines = applied.policies.clone();
    lines.extend(
        applied
            .rewrote
            .iter()
            .map(|p| format!("rewrote {}", p.display())),
    );
    lines.push(format!(
        "added {} server(s); backups in {}",
        applied.added.len(),
        applied.backups.display()
    ));
    tracing::info!(servers = ?applied.added, "import applied from the API");
    Ok(axum::Json(ImportDone {
        lines,
        restart: !applied.added.is_empty(),
    }))
}

pub(crate) async fn import_undo(
    State(gate): State<Gate>,
    ApiJson(body): ApiJson<UndoRequest>,
) -> Result<axum::Json<ImportDone>, ApiError> {
    let backups = airlock_onboard::backup::root(&config_path(&gate));
    let force = body.force.unwrap_or(false);
    let lines =
        blocking(move || airlock_onboard::backup::undo(&backups, force).map_err(onboard_error))
            .await?;
    tracing::info!(files = lines.len(), "import undone from the API");
    Ok(axum::Json(ImportDone {
        lines,
        restart: true,
    }))
}
