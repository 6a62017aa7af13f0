//! Remembered decisions (`remembered`): a human's "always" or "for this session", until it
//! expires or is revoked.

use rusqlite::params;
use rusqlite::types::Type;
use serde_json::Value;

use crate::error::Result;
use crate::store::Store;
use crate::tables::enum_col;
use crate::types::{Effect, NewRemembered, Remembered};

impl Store {
    /// Stores a remembered decision; returns it with its id.
    pub async fn insert_remembered(&self, rule: NewRemembered) -> Result<Remembered> {
        self.writer()
            .run(move |ctx| {
                let arg_match = rule.arg_match.as_ref().map(Value::to_string);
                ctx.conn
                    .prepare_cached(
                        "INSERT INTO remembered (grant_name, session_id, server, tool, arg_match, \
                         effect, note, created_ms, expires_ms, approval_id, client_name) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                    )?
                    .execute(params![
                        rule.grant,
                        rule.session_id,
                        rule.server,
                        rule.tool,
                        arg_match,
                        rule.effect.as_str(),
                        rule.note,
                        rule.created_ms,
                        rule.expires_ms,
                        rule.approval_id,
                        rule.client_name
                    ])?;
                Ok(Remembered {
                    id: ctx.conn.last_insert_rowid(),
                    rule,
                    revoked_ms: None,
                })
            })
            .await
    }

    /// Remembered decisions in force at `at_ms`: not revoked, not expired. Oldest first.
    pub async fn active_remembered(&self, at_ms: i64) -> Result<Vec<Remembered>> {
        self.read(move |conn| {
            let sql = format!(
                "SELECT {REMEMBERED_COLUMNS} FROM remembered WHERE revoked_ms IS NULL \
                 AND (expires_ms IS NULL OR expires_ms > ?1) ORDER BY id"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map([at_ms], remembered_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    /// Revokes a remembered decision; `false` if unknown or already revoked.
    pub async fn revoke_remembered(&self, id: i64, at_ms: i64) -> Result<bool> {
        self.writer()
            .run(move |ctx| {
                let n = ctx.conn.execute(
                    "UPDATE remembered SET revoked_ms = ?2 WHERE id = ?1 AND revoked_ms IS NULL",
                    params![id, at_ms],
                )?;
                Ok(n == 1)
            })
            .await
    }
}

const REMEMBERED_COLUMNS: &str = "id, grant_name, session_id, server, tool, arg_match, effect, note, \
    created_ms, expires_ms, approval_id, revoked_ms, client_name";

fn remembered_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Remembered> {
    let arg_match =
        match r.get::<_, Option<String>>(5)? {
            Some(text) => Some(serde_json::from_str(&text).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(5, Type::Text, Box::new(e))
            })?),
            None => None,
        };
    Ok(Remembered {
        id: r.get(0)?,
        rule: NewRemembered {
            grant: r.get(1)?,
            session_id: r.get(2)?,
            client_name: r.get(12)?,
            server: r.get(3)?,
            tool: r.get(4)?,
            arg_match,
            effect: enum_col(r, 6, Effect::parse)?,
            note: r.get(7)?,
            created_ms: r.get(8)?,
            expires_ms: r.get(9)?,
            approval_id: r.get(10)?,
        },
        revoked_ms: r.get(11)?,
    })
}
