// Generated from crates/api/src/routes/pins.rs by `UPDATE_BINDINGS=1 cargo test -p airlock-api`.
// Do not edit: the test `pin_bindings_are_current` fails when this file drifts.

/* eslint-disable */
import type { DecisionSource, JsonValue } from "./api";

export type PinState = "pinned" | "new" | "changed" | "rejected";

export type DiffTag = "equal" | "delete" | "insert";

export type DiffPart = { tag: DiffTag, text: string, };

export type ToolPin = { server: string, tool: string, state: PinState, 
/**
 * The accepted definition's sha-256 (absent for a new tool).
 */
pinnedHash?: string, 
/**
 * The accepted definition: name, title, description, inputSchema, outputSchema,
 * annotations.
 */
pinned?: JsonValue, 
/**
 * The definition the server lists now, and its hash (what Accept accepts).
 */
seenHash: string, seen: JsonValue, 
/**
 * The description, accepted → listed, word by word.
 */
descriptionDiff: Array<DiffPart>, 
/**
 * The rest of the definition (pretty JSON, keys sorted), line by line.
 */
schemaDiff: Array<DiffPart>, firstSeenMs: number, changedMs: number, };

export type ToolPinEvent = { id: number, atMs: number, server: string, tool: string, 
/**
 * `pinned`, `new`, `changed`, `accepted` or `rejected`.
 */
event: string, hash: string, previousHash?: string, 
/**
 * Who decided (`first tools/list`, `window`, `cli`, `gate.on_tool_change`, ...); absent
 * for what the server did.
 */
actor?: string, };

export type PinQuery = { server?: string, tool?: string, 
/**
 * History entries, newest first (default 100, at most 1000).
 */
limit?: number, };

export type PinDecision = { 
/**
 * The `seenHash` the human reviewed (a prefix of 8 or more hex digits is enough).
 */
hash: string, 
/**
 * Where the human decided.
 */
source?: DecisionSource, };
