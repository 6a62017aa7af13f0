//! Approval requests (`approvals`): written before anyone is asked, decided once.

use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::error::{Result, StoreError};
use crate::redact::canonical_args_hash;
use crate::store::Store;
use crate::tables::enum_col;
use crate::types::{Approval, ApprovalDecision, ApprovalStatus, NewApproval};

impl Store {
    /// Writes a pending approval request. Returns it as stored (redacted arguments,
    /// fingerprint).
    pub async fn insert_approval(&self, approval: NewApproval<'_>) -> Result<Approval> {
        let args_hash = canonical_args_hash(approval.arguments);
        let stored = Approval {
            fingerprint: fingerprint(
                approval.grant.as_deref(),
                &approval.server,
                &approval.tool,
                &args_hash,
            ),
            id: approval.id,
            created_ms: approval.created_ms,
            expires_ms: approval.expires_ms,
            status: ApprovalStatus::Pending,
            decided_ms: None,
            decided_by: None,
            source: None,
            note: None,
            grant: approval.grant,
            session_id: approval.session_id,
            server: approval.server,
            tool: approval.tool,
            args_hash,
            arguments: self.redactor().redact_to_string(approval.arguments),
            rule: approval.rule,
            reason: approval.reason,
        };
        self.writer()
            .run(move |ctx| {
                let a = &stored;
                let inserted = ctx
                    .conn
                    .prepare_cached(
                        "INSERT INTO approvals (id, created_ms, expires_ms, status, grant_name, \
                         session_id, server, tool, args_hash, fingerprint, args_redacted, rule, reason) \
                         VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
                         ON CONFLICT (id) DO NOTHING",
                    )?
                    .execute(params![
                        a.id, a.created_ms, a.expires_ms, a.grant, a.session_id, a.server, a.tool,
                        a.args_hash, a.fingerprint, a.arguments, a.rule, a.reason
                    ])?;
                if inserted == 0 {
                    return Err(StoreError::DuplicateApproval(stored.id.clone()));
                }
                Ok(stored)
            })
            .await
    }

    /// Decides a pending approval. Returns `false` (and changes nothing) when it is no longer
    /// pending or does not exist: the first decision wins.
    pub async fn decide_approval(&self, id: &str, decision: ApprovalDecision) -> Result<bool> {
        if decision.status == ApprovalStatus::Pending {
            return Err(StoreError::InvalidArgument(
                "an approval cannot be decided as `pending`".into(),
            ));
        }
        let id = id.to_owned();
        self.writer()
            .run(move |ctx| {
                let n = ctx
                    .conn
                    .prepare_cached(
                        "UPDATE approvals SET status = ?2, decided_ms = ?3, decided_by = ?4, \
                         source = ?5, note = ?6 WHERE id = ?1 AND status = 'pending'",
                    )?
                    .execute(params![
                        id,
                        decision.status.as_str(),
                        decision.at_ms,
                        decision.decided_by,
                        decision.source,
                        decision.note
                    ])?;
                Ok(n == 1)
            })
            .await
    }

    /// One approval by id.
    pub async fn get_approval(&self, id: &str) -> Result<Option<Approval>> {
        let id = id.to_owned();
        self.read(move |conn| {
            let sql = format!("SELECT {APPROVAL_COLUMNS} FROM approvals WHERE id = ?1");
            Ok(conn
                .prepare_cached(&sql)?
                .query_row([id], approval_row)
                .optional()?)
        })
        .await
    }

    /// All pending approvals, oldest first.
    pub async fn pending_approvals(&self) -> Result<Vec<Approval>> {
        self.read(|conn| {
            let sql = format!(
                "SELECT {APPROVAL_COLUMNS} FROM approvals WHERE status = 'pending' ORDER BY created_ms, id"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map([], approval_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    /// Marks every approval still pending as expired (`decided_by = "restart"`) and returns them
    /// as they now are. Call once at start-up, before serving: a restart never approves, and
    /// the gate records each as interrupted in history.
    pub async fn expire_pending_approvals_at_startup(&self, now_ms: i64) -> Result<Vec<Approval>> {
        self.writer()
            .run(move |ctx| {
                let sql = format!(
                    "UPDATE approvals SET status = 'expired', decided_ms = ?1, decided_by = 'restart', \
                     source = 'startup' WHERE status = 'pending' RETURNING {APPROVAL_COLUMNS}"
                );
                let mut stmt = ctx.conn.prepare(&sql)?;
                let rows = stmt.query_map([now_ms], approval_row)?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .await
    }
}

const APPROVAL_COLUMNS: &str = "id, created_ms, expires_ms, status, decided_ms, decided_by, source, \
    note, grant_name, session_id, server, tool, args_hash, fingerprint, args_redacted, rule, reason";

fn approval_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Approval> {
    Ok(Approval {
        id: r.get(0)?,
        created_ms: r.get(1)?,
        expires_ms: r.get(2)?,
        status: enum_col(r, 3, ApprovalStatus::parse)?,
        decided_ms: r.get(4)?,
        decided_by: r.get(5)?,
        source: r.get(6)?,
        note: r.get(7)?,
        grant: r.get(8)?,
        session_id: r.get(9)?,
        server: r.get(10)?,
        tool: r.get(11)?,
        args_hash: r.get(12)?,
        fingerprint: r.get(13)?,
        arguments: r.get(14)?,
        rule: r.get(15)?,
        reason: r.get(16)?,
    })
}

/// The fingerprint of a call for approvals: identical calls (same grant, server, tool and
/// canonical arguments, see [`canonical_args_hash`]) have the same fingerprint.
pub(crate) fn fingerprint(
    grant: Option<&str>,
    server: &str,
    tool: &str,
    args_hash: &str,
) -> String {
    let mut h = Sha256::new();
    for part in [grant, Some(server), Some(tool), Some(args_hash)] {
        match part {
            None => h.update([0u8]),
            Some(s) => {
                h.update([1u8]);
                h.update((s.len() as u64).to_le_bytes());
                h.update(s.as_bytes());
            }
        }
    }
    hex::encode(h.finalize())
}
