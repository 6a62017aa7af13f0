// Generated from crates/api/src/types/onboarding.rs by `UPDATE_BINDINGS=1 cargo test -p airlock-api --test bindings`.
// Do not edit: the test `onboarding_bindings_are_current` fails when this file drifts.

/* eslint-disable */
import type { JsonValue } from "./api";

export type Starter = { server: string, 
/**
 * The file a save writes: the server's own policy file, or `policies/<server>.json`.
 */
file: string, 
/**
 * The policy in force now: a path, `builtin:…`, or `(no policy: …)`.
 */
current: string, 
/**
 * The policy without its tools: `version`, `default`, `all_tools`. The window adds
 * `tools.<name>` = the chosen option's rule, and `hide` for hidden tools.
 */
base: JsonValue, rows: Array<StarterRow>, };

export type StarterRow = { tool: string, 
/**
 * `read`, `write`, `communication`, `execute`, `destructive`, `financial`, `credential`,
 * `unknown`.
 */
class: string, 
/**
 * `high`, `medium`, `low`.
 */
confidence: string, 
/**
 * Why the class, in words.
 */
evidence: string, 
/**
 * The server's annotations disagree with the tool's name or description.
 */
conflict: boolean, 
/**
 * What the proposal chose: `limit` or `ask`.
 */
proposed: Choice, 
/**
 * The rule under `tools.<name>` for each choice but `hide`.
 */
options: ChoiceRules, };

export type Choice = "allow" | "limit" | "ask" | "deny" | "hide";

export type ChoiceRules = { allow: JsonValue, limit: JsonValue, ask: JsonValue, deny: JsonValue, };

export type SavedPolicy = { policy: string, 
/**
 * The config file, when the server's entry was pointed at the policy.
 */
config?: string, 
/**
 * Where the files from before are kept (`POST /api/import/undo` restores them).
 */
backups: string, };

export type ImportScan = { 
/**
 * Airlock's config file the import adds servers to (created if absent).
 */
configFile: string, 
/**
 * The agents' config files found.
 */
files: Array<string>, servers: Array<FoundServer>, 
/**
 * Servers that already go through Airlock.
 */
already: number, 
/**
 * Files that could not be read, and why.
 */
unreadable: Array<string>, };

export type FoundServer = { 
/**
 * Stable while the files do not change: the id to choose it by.
 */
id: string, name: string, 
/**
 * `Claude Code`, `VS Code`, …
 */
client: string, 
/**
 * The file and, for `~/.claude.json`, the project.
 */
file: string, 
/**
 * Its entry, secrets masked.
 */
entry: string, };

export type ImportChoice = { servers: Array<string>, };

export type ImportPreview = { diffs: Array<FileDiff>, 
/**
 * Entries left alone and why.
 */
skipped: Array<string>, 
/**
 * The servers Airlock's config gets.
 */
added: Array<string>, };

export type FileDiff = { path: string, 
/**
 * Unified diff, secrets masked.
 */
diff: string, };

export type ImportDone = { lines: Array<string>, 
/**
 * Whether `airlock serve` (or the app) must restart to serve what changed.
 */
restart: boolean, };

export type UndoRequest = { 
/**
 * Restore files edited since the change too (those edits are lost).
 */
force?: boolean, };
