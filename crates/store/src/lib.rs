//! airlock-store: Airlock's SQLite store.
//!
//! One file holds the call history (hash-chained, full-text indexed), approval requests,
//! remembered decisions, limit counter events, grants, and the pinned tool definitions with
//! their history (`tables/tool_pins.rs`).
//!
//! - **One front door.** [`Store::open`] creates the file private (0600, directory 0700), sets
//!   WAL, `synchronous=NORMAL`, `busy_timeout` and `foreign_keys` on every connection (`db.rs`),
//!   and applies the embedded migrations (`migrate.rs`, files in `migrations/`; a migration that
//!   has shipped is **never edited**, a change is a new numbered file). [`Store::open_in_memory`]
//!   gives tests a private throw-away store.
//! - **One writer.** All writes go to one thread that commits whatever is queued as one
//!   transaction (group commit) and acknowledges each caller after the commit (`writer.rs`).
//!   WAL checkpoints run beside it on a thread of their own, never inside a commit
//!   (`checkpoint.rs`); its own chores run between groups in bounded steps (`housekeeping.rs`).
//!   Reads use a small pool of connections on blocking threads. No method blocks the async
//!   runtime.
//! - **Fail closed.** [`Store::record_call`] resolves only after the row is committed; the gate
//!   forwards a call only after it returns `Ok`. Errors that mean "cannot write" (disk full,
//!   read-only, locked, corrupt, I/O) are told apart by [`StoreError::is_write_failure`].
//! - **Redaction before storage** (`redact`): secrets are replaced by key name and by value
//!   pattern before anything reaches the file; [`canonical_args_hash`] identifies identical calls
//!   from the unredacted arguments.
//! - **Search.** History queries filter by time, server, tool, grant, decision and decider, and
//!   search tool names and redacted arguments with FTS5. The full-text index is filled by the
//!   writer in batches off the per-call commit, so it trails by an idle moment
//!   ([`Store::flush_search_index`] waits for it). Pages are cursor-based and stable.
//! - **Hourly counts** (`tables/call_counts.rs`): calls per hour, server, tool and decision, kept
//!   in each call's transaction; charts read whole hours from them, and a time range narrows a
//!   page's id range.
//! - **Integrity** (`chain.rs`): calls and completions are two append-only hash chains;
//!   [`Store::verify`] finds the first edited, inserted or deleted row; [`Store::prune`] keeps
//!   them verifiable from a stored anchor.
//! - **Bounded counters** (`tables/counter_events.rs`): counter events are kept for
//!   [`COUNTER_RETENTION`] (8 days, what the gate reads back at start-up); the writer deletes
//!   older ones once a day, and [`Store::prune`] does too.
//!
//! **Layout.** `store.rs` is the handle and `open.rs` opens it; `tables/` has one module per
//! table with its SQL and the [`Store`] methods over it; `query.rs` builds the history filters,
//! `export.rs` and `retention.rs` work on the history; `writer.rs` (with `job.rs`,
//! `housekeeping.rs`, `checkpoint.rs`) is the one writer; `db.rs`, `migrate.rs`, `chain.rs`,
//! `redact/`, `clock.rs`, `types.rs` and `error.rs` are below them all. Modules depend
//! downwards only: `tests/layering.rs` fails on an import circle.
//!
//! What it is not: it knows nothing of policies or MCP; it takes and returns plain strings,
//! numbers and JSON values. Only `airlock-gate` joins it to the rest.

mod chain;
mod checkpoint;
mod clock;
mod db;
mod error;
mod export;
mod housekeeping;
mod job;
mod migrate;
mod open;
mod query;
pub mod redact;
mod retention;
mod store;
mod tables;
mod types;
mod writer;

pub use chain::{ChainName, ChainProblem, VerifyReport};
pub use clock::{Clock, now_ms};
pub use error::{Result, StoreError};
pub use export::ExportFormat;
pub use migrate::SCHEMA_VERSION;
pub use open::StoreOptions;
pub use query::{CallFilter, CallPage, PageRequest};
pub use redact::{RedactionConfig, Redactor, canonical_args_hash};
pub use retention::{PruneReport, Retention};
pub use store::Store;
pub use tables::call_counts::ToolBucket;
pub use tables::counter_events::COUNTER_RETENTION;
pub use tables::passphrase::StoredPassphrase;
pub use types::*;
