//! History export as JSON Lines or CSV, streamed oldest first from one read transaction.

use std::io::Write;

use rusqlite::Connection;
use serde_json::Value;

use crate::error::{Result, StoreError};
use crate::query::{CallFilter, Where};
use crate::store::Store;
use crate::tables::calls::{CALL_SELECT, call_record};

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One JSON object per line; `arguments` is embedded as JSON.
    JsonLines,
    /// RFC 4180 CSV with a header row. Cells that a spreadsheet would run as a formula (starting
    /// with `=`, `+`, `-`, `@`) are prefixed with `'`.
    Csv,
}

impl Store {
    /// Writes the calls matching `filter`, oldest first, to `out` on a blocking thread; gives `out`
    /// back with the number of calls written.
    pub async fn export<W: std::io::Write + Send + 'static>(
        &self,
        filter: CallFilter,
        format: ExportFormat,
        mut out: W,
    ) -> Result<(W, u64)> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || {
            let n = store
                .pool()
                .with(|conn| export(conn, &filter, format, &mut out))?;
            Ok((out, n))
        })
        .await
        .map_err(|e| StoreError::Export {
            detail: e.to_string(),
        })?
    }
}

const CSV_HEADER: &[&str] = &[
    "id",
    "at_ms",
    "grant",
    "session_id",
    "client_name",
    "client_version",
    "server",
    "tool",
    "arguments",
    "args_hash",
    "decision",
    "decision_kind",
    "rule",
    "message",
    "decided_by",
    "approval_id",
    "policy_revision",
    "outcome",
    "latency_us",
    "error",
    "completed_ms",
];

pub(crate) fn export(
    conn: &Connection,
    filter: &CallFilter,
    format: ExportFormat,
    out: &mut dyn Write,
) -> Result<u64> {
    let io = |e: std::io::Error| StoreError::Export {
        detail: e.to_string(),
    };
    let mut w = Where::new(filter);
    let sql = format!("{CALL_SELECT} {} ORDER BY c.id", w.clause_with_fts());
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(w.params.iter()))?;
    if format == ExportFormat::Csv {
        write_csv_row(
            out,
            CSV_HEADER.iter().map(|s| std::borrow::Cow::Borrowed(*s)),
        )
        .map_err(io)?;
    }
    let mut n = 0u64;
    while let Some(row) = rows.next()? {
        let mut record = call_record(row)?;
        match format {
            ExportFormat::JsonLines => {
                // The record with `arguments` embedded as JSON rather than as a string.
                let encode = |e: serde_json::Error| StoreError::Export {
                    detail: e.to_string(),
                };
                let arguments_json = serde_json::from_str(&record.arguments)
                    .unwrap_or_else(|_| Value::String(std::mem::take(&mut record.arguments)));
                let mut line = serde_json::to_value(&record).map_err(encode)?;
                line["arguments"] = arguments_json;
                let mut text = serde_json::to_string(&line).map_err(encode)?;
                text.push('\n');
                out.write_all(text.as_bytes()).map_err(io)?;
            }
            ExportFormat::Csv => {
                let c = record.completion.as_ref();
                let opt = |s: &Option<String>| s.clone().unwrap_or_default();
                let cells: Vec<std::borrow::Cow<'_, str>> = vec![
                    record.id.to_string().into(),
                    record.at_ms.to_string().into(),
                    opt(&record.grant).into(),
                    opt(&record.session_id).into(),
                    opt(&record.client_name).into(),
                    opt(&record.client_version).into(),
                    record.server.as_str().into(),
                    record.tool.as_str().into(),
                    record.arguments.as_str().into(),
                    record.args_hash.as_str().into(),
                    record.decision.as_str().into(),
                    opt(&record.decision_kind).into(),
                    opt(&record.rule).into(),
                    opt(&record.message).into(),
                    record.decided_by.as_str().into(),
                    opt(&record.approval_id).into(),
                    opt(&record.policy_revision).into(),
                    c.map(|c| c.outcome.as_str()).unwrap_or_default().into(),
                    c.map(|c| c.latency_us.to_string())
                        .unwrap_or_default()
                        .into(),
                    c.and_then(|c| c.error.clone()).unwrap_or_default().into(),
                    c.map(|c| c.at_ms.to_string()).unwrap_or_default().into(),
                ];
                write_csv_row(out, cells.into_iter()).map_err(io)?;
            }
        }
        n += 1;
    }
    out.flush().map_err(io)?;
    Ok(n)
}

fn write_csv_row<'a>(
    out: &mut dyn Write,
    cells: impl Iterator<Item = std::borrow::Cow<'a, str>>,
) -> std::io::Result<()> {
    let mut line = String::new();
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            line.push(',');
        }
        line.push_str(&csv_cell(&cell));
    }
    line.push_str("\r\n");
    out.write_all(line.as_bytes())
}

/// Quotes a cell when needed and defuses spreadsheet formulas.
pub(crate) fn csv_cell(cell: &str) -> String {
    let defused;
    let cell = if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        defused = format!("'{cell}");
        defused.as_str()
    } else {
        cell
    };
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("line\nbreak"), "\"line\nbreak\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("-1"), "'-1");
    }
}
