//! The store's one error type.
//!
//! Callers on the call path mostly need one question answered: could the write be made durable?
//! [`StoreError::is_write_failure`] says so, and the variants behind it (disk full, read-only,
//! locked, corrupt, I/O) carry messages a user can act on. The enum is `Clone` because one failed
//! group commit answers every caller whose write was in that group; details are kept as text.

use std::path::Path;

/// Everything that can go wrong in the store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The disk (or the database's page limit) is full; nothing was written.
    #[error("cannot write to the store: the disk is full")]
    DiskFull,
    /// The database file or its directory cannot be written.
    #[error("cannot write to the store: the database file is read-only ({detail})")]
    ReadOnly { detail: String },
    /// Another process holds the write lock longer than the busy timeout.
    #[error("cannot write to the store: the database is locked by another process")]
    Locked,
    /// The file is damaged or is not an SQLite database.
    #[error("the store is corrupt or not an airlock database: {detail}")]
    Corrupt { detail: String },
    /// An operating-system I/O error while writing.
    #[error("cannot write to the store: {detail}")]
    Io { detail: String },
    /// The parent directory of the database could not be created.
    #[error("cannot create the store directory `{path}`: {detail}")]
    CreateDir { path: String, detail: String },
    /// The database file could not be opened.
    #[error("cannot open the store `{path}`: {detail}")]
    Open { path: String, detail: String },
    /// A migration failed; the store is left at the previous schema version.
    #[error("cannot upgrade the store to schema version {version}: {detail}")]
    Migration { version: usize, detail: String },
    /// The file was written by a newer Airlock with a schema this build does not know.
    #[error(
        "the store has schema version {found}, newer than this build knows ({known}): upgrade airlock"
    )]
    SchemaTooNew { found: usize, known: usize },
    /// The writer thread has stopped; no write can be made.
    #[error("the store is closed")]
    Closed,
    /// A query failed for a reason other than the above.
    #[error("store query failed: {detail}")]
    Query { detail: String },
    /// `complete_call` named a call that is not in the history.
    #[error("call `{0}` is not in the history")]
    UnknownCall(i64),
    /// `complete_call` was called twice for one call.
    #[error("call `{0}` is already completed")]
    AlreadyCompleted(i64),
    /// A grant with this name or token already exists.
    #[error("a grant named `{0}` or with the same token already exists")]
    DuplicateGrant(String),
    /// An approval with this id already exists.
    #[error("an approval with id `{0}` already exists")]
    DuplicateApproval(String),
    /// A configured redaction pattern is not a valid regular expression.
    #[error("invalid redaction pattern `{pattern}`: {detail}")]
    BadPattern { pattern: String, detail: String },
    /// A stored value could not be read back (an unknown enum text, bad JSON).
    #[error("unexpected value `{value}` in column `{column}`")]
    BadValue { column: String, value: String },
    /// Writing an export failed.
    #[error("cannot write the export: {detail}")]
    Export { detail: String },
    /// An argument given to the store is out of range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl StoreError {
    /// True when the error means a write could not be made durable. The gate must not forward a
    /// call whose record failed this way (fail closed).
    pub fn is_write_failure(&self) -> bool {
        matches!(
            self,
            Self::DiskFull
                | Self::ReadOnly { .. }
                | Self::Locked
                | Self::Corrupt { .. }
                | Self::Io { .. }
                | Self::Closed
        )
    }

    pub(crate) fn open(path: &Path, err: impl std::fmt::Display) -> Self {
        Self::Open {
            path: path.display().to_string(),
            detail: err.to_string(),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode as C;
        if let rusqlite::Error::SqliteFailure(code, _) = &err {
            let detail = err.to_string();
            return match code.code {
                C::DiskFull => Self::DiskFull,
                C::ReadOnly => Self::ReadOnly { detail },
                C::DatabaseBusy | C::DatabaseLocked => Self::Locked,
                C::DatabaseCorrupt | C::NotADatabase => Self::Corrupt { detail },
                C::SystemIoFailure | C::CannotOpen | C::PermissionDenied => Self::Io { detail },
                _ => Self::Query { detail },
            };
        }
        Self::Query {
            detail: err.to_string(),
        }
    }
}

/// The store's result type.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
