//! History queries: the filter, the page, and the SQL conditions they become.
//!
//! [`CallFilter`] and [`PageRequest`] are what callers ask for; [`Where`] turns a filter into a
//! `WHERE` clause over `calls c` with numbered parameters, and [`fts_query`] turns user text into
//! a full-text query that cannot inject FTS5 syntax. The page query itself is in
//! `tables/calls.rs`, the chart query in `tables/call_counts.rs`, the export in `export.rs`.

use crate::types::{CallId, CallRecord, DecidedBy, Decision};

/// Filters for history queries; every set field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct CallFilter {
    /// Calls at or after this time (Unix ms).
    pub from_ms: Option<i64>,
    /// Calls before this time (Unix ms, exclusive).
    pub to_ms: Option<i64>,
    pub server: Option<String>,
    pub tool: Option<String>,
    pub grant: Option<String>,
    pub decision: Option<Decision>,
    pub decided_by: Option<DecidedBy>,
    /// Full-text search over tool name and redacted arguments. Words are matched as whole
    /// tokens, all must occur; `word*` matches a prefix.
    pub text: Option<String>,
}

/// One page request: newest first, before a cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Only calls with a smaller id (the `next` of the previous page); `None` for the newest.
    pub before: Option<CallId>,
    /// Page size, 1 to 1000.
    pub limit: u32,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            before: None,
            limit: 100,
        }
    }
}

/// One page of calls, newest first.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CallPage {
    pub calls: Vec<CallRecord>,
    /// Cursor for the next (older) page; `None` when this is the last.
    pub next: Option<CallId>,
}

/// A WHERE clause over `calls c` built from a [`CallFilter`], with its parameters.
pub(crate) struct Where {
    conds: Vec<String>,
    pub(crate) params: Vec<rusqlite::types::Value>,
    fts: Option<String>,
}

impl Where {
    pub(crate) fn new(f: &CallFilter) -> Self {
        use rusqlite::types::Value as V;
        let mut w = Self {
            conds: Vec::new(),
            params: Vec::new(),
            fts: None,
        };
        if let Some(t) = f.from_ms {
            w.push_raw("c.at_ms >= ?", V::Integer(t));
        }
        if let Some(t) = f.to_ms {
            w.push_raw("c.at_ms < ?", V::Integer(t));
        }
        if let Some(s) = &f.server {
            w.push_raw("c.server = ?", V::Text(s.clone()));
        }
        if let Some(s) = &f.tool {
            w.push_raw("c.tool = ?", V::Text(s.clone()));
        }
        if let Some(s) = &f.grant {
            w.push_raw("c.grant_name = ?", V::Text(s.clone()));
        }
        // The extra `!=` terms let the planner use the partial indexes for the rare values.
        if let Some(d) = f.decision {
            w.push_raw("c.decision = ?", V::Text(d.as_str().into()));
            if d != Decision::Allow {
                w.conds.push("c.decision != 'allow'".into());
            }
        }
        if let Some(d) = f.decided_by {
            w.push_raw("c.decided_by = ?", V::Text(d.as_str().into()));
            if d != DecidedBy::Policy {
                w.conds.push("c.decided_by != 'policy'".into());
            }
        }
        w.fts = f.text.as_deref().and_then(fts_query);
        w
    }

    pub(crate) fn push_raw(&mut self, cond: &str, v: rusqlite::types::Value) {
        let placeholder = self.param(v);
        self.conds.push(cond.replace('?', &placeholder));
    }

    /// Adds a parameter without a condition; returns its placeholder (`?N`).
    pub(crate) fn param(&mut self, v: rusqlite::types::Value) -> String {
        self.params.push(v);
        format!("?{}", self.params.len())
    }

    /// The conditions other than full text, to be joined with `AND`.
    pub(crate) fn conds(&self) -> &[String] {
        &self.conds
    }

    /// Whether the filter has a full-text condition.
    pub(crate) fn has_text(&self) -> bool {
        self.fts.is_some()
    }

    /// `WHERE ...` including the full-text condition as a subquery (for aggregates, exports).
    pub(crate) fn clause_with_fts(&mut self) -> String {
        if let Some(q) = self.fts.take() {
            self.push_raw(
                "c.id IN (SELECT rowid FROM calls_fts WHERE calls_fts MATCH ?)",
                rusqlite::types::Value::Text(q),
            );
        }
        self.clause()
    }

    /// The full-text condition, taken out for a query driven by the full-text index.
    pub(crate) fn take_text(&mut self) -> Option<String> {
        self.fts.take()
    }

    /// `WHERE ...` of the conditions other than full text (empty when there are none).
    pub(crate) fn clause(&self) -> String {
        if self.conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.conds.join(" AND "))
        }
    }
}

/// Turns user text into a safe FTS5 query: each word quoted (so FTS syntax is inert), all
/// required; a trailing `*` keeps prefix search. `None` when there is no word.
pub(crate) fn fts_query(text: &str) -> Option<String> {
    let terms: Vec<String> = text
        .split_whitespace()
        .filter_map(|word| {
            let (body, prefix) = match word.strip_suffix('*') {
                Some(b) => (b, true),
                None => (word, false),
            };
            if body.chars().all(|c| !c.is_alphanumeric()) {
                return None;
            }
            let quoted = format!("\"{}\"", body.replace('"', "\"\""));
            Some(if prefix { format!("{quoted}*") } else { quoted })
        })
        .collect();
    if terms.is_empty() {
        None
    } else {
        Some(terms.join(" AND "))
    }
}
