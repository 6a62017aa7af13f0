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

use std::net::SocketAddr;
use std::path::PathBuf;

pub use approvals::{
    Approval, ApprovalRequest, ApprovalStatus, DecideError, DecisionSource, HumanDecision,
    RememberedRule,
};
pub use config::Config;
pub use decide::META_KEY;
pub use decide::guard::{GUARD_KIND, GUARD_RULE, GuardContext, OwnFile, OwnFileHit, OwnFiles};
pub use duration::parse_duration;
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

/// Errors of the gate, written for the person running it.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("cannot read config `{path}`: {error}")]
    ConfigRead {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("invalid config `{path}`: {message}")]
    ConfigInvalid { path: String, message: String },
    /// The config file has problems, each with its position (warnings may be among them).
    #[error("the config does not load:\n{0}")]
    ConfigProblems(airlock_policy::Diagnostics),
    #[error("cannot use data directory `{path}`: {error}")]
    DataDir {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot open the history database: {0}")]
    Store(String),
    #[error(
        "cannot listen on {addr}: {error} (is another Airlock running? stop it, or pick another port with --listen or gate.listen)"
    )]
    Bind {
        addr: SocketAddr,
        error: std::io::Error,
    },
    #[error("server error: {0}")]
    Serve(std::io::Error),
    #[error(transparent)]
    Decide(#[from] DecideError),
    /// A passphrase approval or change was refused (`crate::passphrase`).
    #[error(transparent)]
    Passphrase(#[from] PassphraseError),
}
