//! Wire types of the local API: what the window, the browser UI and scripts send and receive, one
//! file per resource.
//!
//! These files are the contract (`docs/ui.md` in prose). Every type is JSON in camelCase and is
//! exported to TypeScript with ts-rs into `ui/src/bindings/api.ts`, which is committed; the test
//! `bindings_are_current` fails when the file drifts from these types, and
//! `UPDATE_BINDINGS=1 cargo test -p airlock-api` rewrites it. Times are Unix milliseconds
//! (`…Ms`) and latencies microseconds (`…Us`); both are plain TypeScript numbers (they stay far
//! below 2^53). Optional fields are left out of the JSON when absent (`field?: T` in TypeScript).

use ts_rs::TS;

mod approvals;
mod events;
mod grants;
mod history;
pub mod onboarding;
mod passphrase;
mod policies;
mod staged;
mod status;

/// The stored vocabulary, defined once in the store (with the names it stores) and sent as is:
/// what was decided for a call (`Decision`), who decided (`DecidedBy`), how the upstream answered
/// (`Outcome`), where an approval request stands (`ApprovalStatus`), and a human's or a
/// remembered decision (`Effect`: approve or deny).
pub use airlock_store::{ApprovalStatus, DecidedBy, Decision, Effect, Outcome};
pub use approvals::*;
pub use events::*;
pub use grants::*;
pub use history::*;
pub use passphrase::*;
pub use policies::*;
pub use staged::*;
pub use status::*;

/// Writes the TypeScript declarations of every wire type, in a stable order, as one module.
pub fn typescript_bindings() -> String {
    let cfg = ts_rs::Config::new().with_large_int("number");
    let decls = [
        Decision::decl(&cfg),
        DecidedBy::decl(&cfg),
        Outcome::decl(&cfg),
        ApprovalStatus::decl(&cfg),
        Effect::decl(&cfg),
        Status::decl(&cfg),
        ServerStatus::decl(&cfg),
        PolicyState::decl(&cfg),
        ClientInfo::decl(&cfg),
        Approval::decl(&cfg),
        ArgsScope::decl(&cfg),
        Remember::decl(&cfg),
        DecisionSource::decl(&cfg),
        DecideRequest::decl(&cfg),
        BulkDecideRequest::decl(&cfg),
        BulkDecideResponse::decl(&cfg),
        Remembered::decl(&cfg),
        Call::decl(&cfg),
        HistoryQuery::decl(&cfg),
        ExportFormat::decl(&cfg),
        CallPage::decl(&cfg),
        Stats::decl(&cfg),
        StatsBucket::decl(&cfg),
        PolicyDoc::decl(&cfg),
        PolicyText::decl(&cfg),
        Validation::decl(&cfg),
        Diagnostic::decl(&cfg),
        ToolPreview::decl(&cfg),
        Grant::decl(&cfg),
        CreateGrant::decl(&cfg),
        GrantToken::decl(&cfg),
        AgentSession::decl(&cfg),
        Access::decl(&cfg),
        SetAccess::decl(&cfg),
        AccessChange::decl(&cfg),
        PauseRequest::decl(&cfg),
        Event::decl(&cfg),
        ErrorBody::decl(&cfg),
        ErrorDetail::decl(&cfg),
        PassphraseState::decl(&cfg),
        SetPassphrase::decl(&cfg),
        ChangeDirection::decl(&cfg),
        PolicyChange::decl(&cfg),
        StagedChange::decl(&cfg),
        StagedDecision::decl(&cfg),
    ];
    let mut out = String::from(
        "// Generated from crates/api/src/types/ by `UPDATE_BINDINGS=1 cargo test -p airlock-api`.\n\
         // Do not edit: the test `bindings_are_current` fails when this file drifts.\n\n\
         /* eslint-disable */\n\
         export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]?: JsonValue } | null;\n",
    );
    for decl in decls {
        out.push('\n');
        out.push_str("export ");
        out.push_str(&decl);
        out.push('\n');
    }
    out
}
