//! The integrity chain over the history, and its verification.
//!
//! **Design.** The history is two append-only chains:
//! - `calls`: one row per call, written before the call is forwarded and never changed after;
//! - `completions`: one row per finished call (outcome, latency, error), appended later.
//!
//! A call's completion comes seconds or minutes after its insert, and other calls are recorded in
//! between; chaining the mutable call row would mean re-hashing the tail on every completion.
//! So completions are rows of their own, chained separately, and a call row never changes.
//!
//! Each row stores `prev_hash` (the previous row's `row_hash`) and
//! `row_hash = sha256(domain, prev_hash, id, every content column)`, with each field length-
//! prefixed and NULL distinct from empty text. Ids are assigned by the single writer,
//! consecutive from 1, so a gap is a deletion. Each chain has a row in `chains` with its
//! **anchor** (id and hash of the last pruned row; zeros at first) and its **head** (id and hash
//! of the last written row), updated in the same transaction as the rows.
//!
//! [`verify`](crate::Store::verify) walks each chain from its anchor and reports the first row
//! that was edited (its content no longer matches its hash, or it was rewritten with a fresh
//! hash so its successor no longer points at it), inserted (beyond the head, at or below the
//! anchor, or between two rows that still link to each other) or deleted (an id gap, or a head
//! that is no longer there).
//!
//! **Limits.** The chain has no secret key: someone who can write the file and re-computes every
//! hash after an edit, including the `chains` row, is not detected. It catches edits made with a
//! plain SQLite tool and damage, and tells which row; an external copy of the head hash (for
//! example `airlock history verify` output saved elsewhere) detects the rest.

use rusqlite::Connection;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::store::Store;

/// A field of a hashed row.
pub(crate) enum Field<'a> {
    Text(Option<&'a str>),
    Int(i64),
}

/// sha256 over `domain`, `prev_hash`, `id` and `fields`, lower-case hex.
pub(crate) fn row_hash(domain: &str, prev_hash: &str, id: i64, fields: &[Field<'_>]) -> String {
    let mut h = Sha256::new();
    put_text(&mut h, Some(domain));
    put_text(&mut h, Some(prev_hash));
    h.update([2u8]);
    h.update(id.to_le_bytes());
    for f in fields {
        match f {
            Field::Text(t) => put_text(&mut h, *t),
            Field::Int(i) => {
                h.update([2u8]);
                h.update(i.to_le_bytes());
            }
        }
    }
    hex::encode(h.finalize())
}

fn put_text(h: &mut Sha256, t: Option<&str>) {
    match t {
        None => h.update([0u8]),
        Some(s) => {
            h.update([1u8]);
            h.update((s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        }
    }
}

pub(crate) const CALLS_DOMAIN: &str = "airlock.calls.v1";
pub(crate) const COMPLETIONS_DOMAIN: &str = "airlock.completions.v1";

/// The content columns of a call row, in hashing order.
#[derive(Debug, Clone)]
pub(crate) struct CallRow {
    pub at_ms: i64,
    pub grant: Option<String>,
    pub session_id: Option<String>,
    pub client_name: Option<String>,
    pub client_version: Option<String>,
    pub server: String,
    pub tool: String,
    pub args_redacted: String,
    pub args_hash: String,
    pub decision: String,
    pub decision_kind: Option<String>,
    pub rule: Option<String>,
    pub message: Option<String>,
    pub decided_by: String,
    pub approval_id: Option<String>,
    pub policy_revision: Option<String>,
}

impl CallRow {
    pub(crate) fn hash(&self, prev_hash: &str, id: i64) -> String {
        fn t(s: &Option<String>) -> Field<'_> {
            Field::Text(s.as_deref())
        }
        row_hash(
            CALLS_DOMAIN,
            prev_hash,
            id,
            &[
                Field::Int(self.at_ms),
                t(&self.grant),
                t(&self.session_id),
                t(&self.client_name),
                t(&self.client_version),
                Field::Text(Some(&self.server)),
                Field::Text(Some(&self.tool)),
                Field::Text(Some(&self.args_redacted)),
                Field::Text(Some(&self.args_hash)),
                Field::Text(Some(&self.decision)),
                t(&self.decision_kind),
                t(&self.rule),
                t(&self.message),
                Field::Text(Some(&self.decided_by)),
                t(&self.approval_id),
                t(&self.policy_revision),
            ],
        )
    }

    /// Column list matching [`CallRow::from_row`] from offset 1 (offset 0 is `id`).
    pub(crate) const COLUMNS: &'static str = "id, at_ms, grant_name, session_id, client_name, \
        client_version, server, tool, args_redacted, args_hash, decision, decision_kind, rule, \
        message, decided_by, approval_id, policy_revision";

    pub(crate) fn from_row(r: &rusqlite::Row<'_>, base: usize) -> rusqlite::Result<Self> {
        Ok(Self {
            at_ms: r.get(base)?,
            grant: r.get(base + 1)?,
            session_id: r.get(base + 2)?,
            client_name: r.get(base + 3)?,
            client_version: r.get(base + 4)?,
            server: r.get(base + 5)?,
            tool: r.get(base + 6)?,
            args_redacted: r.get(base + 7)?,
            args_hash: r.get(base + 8)?,
            decision: r.get(base + 9)?,
            decision_kind: r.get(base + 10)?,
            rule: r.get(base + 11)?,
            message: r.get(base + 12)?,
            decided_by: r.get(base + 13)?,
            approval_id: r.get(base + 14)?,
            policy_revision: r.get(base + 15)?,
        })
    }
}

/// The content columns of a completion row.
#[derive(Debug, Clone)]
pub(crate) struct CompletionRow {
    pub call_id: i64,
    pub at_ms: i64,
    pub outcome: String,
    pub latency_us: i64,
    pub error: Option<String>,
}

impl CompletionRow {
    pub(crate) fn hash(&self, prev_hash: &str, id: i64) -> String {
        row_hash(
            COMPLETIONS_DOMAIN,
            prev_hash,
            id,
            &[
                Field::Int(self.call_id),
                Field::Int(self.at_ms),
                Field::Text(Some(&self.outcome)),
                Field::Int(self.latency_us),
                Field::Text(self.error.as_deref()),
            ],
        )
    }
}

/// The result of [`crate::Store::verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Call rows checked.
    pub calls: u64,
    /// Completion rows checked.
    pub completions: u64,
    /// The first problem in each chain (at most one per chain), empty when both verify.
    pub problems: Vec<ChainProblem>,
    /// The current head hash of the calls chain (save it elsewhere to detect a full rewrite).
    pub calls_head: String,
}

impl VerifyReport {
    /// True when no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Which chain a problem is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChainName {
    Calls,
    Completions,
}

impl ChainName {
    fn table(self) -> &'static str {
        match self {
            Self::Calls => "calls",
            Self::Completions => "completions",
        }
    }
}

/// What is wrong with a chain, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChainProblem {
    /// The row's content does not match its hash, or it was re-hashed after an edit.
    Edited { chain: ChainName, id: i64 },
    /// The row is not part of the chain as it was written.
    Inserted { chain: ChainName, id: i64 },
    /// Rows with ids `first..=last` are missing.
    Deleted {
        chain: ChainName,
        first: i64,
        last: i64,
    },
}

impl std::fmt::Display for ChainProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Edited { chain, id } => {
                write!(
                    f,
                    "{} row `{id}` was edited after it was written",
                    chain.table()
                )
            }
            Self::Inserted { chain, id } => {
                write!(
                    f,
                    "{} row `{id}` was inserted outside the chain",
                    chain.table()
                )
            }
            Self::Deleted { chain, first, last } if first == last => {
                write!(f, "{} row `{first}` was deleted", chain.table())
            }
            Self::Deleted { chain, first, last } => {
                write!(
                    f,
                    "{} rows `{first}` to `{last}` were deleted",
                    chain.table()
                )
            }
        }
    }
}

/// Anchor and head of one chain, as stored in `chains`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChainEnds {
    pub anchor_id: i64,
    pub anchor_hash: String,
    pub head_id: i64,
    pub head_hash: String,
}

pub(crate) fn load_ends(conn: &Connection, chain: &str) -> Result<ChainEnds> {
    Ok(conn.query_row(
        "SELECT anchor_id, anchor_hash, head_id, head_hash FROM chains WHERE name = ?1",
        [chain],
        |r| {
            Ok(ChainEnds {
                anchor_id: r.get(0)?,
                anchor_hash: r.get(1)?,
                head_id: r.get(2)?,
                head_hash: r.get(3)?,
            })
        },
    )?)
}

/// Walks one chain. `rows` yields (id, prev_hash, row_hash, recomputed hash) in id order.
fn walk(
    chain: ChainName,
    ends: &ChainEnds,
    rows: impl Iterator<Item = Result<(i64, String, String, String)>>,
) -> Result<(u64, Option<ChainProblem>)> {
    let mut count = 0u64;
    let mut expected_prev = ends.anchor_hash.clone();
    let mut last_id = ends.anchor_id;
    // (id, prev_hash) of the previous row, to tell an inserted row from a rewritten one.
    let mut previous: Option<(i64, String)> = None;
    for row in rows {
        let (id, prev_hash, stored, computed) = row?;
        count += 1;
        if id <= ends.anchor_id || id > ends.head_id {
            return Ok((count, Some(ChainProblem::Inserted { chain, id })));
        }
        if prev_hash != expected_prev {
            let problem = match &previous {
                Some((pid, pprev)) if *pprev == prev_hash => {
                    ChainProblem::Inserted { chain, id: *pid }
                }
                _ if id > last_id + 1 => ChainProblem::Deleted {
                    chain,
                    first: last_id + 1,
                    last: id - 1,
                },
                Some((pid, _)) => ChainProblem::Edited { chain, id: *pid },
                None => ChainProblem::Edited { chain, id },
            };
            return Ok((count, Some(problem)));
        }
        if stored != computed {
            return Ok((count, Some(ChainProblem::Edited { chain, id })));
        }
        if id > last_id + 1 {
            // Linked correctly across a gap: the hashes were forged around a deletion.
            return Ok((
                count,
                Some(ChainProblem::Deleted {
                    chain,
                    first: last_id + 1,
                    last: id - 1,
                }),
            ));
        }
        previous = Some((id, prev_hash));
        expected_prev = stored;
        last_id = id;
    }
    if last_id < ends.head_id {
        return Ok((
            count,
            Some(ChainProblem::Deleted {
                chain,
                first: last_id + 1,
                last: ends.head_id,
            }),
        ));
    }
    if expected_prev != ends.head_hash {
        return Ok((count, Some(ChainProblem::Edited { chain, id: last_id })));
    }
    Ok((count, None))
}

impl Store {
    /// Checks both history chains; see the module docs for what is detected.
    pub async fn verify(&self) -> Result<VerifyReport> {
        self.read(verify).await
    }
}

/// Verifies both chains on a read connection (blocking).
pub(crate) fn verify(conn: &Connection) -> Result<VerifyReport> {
    let mut problems = Vec::new();

    let ends = load_ends(conn, "calls")?;
    let mut stmt = conn.prepare(&format!(
        "SELECT {}, prev_hash, row_hash FROM calls ORDER BY id",
        CallRow::COLUMNS
    ))?;
    let rows = stmt.query_map([], |r| {
        let id: i64 = r.get(0)?;
        let row = CallRow::from_row(r, 1)?;
        let prev: String = r.get(17)?;
        let stored: String = r.get(18)?;
        let computed = row.hash(&prev, id);
        Ok((id, prev, stored, computed))
    })?;
    let (calls, problem) = walk(ChainName::Calls, &ends, rows.map(|r| r.map_err(Into::into)))?;
    problems.extend(problem);

    let cends = load_ends(conn, "completions")?;
    let mut stmt = conn.prepare(
        "SELECT id, call_id, at_ms, outcome, latency_us, error, prev_hash, row_hash \
         FROM completions ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        let id: i64 = r.get(0)?;
        let row = CompletionRow {
            call_id: r.get(1)?,
            at_ms: r.get(2)?,
            outcome: r.get(3)?,
            latency_us: r.get(4)?,
            error: r.get(5)?,
        };
        let prev: String = r.get(6)?;
        let stored: String = r.get(7)?;
        let computed = row.hash(&prev, id);
        Ok((id, prev, stored, computed))
    })?;
    let (completions, problem) = walk(
        ChainName::Completions,
        &cends,
        rows.map(|r| r.map_err(Into::into)),
    )?;
    problems.extend(problem);

    Ok(VerifyReport {
        calls,
        completions,
        problems,
        calls_head: ends.head_hash,
    })
}
