// Generated from crates/api/src/types/ by `UPDATE_BINDINGS=1 cargo test -p airlock-api`.
// Do not edit: the test `bindings_are_current` fails when this file drifts.

/* eslint-disable */
export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]?: JsonValue } | null;

export type Decision = "allow" | "deny" | "require_approval";

export type DecidedBy = "policy" | "human" | "timeout" | "remembered" | "cancelled" | "disconnected" | "protocol" | "restart" | "error" | "paused" | "guard";

export type Outcome = "ok" | "tool_error" | "rpc_error" | "failed" | "cancelled" | "timeout" | "interrupted";

export type ApprovalStatus = "pending" | "approved" | "denied" | "expired" | "withdrawn";

export type Effect = "approve" | "deny";

export type Status = { 
/**
 * Airlock's version.
 */
version: string, 
/**
 * When true every call is denied "paused by the user".
 */
paused: boolean, 
/**
 * Approvals waiting for a human.
 */
pending: number, 
/**
 * Every configured upstream server.
 */
servers: Array<ServerStatus>, 
/**
 * What in the config loads but is likely not what was meant (e.g. no servers at all),
 * each as `file:line:column: warning: /pointer: message`, with a `= help:` line when the
 * gate has a hint.
 */
configWarnings: Array<string>, };

export type ServerStatus = { 
/**
 * The name agents use in `/mcp/<name>`.
 */
name: string, 
/**
 * `stdio`, `streamable-http`, `sse` or `builtin`.
 */
transport: string, 
/**
 * Agent sessions connected now.
 */
sessions: number, 
/**
 * The last upstream failure, if any.
 */
lastError?: string, 
/**
 * How many times the upstream was restarted or reconnected.
 */
restarts: number, 
/**
 * The policy that governs this server.
 */
policy: PolicyState, };

export type PolicyState = { 
/**
 * Where the policy comes from (a file path).
 */
source: string, 
/**
 * Revision (content hash) of the policy in force.
 */
revision?: string, 
/**
 * Why the last reload failed; the previous good policy stays in force.
 */
error?: string, };

export type ClientInfo = { 
/**
 * e.g. `claude-code`.
 */
name: string, 
/**
 * The client's version, when it gave one.
 */
version?: string, };

export type Approval = { 
/**
 * Stable id, also given to the agent in "approval pending (id …)".
 */
id: string, 
/**
 * When the request was made.
 */
createdMs: number, 
/**
 * When it expires unanswered.
 */
expiresMs: number, 
/**
 * Where it stands.
 */
status: ApprovalStatus, 
/**
 * The grant (agent identity) that made the call; `default` for an agent without a token.
 */
grant: string, 
/**
 * How the agent is named everywhere: the grant (with its client), or for an agent without a
 * token its declared client name marked `(no token)`, e.g. `claude-code (no token)`.
 */
agent: string, 
/**
 * True when the agent sent no grant token: it is not authenticated, and its client name is
 * only what it claims.
 */
tokenless: boolean, 
/**
 * Upstream server name.
 */
server: string, 
/**
 * Tool name.
 */
tool: string, 
/**
 * The call's arguments, secrets already redacted by the gate.
 */
arguments: JsonValue, 
/**
 * JSON Pointer of the policy rule that asked, e.g. `/tools/x/action`.
 */
rule: string, 
/**
 * The rule's `reason`, shown to the human.
 */
reason?: string, 
/**
 * The agent's MCP client.
 */
client?: ClientInfo, 
/**
 * The agent session the call came from.
 */
sessionId: string, 
/**
 * Agents held on this request right now.
 */
waiting: number, 
/**
 * The human's note (on a decided request).
 */
note?: string, 
/**
 * On a decided request: what the remembered decision it created covers, in words.
 */
remembered?: string, 
/**
 * Approving it needs the user's passphrase (`"approval": "passphrase"`): send it as
 * `passphrase` with the decision. Denying never needs it.
 */
needsPassphrase: boolean, };

export type ArgsScope = { "kind": "same" } | { "kind": "any" } | { "kind": "under", 
/**
 * The argument's name, e.g. `path`.
 */
argument: string, 
/**
 * An absolute directory, e.g. `/home/me/project`.
 */
path: string, };

export type Remember = "once" | "minutes" | "session" | "always";

export type DecisionSource = "window" | "browser" | "cli" | "notification" | "api";

export type DecideRequest = { 
/**
 * Approve or deny.
 */
decision: Effect, 
/**
 * How long to remember it; `once` when absent.
 */
remember?: Remember, 
/**
 * With `remember: "minutes"`: how many (1 to 10080; default 10).
 */
minutes?: number, 
/**
 * With a remembered decision: which arguments it covers; the same arguments when absent.
 */
args?: ArgsScope, 
/**
 * A note the agent reads (on deny) and history keeps.
 */
note?: string, 
/**
 * Where the human decided; `api` when absent.
 */
source?: DecisionSource, 
/**
 * The user's passphrase, to approve a request that needs it (`needsPassphrase`); ignored
 * otherwise. Never stored or logged.
 */
passphrase?: string, };

export type BulkDecideRequest = { 
/**
 * Approve or deny.
 */
decision: Effect, 
/**
 * Tool name.
 */
tool: string, 
/**
 * Grant name.
 */
grant: string, 
/**
 * With the grant `default` (agents without a token): the client name they declared; absent
 * for clients that declared none. One bulk decision never answers two tokenless programs.
 */
client?: string, 
/**
 * Limit to one server.
 */
server?: string, 
/**
 * A note the agents read (on deny).
 */
note?: string, 
/**
 * Where the human decided; `api` when absent.
 */
source?: DecisionSource, };

export type BulkDecideResponse = { 
/**
 * How many pending requests were decided.
 */
decided: number, };

export type Remembered = { 
/**
 * Id for `DELETE /api/remembered/{id}`.
 */
id: string, 
/**
 * Grant it applies to.
 */
grant: string, 
/**
 * For an agent without a token: the declared client name it applies to (`""` for a client
 * that declared none); absent when the grant (or the session) is the identity.
 */
client?: string, 
/**
 * Who it covers, in words, e.g. `any tokenless agent that says it is \`claude-code\``.
 */
agent: string, 
/**
 * Server it applies to.
 */
server: string, 
/**
 * Tool it applies to.
 */
tool: string, 
/**
 * Which arguments it covers.
 */
args: ArgsScope, 
/**
 * With `args: same`: the canonical hash of the arguments it covers.
 */
argsHash?: string, 
/**
 * The whole scope in one sentence, e.g. "approve \`x\` on \`y\` for grant \`ci\`, with
 * these arguments only, for 10 min".
 */
scope: string, 
/**
 * What it decides.
 */
effect: Effect, 
/**
 * The human's note.
 */
note?: string, 
/**
 * When it was made.
 */
createdMs: number, 
/**
 * When it stops applying; never when absent.
 */
expiresMs?: number, 
/**
 * When set, it applies to this agent session only.
 */
sessionId?: string, };

export type Call = { 
/**
 * History row id.
 */
id: number, 
/**
 * When the call arrived.
 */
timeMs: number, 
/**
 * Grant (agent identity).
 */
grant: string, 
/**
 * How the agent is named: the grant (with its client), or `<client> (no token)` for an
 * agent without a token, which is not authenticated.
 */
agent: string, 
/**
 * Agent session.
 */
sessionId: string, 
/**
 * The agent's MCP client.
 */
client?: ClientInfo, 
/**
 * Upstream server.
 */
server: string, 
/**
 * Tool name.
 */
tool: string, 
/**
 * Arguments with secrets redacted.
 */
arguments: JsonValue, 
/**
 * `allow`, `deny` or `require_approval` (the latter while a human decides).
 */
decision: Decision, 
/**
 * Finer kind, e.g. `deny_if`, `rate_limit`, `human_denied`, `approval_timeout`, `paused`.
 */
decisionKind: string, 
/**
 * JSON Pointer of the rule, or `(default)`, `(hidden)`, `(no grant)`.
 */
rule: string, 
/**
 * What the agent was told (denials), or the rule's reason.
 */
message: string, 
/**
 * Who or what decided.
 */
decidedBy: DecidedBy, 
/**
 * With `decidedBy: "human"`: where.
 */
decisionSource?: string, 
/**
 * The approval request, when a human was asked.
 */
approvalId?: string, 
/**
 * Upstream outcome once complete: `ok`, `tool_error`, `rpc_error`, `failed`, `cancelled`,
 * `timeout`, `interrupted`.
 */
outcome?: Outcome, 
/**
 * Time from arrival to answer.
 */
latencyUs?: number, };

export type HistoryQuery = { 
/**
 * From this time (inclusive, ms).
 */
from?: number, 
/**
 * Up to this time (exclusive, ms).
 */
to?: number, 
/**
 * Server name.
 */
server?: string, 
/**
 * Tool name.
 */
tool?: string, 
/**
 * Grant name.
 */
grant?: string, 
/**
 * `allow`, `deny` or `require_approval`.
 */
decision?: Decision, 
/**
 * Who decided.
 */
decidedBy?: DecidedBy, 
/**
 * Full-text search over tool and arguments.
 */
q?: string, 
/**
 * From `nextCursor` of the previous page.
 */
cursor?: string, 
/**
 * Page size (1 to 500; default 50).
 */
limit?: number, 
/**
 * Only for stats: bucket width in seconds (default 3600).
 */
bucketSeconds?: number, 
/**
 * Only for export: `jsonl` (default) or `csv`.
 */
format?: ExportFormat, };

export type ExportFormat = "jsonl" | "csv";

export type CallPage = { 
/**
 * The calls.
 */
items: Array<Call>, 
/**
 * Pass as `cursor` for the next page; absent on the last page.
 */
nextCursor?: string, };

export type Stats = { 
/**
 * Buckets, oldest first; a bucket without calls is absent.
 */
buckets: Array<StatsBucket>, };

export type StatsBucket = { 
/**
 * Bucket start.
 */
startMs: number, 
/**
 * Tool name.
 */
tool: string, 
/**
 * Calls in the bucket.
 */
calls: number, 
/**
 * Of which denied.
 */
denials: number, };

export type PolicyDoc = { 
/**
 * Id for `PUT /api/policies/{id}`.
 */
id: string, 
/**
 * The server it governs, when bound to one.
 */
server?: string, 
/**
 * The grant it governs, when bound to one.
 */
grant?: string, 
/**
 * File path.
 */
source: string, 
/**
 * The file's text as on disk.
 */
text: string, 
/**
 * Revision in force.
 */
revision?: string, 
/**
 * Why the file on disk is not in force.
 */
error?: string, };

export type PolicyText = { 
/**
 * The whole policy JSON.
 */
text: string, };

export type Validation = { 
/**
 * True when the text is a valid policy.
 */
ok: boolean, 
/**
 * Problems found, in text order.
 */
diagnostics: Array<Diagnostic>, };

export type Diagnostic = { 
/**
 * 1-based line.
 */
line: number, 
/**
 * 1-based column.
 */
column: number, 
/**
 * JSON Pointer of the offending value.
 */
pointer: string, 
/**
 * What is wrong.
 */
message: string, 
/**
 * The likely fix, e.g. the intended word.
 */
hint?: string, };

export type ToolPreview = { 
/**
 * Tool name.
 */
name: string, 
/**
 * The tool's description from the upstream.
 */
description?: string, 
/**
 * Removed from `tools/list` by `hide`.
 */
hidden: boolean, 
/**
 * What a call with no arguments-based conditions would get.
 */
decision: Decision, 
/**
 * The rule that decides it.
 */
rule: string, };

export type Grant = { 
/**
 * Name shown in history.
 */
name: string, 
/**
 * Servers it may use; all when absent.
 */
servers?: Array<string>, 
/**
 * When it was created.
 */
createdMs?: number, 
/**
 * Revoked grants keep their history but authenticate nobody.
 */
revoked: boolean, };

export type CreateGrant = { 
/**
 * Name: letters, digits, `-`, `_`, `.`.
 */
name: string, 
/**
 * Servers it may use; all when absent.
 */
servers?: Array<string>, };

export type GrantToken = { 
/**
 * Grant name.
 */
name: string, 
/**
 * The bearer token; Airlock keeps only its hash.
 */
token: string, 
/**
 * On create while `gate.require_grants` is off: that agents without a token still get in.
 */
note?: string | null, };

export type AgentSession = { 
/**
 * Airlock's id for the session.
 */
sessionId: string, 
/**
 * The server it talks to.
 */
server: string, 
/**
 * Its grant; `default` without a token.
 */
grant: string, 
/**
 * The client name it declared.
 */
client?: string, 
/**
 * How it is named, e.g. `claude-code (no token)`.
 */
agent: string, 
/**
 * It sent no grant token (not authenticated).
 */
tokenless: boolean, };

export type Access = { 
/**
 * `gate.require_grants`: agents without a grant token are refused.
 */
requireGrants: boolean, 
/**
 * Grants with a token (not revoked).
 */
grants: number, 
/**
 * Open agent sessions.
 */
sessions: Array<AgentSession>, 
/**
 * How many of them sent no token (refused from their next request if tokens become
 * required).
 */
tokenlessSessions: number, };

export type SetAccess = { 
/**
 * Turn `gate.require_grants` on or off.
 */
requireGrants: boolean, };

export type AccessChange = { 
/**
 * The setting now.
 */
requireGrants: boolean, 
/**
 * Tokenless sessions connected when it changed.
 */
tokenlessSessions: number, 
/**
 * The config file it was saved to; absent when Airlock runs on its built-in config.
 */
savedTo?: string, 
/**
 * What changed, for the person who switched it.
 */
message: string, };

export type PauseRequest = { 
/**
 * True to deny every call "paused by the user".
 */
paused: boolean, };

export type Event = { "event": "approval", "data": Approval } | { "event": "call", "data": Call } | { "event": "status", "data": Status };

export type ErrorBody = { 
/**
 * The error.
 */
error: ErrorDetail, };

export type ErrorDetail = { 
/**
 * Stable machine code, e.g. `not_found`, `conflict`, `invalid_policy`.
 */
code: string, 
/**
 * A sentence for people.
 */
message: string, 
/**
 * With `invalid_policy`: where the policy is wrong.
 */
diagnostics?: Array<Diagnostic>, };

export type PassphraseState = { 
/**
 * True once a passphrase is set.
 */
set: boolean, 
/**
 * When it was set or last changed (Unix ms).
 */
setMs?: number, 
/**
 * Shortest passphrase accepted, in characters.
 */
minChars: number, };

export type SetPassphrase = { 
/**
 * The new passphrase.
 */
passphrase: string, 
/**
 * The current one; required once one is set.
 */
current?: string, 
/**
 * Where it is set from (`window`, `cli`, …); `api` when absent.
 */
source?: DecisionSource, };

export type ChangeDirection = "tighter" | "looser";

export type PolicyChange = { 
/**
 * Tighter or looser.
 */
direction: ChangeDirection, 
/**
 * JSON Pointer of what changed, e.g. `/tools/write_file/action`.
 */
pointer: string, 
/**
 * A sentence for the human: "`write_file` would be allowed without asking".
 */
text: string, };

export type StagedChange = { 
/**
 * The policy's id, as in `GET /api/policies`.
 */
id: string, 
/**
 * File path.
 */
source: string, 
/**
 * The servers whose calls it decides.
 */
servers: Array<string>, 
/**
 * Revision of the version in force (absent when none ever was).
 */
inForce?: string, 
/**
 * Revision of the staged version: pass it back to apply exactly what was reviewed.
 */
revision: string, 
/**
 * Every difference, looser ones first.
 */
changes: Array<PolicyChange>, 
/**
 * The staged version's text.
 */
text: string, };

export type StagedDecision = { 
/**
 * The staged revision the human reviewed; refused (409) when the file changed since.
 */
revision?: string, };
