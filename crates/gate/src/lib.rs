//! airlock-gate: the one thing the CLI, the desktop app and the tests all start.
//!
//! It joins the pure policy engine (airlock-policy), the relay (airlock-proxy) and the history
//! (airlock-store): it implements the relay's `Interceptor`, so every `tools/call` is decided by
//! policy, limits, remembered decisions and, when asked for, a human; every call is recorded before
//! it is forwarded. [`Gate`] is the handle; [`Gate::build`] starts one.

pub mod access;
pub mod approvals;
pub mod clock;
pub mod config;
mod counters;
mod decide;
mod duration;
mod error;
mod events;
mod gate;
mod grant_admin;
pub mod grants;
pub mod identity;
pub mod logging;
mod passphrase;
mod pin_admin;
pub mod pins;
pub mod policies;
mod probe;
mod roots;
pub mod runtime;
pub mod scope;
mod staging;
mod store_glue;
mod upstreams;
mod watch;

pub use approvals::{
    Approval, ApprovalRequest, ApprovalStatus, DecideError, DecisionSource, HumanDecision,
    RememberedRule,
};
pub use config::Config;
pub use decide::META_KEY;
pub use decide::guard::{GUARD_KIND, GUARD_RULE, GuardContext, OwnFile, OwnFileHit, OwnFiles};
pub use duration::parse_duration;
pub use error::GateError;
pub use events::GateEvent;
pub use gate::{BindPolicyError, Gate, GateOptions, PolicySaveError, Remember, ToolPreview};
pub use grant_admin::{GrantError, GrantInfo};
pub use passphrase::{
    FAILURE_WINDOW_MS, MAX_FAILURES, MIN_CHARS, PassphraseError, PassphraseStatus,
};
pub use pins::{OnToolChange, PinError, PinState, PinnedTool, ToolDiff};
pub use policies::{StagedError, StagedPolicy};
pub use probe::configured_server_tools;
pub use roots::local_path_context;
