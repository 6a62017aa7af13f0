//! [`GateError`]: what can stop the gate from starting or serving, written for the person running
//! it. Each variant keeps its cause as a typed [`std::error::Error::source`], so a reporter that
//! walks the chain (the CLI's `{:#}`, the app's start-up screen) shows it once, after the message.
//!
//! A leaf: it names no other module of the crate, so every module can return these errors
//! without an import circle. [`DecideError`] (re-exported by `approvals`) and [`ScopeError`]
//! (re-exported by `scope`) live here for that reason.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Errors of the gate.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("cannot read config `{}`", path.display())]
    ConfigRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A setting the config checker lets through but the gate cannot use; `message` says why.
    #[error("invalid config `{path}`: {message}")]
    ConfigInvalid { path: String, message: String },
    /// The config file has problems, each with its position (warnings may be among them).
    #[error("the config does not load:\n{0}")]
    ConfigProblems(airlock_policy::Diagnostics),
    #[error("cannot use data directory `{}`", path.display())]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The history database failed; `doing` says at what, e.g. "open the history database".
    #[error("cannot {doing}")]
    Store {
        doing: &'static str,
        #[source]
        source: airlock_store::StoreError,
    },
    /// Work moved off the async runtime (opening the database, resolving roots) did not finish.
    #[error("cannot {doing}: its task stopped")]
    Blocking {
        doing: &'static str,
        #[source]
        source: tokio::task::JoinError,
    },
    #[error(
        "cannot listen on {addr} (is another Airlock running? stop it, or pick another port with --listen or gate.listen)"
    )]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the server stopped")]
    Serve(#[source] std::io::Error),
    #[error(transparent)]
    Decide(#[from] DecideError),
    /// A passphrase approval or change was refused (`crate::passphrase`).
    #[error(transparent)]
    Passphrase(#[from] PassphraseError),
}

impl GateError {
    /// A history-database failure while doing `doing` (a verb phrase: "store the decision").
    pub(crate) fn store(doing: &'static str) -> impl FnOnce(airlock_store::StoreError) -> Self {
        move |source| GateError::Store { doing, source }
    }
}

/// Why a human decision cannot be applied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecideError {
    #[error("no approval request `{0}`")]
    NotFound(String),
    #[error("approval request `{id}` is already {status}")]
    NotPending { id: String, status: &'static str },
    #[error(transparent)]
    Scope(#[from] ScopeError),
}

/// Why a scope cannot be remembered as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("the call has no string argument `{0}` to scope the decision to")]
    NoArgument(String),
    #[error("`{path}` is not an absolute path that can be normalized: {detail}")]
    BadPath { path: String, detail: String },
    #[error(
        "`{value}` (argument `{argument}`) is not under `{path}`: the call on screen would not be covered"
    )]
    NotCovered {
        argument: String,
        value: String,
        path: String,
    },
    #[error(
        "a decision for this request only covers these arguments; widen it with a remembered one"
    )]
    OnceWidened,
}

/// Why a passphrase step was refused. Messages are for the person at the window or terminal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PassphraseError {
    /// An approval of a passphrase rule came without one.
    #[error(
        "approving this request needs the user's passphrase: type it on the request's card in the Airlock window, or run `airlock approve`, which asks for it"
    )]
    Required,
    /// A passphrase rule asked, but none was ever set.
    #[error(
        "no passphrase is set yet: set one in the Airlock window or with `airlock passphrase set`, then approve"
    )]
    NotSet,
    /// The passphrase does not match.
    #[error("wrong passphrase ({left} more attempt(s) this minute)")]
    Wrong {
        /// Attempts left before the rate limit.
        left: usize,
    },
    /// Too many wrong ones lately.
    #[error("too many wrong passphrases: try again in {} s", .retry_after_ms.div_ceil(1000))]
    RateLimited {
        /// When an attempt is accepted again.
        retry_after_ms: u64,
    },
    /// Setting a new one when one is set, without the current one.
    #[error("a passphrase is already set: changing it needs the current one")]
    AlreadySet,
    /// Too short or too long.
    #[error(
        "the passphrase must have at least {min_chars} characters and at most {max_bytes} bytes"
    )]
    BadLength {
        /// The shortest accepted (`passphrase::MIN_CHARS`).
        min_chars: usize,
        /// The longest accepted.
        max_bytes: usize,
    },
    /// Another change won the race.
    #[error("the passphrase was changed meanwhile: try again")]
    Changed,
    /// Hashing or the store failed.
    #[error("cannot check the passphrase: {0}")]
    Internal(String),
}
