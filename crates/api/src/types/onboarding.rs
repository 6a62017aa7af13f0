//! The onboarding routes' wire types (`ui/src/bindings/onboarding.ts`).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

/// `GET /api/servers/{name}/starter`: a starter policy to review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(optional_fields)]
pub struct Starter {
    pub server: String,
    /// The file a save writes: the server's own policy file, or `policies/<server>.json`.
    pub file: String,
    /// The policy in force now: a path, `builtin:…`, or `(no policy: …)`.
    pub current: String,
    /// The policy without its tools: `version`, `default`, `all_tools`. The window adds
    /// `tools.<name>` = the chosen option's rule, and `hide` for hidden tools.
    pub base: Value,
    pub rows: Vec<StarterRow>,
}

/// One tool of a starter policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(optional_fields)]
pub struct StarterRow {
    pub tool: String,
    /// `read`, `write`, `communication`, `execute`, `destructive`, `financial`, `credential`,
    /// `unknown`.
    pub class: String,
    /// `high`, `medium`, `low`.
    pub confidence: String,
    /// Why the class, in words.
    pub evidence: String,
    /// The server's annotations disagree with the tool's name or description.
    pub conflict: bool,
    /// What the proposal chose: `limit` or `ask`.
    pub proposed: Choice,
    /// The rule under `tools.<name>` for each choice but `hide`.
    pub options: ChoiceRules,
}

/// What the reviewer chooses for a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    Allow,
    Limit,
    Ask,
    Deny,
    Hide,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ChoiceRules {
    pub allow: Value,
    pub limit: Value,
    pub ask: Value,
    pub deny: Value,
}

/// `PUT /api/servers/{name}/policy`: what was written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(optional_fields)]
pub struct SavedPolicy {
    pub policy: String,
    /// The config file, when the server's entry was pointed at the policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// Where the files from before are kept (`POST /api/import/undo` restores them).
    pub backups: String,
}

/// `GET /api/import`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ImportScan {
    /// Airlock's config file the import adds servers to (created if absent).
    pub config_file: String,
    /// The agents' config files found.
    pub files: Vec<String>,
    pub servers: Vec<FoundServer>,
    /// Servers that already go through Airlock.
    pub already: u32,
    /// Files that could not be read, and why.
    pub unreadable: Vec<String>,
}

/// A server in an agent's config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct FoundServer {
    /// Stable while the files do not change: the id to choose it by.
    pub id: String,
    pub name: String,
    /// `Claude Code`, `VS Code`, …
    pub client: String,
    /// The file and, for `~/.claude.json`, the project.
    pub file: String,
    /// Its entry, secrets masked.
    pub entry: String,
}

/// `POST /api/import/preview` and `/apply`: the servers chosen, by [`FoundServer::id`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportChoice {
    pub servers: Vec<String>,
}

/// `POST /api/import/preview`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ImportPreview {
    pub diffs: Vec<FileDiff>,
    /// Entries left alone and why.
    pub skipped: Vec<String>,
    /// The servers Airlock's config gets.
    pub added: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct FileDiff {
    pub path: String,
    /// Unified diff, secrets masked.
    pub diff: String,
}

/// `POST /api/import/apply` and `/undo`: what happened, one line each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ImportDone {
    pub lines: Vec<String>,
    /// Whether `airlock serve` (or the app) must restart to serve what changed.
    pub restart: bool,
}

/// `POST /api/import/undo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(optional_fields)]
pub struct UndoRequest {
    /// Restore files edited since the change too (those edits are lost).
    #[serde(default)]
    pub force: Option<bool>,
}

/// The TypeScript declarations of the onboarding wire types (`ui/src/bindings/onboarding.ts`).
pub fn typescript_bindings() -> String {
    let cfg = ts_rs::Config::new().with_large_int("number");
    let decls = [
        Starter::decl(&cfg),
        StarterRow::decl(&cfg),
        Choice::decl(&cfg),
        ChoiceRules::decl(&cfg),
        SavedPolicy::decl(&cfg),
        ImportScan::decl(&cfg),
        FoundServer::decl(&cfg),
        ImportChoice::decl(&cfg),
        ImportPreview::decl(&cfg),
        FileDiff::decl(&cfg),
        ImportDone::decl(&cfg),
        UndoRequest::decl(&cfg),
    ];
    let mut out = String::from(
        "// Generated from crates/api/src/types/onboarding.rs by `UPDATE_BINDINGS=1 cargo test -p airlock-api --test bindings`.\n\
         // Do not edit: the test `onboarding_bindings_are_current` fails when this file drifts.\n\n\
         /* eslint-disable */\n\
         import type { JsonValue } from \"./api\";\n",
    );
    for decl in decls {
        out.push('\n');
        out.push_str("export ");
        out.push_str(&decl);
        out.push('\n');
    }
    out
}
