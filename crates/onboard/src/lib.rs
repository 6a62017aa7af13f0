//! airlock-onboard: getting a user's servers behind Airlock without writing a policy or editing a
//! config by hand. One implementation behind `airlock import`, `airlock policy init` and the
//! window's "Import from your agents" and "Create a policy".
//!
//! - [`clients`]: where each agent (Claude Desktop, Claude Code, Cursor, VS Code, Windsurf) keeps
//!   its MCP servers, and how its entry is pointed at Airlock.
//! - [`jsonc`]: config files edited in place through a concrete syntax tree (comments, trailing
//!   commas and key order kept), and diffs with secrets masked.
//! - [`mask`]: what counts as a secret in a server entry (`env`, `headers`, and inside `args`
//!   and URLs).
//! - [`backup`]: a timestamped copy of every file before it changes, and undo.
//! - [`import`]: the import as a plan (found servers → chosen → diffs) and its application.
//! - [`create`]: a starter policy proposed from a server's tools, written to `policies/` and
//!   pointed at from the server's config entry.
//!
//! Nothing here prints: callers (the CLI, the API) show what the functions return. File I/O is
//! blocking and small; async callers run it on a blocking thread.

pub mod backup;
pub mod clients;
pub mod create;
pub mod import;
pub mod jsonc;
pub mod mask;

use std::path::PathBuf;

/// What went wrong while onboarding, written for the person who asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot back up `{}` to `{}`", path.display(), dir.display())]
    Backup {
        path: PathBuf,
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` is not valid JSON: {message}", path.display())]
    NotJson { path: PathBuf, message: String },
    #[error("cannot edit `{}`: {reason}", path.display())]
    Edit { path: PathBuf, reason: String },
    #[error("`{}` does not load", path.display())]
    Config {
        path: PathBuf,
        #[source]
        source: Box<airlock_gate::GateError>,
    },
    #[error("the new config does not load (a bug in Airlock, please report it)")]
    ConfigAfter(#[source] Box<airlock_gate::GateError>),
    #[error("the proposed policy does not load (a bug in Airlock, please report it): {0}")]
    BadProposal(String),
    #[error("{0}")]
    Probe(String),
    #[error("no server `{name}` in the config (it has: {known})")]
    UnknownServer { name: String, known: String },
    #[error(
        "Airlock runs on its built-in config; save a config file first (`airlock import` creates one)"
    )]
    NoConfigFile,
    #[error("cannot find your home folder")]
    NoHome,
    #[error("no server `{0}` in your agents' configs")]
    NotFound(String),
    #[error("no import to undo (no backups in `{}`)", .0.display())]
    NothingToUndo(PathBuf),
    #[error("changed since the import: {files}; restoring them loses those changes (copy what you need from `{}` first)", dir.display())]
    EditedSince { files: String, dir: PathBuf },
    #[error("`{}` is not a manifest", path.display())]
    Manifest {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("the policy is invalid: {0}")]
    InvalidPolicy(airlock_policy::Diagnostics),
}

impl Error {
    /// The message and every cause, `a: b: c`, for surfaces that show one line.
    pub fn chain(&self) -> String {
        let mut out = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(e) = cause {
            out.push_str(": ");
            out.push_str(&e.to_string());
            cause = e.source();
        }
        out
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn read_error(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Read {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn write_error(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Write {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `text` to `path`, creating its folder. In place, not through a rename: an existing
/// file keeps its permissions (`~/.claude.json` is private to its user).
pub fn write_file(path: &std::path::Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(write_error(parent))?;
    }
    std::fs::write(path, text).map_err(write_error(path))
}
