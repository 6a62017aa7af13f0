//! The passphrase of strong approvals (`passphrase`, one row: its Argon2id hash) and the wrong
//! attempts (`passphrase_failures`). The store keeps text; hashing and checking are the gate's.

use rusqlite::{OptionalExtension, params};

use crate::error::Result;
use crate::store::Store;

/// The stored passphrase hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPassphrase {
    /// A PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
    pub hash: String,
    /// When it was set (Unix ms).
    pub set_ms: i64,
}

impl Store {
    /// The passphrase hash, if one is set.
    pub async fn passphrase(&self) -> Result<Option<StoredPassphrase>> {
        self.read(|conn| {
            let row = conn
                .prepare_cached("SELECT hash, set_ms FROM passphrase WHERE id = 1")?
                .query_row([], |r| {
                    Ok(StoredPassphrase {
                        hash: r.get(0)?,
                        set_ms: r.get(1)?,
                    })
                })
                .optional()?;
            Ok(row)
        })
        .await
    }

    /// Sets the passphrase hash to `hash`, only if the one stored is still `current` (`None`:
    /// none is set). False when it was not: another change came first.
    pub async fn swap_passphrase(
        &self,
        current: Option<&str>,
        hash: &str,
        at_ms: i64,
    ) -> Result<bool> {
        let (current, hash) = (current.map(str::to_owned), hash.to_owned());
        self.writer()
            .run(move |ctx| {
                let n = match current {
                    None => ctx.conn.execute(
                        "INSERT INTO passphrase (id, hash, set_ms) VALUES (1, ?1, ?2) \
                         ON CONFLICT DO NOTHING",
                        params![hash, at_ms],
                    )?,
                    Some(current) => ctx.conn.execute(
                        "UPDATE passphrase SET hash = ?2, set_ms = ?3 WHERE id = 1 AND hash = ?1",
                        params![current, hash, at_ms],
                    )?,
                };
                Ok(n == 1)
            })
            .await
    }

    /// Records one wrong passphrase.
    pub async fn record_passphrase_failure(
        &self,
        at_ms: i64,
        approval_id: Option<&str>,
        source: &str,
    ) -> Result<()> {
        let (approval_id, source) = (approval_id.map(str::to_owned), source.to_owned());
        self.writer()
            .run(move |ctx| {
                ctx.conn.execute(
                    "INSERT INTO passphrase_failures (at_ms, approval_id, source) VALUES (?1, ?2, ?3)",
                    params![at_ms, approval_id, source],
                )?;
                Ok(())
            })
            .await
    }

    /// When the wrong passphrases since `since_ms` were typed, oldest first.
    pub async fn passphrase_failures_since(&self, since_ms: i64) -> Result<Vec<i64>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT at_ms FROM passphrase_failures WHERE at_ms >= ?1 ORDER BY at_ms",
            )?;
            let rows = stmt.query_map([since_ms], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<i64>>>()?)
        })
        .await
    }
}
