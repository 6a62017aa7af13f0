//! Embedded schema migrations, tracked in `PRAGMA user_version`.
//!
//! Each file in `crates/store/migrations/` is one version, applied in order inside one
//! transaction together with the version bump. **A migration that has shipped is never edited**:
//! fix or extend the schema by adding the next numbered file and a line to [`MIGRATIONS`].
//! A database with a higher version than this build knows is refused rather than guessed at.
//! The comments in a shipped migration describe the code as it was when it shipped (0001 and
//! 0002 name `src/writer.rs` and `src/store.rs` for what is now in `src/tables/`).
//!
//! (This is what `rusqlite_migration` does; that crate's newest release needs an older rusqlite
//! than the workspace's, and two bundled SQLite copies cannot link into one binary.)

use rusqlite::Connection;

use crate::error::{Result, StoreError};

/// Migrations in order; the version of `MIGRATIONS[i]` is `i + 1`. Append only.
pub(crate) const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_call_counts.sql"),
    include_str!("../migrations/0003_remembered_scope.sql"),
    include_str!("../migrations/0004_tool_pins.sql"),
    include_str!("../migrations/0005_passphrase.sql"),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// Brings `conn` to [`SCHEMA_VERSION`].
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let current = usize::try_from(current).unwrap_or(usize::MAX);
    if current > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: current,
            known: SCHEMA_VERSION,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let version = index + 1;
        let fail = |e: rusqlite::Error| match StoreError::from(e) {
            e if e.is_write_failure() => e,
            e => StoreError::Migration {
                version,
                detail: e.to_string(),
            },
        };
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(fail)?;
        tx.execute_batch(sql).map_err(fail)?;
        tx.pragma_update(None, "user_version", version as i64)
            .map_err(fail)?;
        tx.commit().map_err(fail)?;
        tracing::info!(version, "store schema migrated");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_a_newer_schema_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v as usize, SCHEMA_VERSION);
        conn.pragma_update(None, "user_version", 99).unwrap();
        let err = migrate(&mut conn).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "the store has schema version 99, newer than this build knows ({SCHEMA_VERSION}): upgrade airlock"
            )
        );
    }
}
