//! Agent identities (`grants`): a name, the hash of its token, and its policies.

use rusqlite::params;
use rusqlite::types::Type;

use crate::error::{Result, StoreError};
use crate::store::Store;
use crate::types::Grant;

impl Store {
    /// Stores a grant. Fails with [`StoreError::DuplicateGrant`] when the name or token is taken.
    pub async fn insert_grant(&self, grant: Grant) -> Result<()> {
        self.writer()
            .run(move |ctx| {
                let policies =
                    serde_json::to_string(&grant.policies).map_err(|e| StoreError::Query {
                        detail: e.to_string(),
                    })?;
                let n = ctx.conn.execute(
                    "INSERT INTO grants (name, token_hash, created_ms, revoked_ms, policies) \
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                    params![
                        grant.name,
                        grant.token_hash,
                        grant.created_ms,
                        grant.revoked_ms,
                        policies
                    ],
                )?;
                if n == 0 {
                    return Err(StoreError::DuplicateGrant(grant.name));
                }
                Ok(())
            })
            .await
    }

    /// Gives an active grant a new token hash (rotation); `false` if unknown or revoked.
    pub async fn set_grant_token(&self, name: &str, token_hash: &str) -> Result<bool> {
        let (name, hash) = (name.to_owned(), token_hash.to_owned());
        self.writer()
            .run(move |ctx| {
                let n = ctx.conn.execute(
                    "UPDATE grants SET token_hash = ?2 WHERE name = ?1 AND revoked_ms IS NULL",
                    params![name, hash],
                )?;
                Ok(n == 1)
            })
            .await
    }

    /// Every grant, revoked ones included, by name.
    pub async fn list_grants(&self) -> Result<Vec<Grant>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT name, token_hash, created_ms, revoked_ms, policies FROM grants ORDER BY name",
            )?;
            let rows = stmt.query_map([], grant_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    /// Revokes a grant; `false` if unknown or already revoked.
    pub async fn revoke_grant(&self, name: &str, at_ms: i64) -> Result<bool> {
        let name = name.to_owned();
        self.writer()
            .run(move |ctx| {
                let n = ctx.conn.execute(
                    "UPDATE grants SET revoked_ms = ?2 WHERE name = ?1 AND revoked_ms IS NULL",
                    params![name, at_ms],
                )?;
                Ok(n == 1)
            })
            .await
    }
}

fn grant_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Grant> {
    let policies: String = r.get(4)?;
    Ok(Grant {
        name: r.get(0)?,
        token_hash: r.get(1)?,
        created_ms: r.get(2)?,
        revoked_ms: r.get(3)?,
        policies: serde_json::from_str(&policies)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(4, Type::Text, Box::new(e)))?,
    })
}
