//! airlock-policy: Airlock's policy language, version "1".
//!
//! - [`Policy::parse`] reads a policy strictly: every unknown field, wrong type,
//!   bad regex or unknown word is reported with file, line, column, JSON Pointer
//!   and, where it can, the likely intended word ([`Diagnostics`]). A PolicyLayer
//!   JSON policy loads unchanged.
//! - [`evaluate`] decides one call, purely: the caller passes the call's facts,
//!   any remembered human decision, a view of the counters and the time;
//!   [`evaluate_with`] also takes the [`PathContext`] that `under` and `glob`
//!   normalize path arguments against (base and home directories, case, symlinks).
//! - [`SlidingWindows`] holds the counters (sliding windows, reserve / commit /
//!   rollback, persistable events); the gate keeps it behind a `Mutex`.
//! - [`schema`] is the JSON Schema of the format, derived from [`model`].
//!
//! This crate does no I/O, reads no clock and starts no runtime: that keeps
//! decisions cheap (see `benches/decide.rs`) and lets it be fuzzed on its own.

mod check;
mod compiled;
mod counters;
mod diagnostics;
pub mod diff;
mod eval;
pub mod json;
pub mod model;
mod pathmatch;
mod paths;
mod policy;

pub use counters::{
    CounterEvent, CounterKey, CounterView, LimitExceeded, LimitUse, NoCounters, ReservationId,
    SlidingWindows,
};
pub use diagnostics::{Diagnostic, Diagnostics, Severity, did_you_mean, escape_token};
pub use diff::{Change, Direction, PolicyDiff, diff};
pub use eval::{
    CallFacts, DenyKind, Evaluation, RULE_DEFAULT, RULE_HIDDEN, RULE_REMEMBERED, Remembered,
    RememberedDecision, Verdict, evaluate, evaluate_with,
};
pub use model::{
    ApprovalKind, DefaultAction, Op, PolicyDocument, Scope, ToolAction, Window, WindowUnit,
};
pub use paths::{
    PathContext, PathContextBuilder, PathContextError, PathError, PathProblem, PathResolver,
    PathRole, PathStyle,
};
pub use policy::{Policy, Summary};

/// Everything that can go wrong in this crate, for callers that want one type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The policy file has problems (each one listed).
    #[error("{0}")]
    Invalid(#[from] Diagnostics),
    /// A reservation did not fit its limit.
    #[error(transparent)]
    LimitExceeded(#[from] LimitExceeded),
}

/// The JSON Schema of a policy file (draft 2020-12), for editors and `airlock schema`.
pub fn schema() -> serde_json::Value {
    let schema = schemars::schema_for!(model::PolicyDocument);
    schema.to_value()
}

/// [`schema`] as pretty JSON with a final newline, as committed in `docs/policy.schema.json`.
pub fn schema_json() -> String {
    let mut s = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    s.push('\n');
    s
}
