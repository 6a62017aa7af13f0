//! One module per table: its SQL, its row mapping and the [`Store`](crate::Store) methods that
//! read and write it. `calls.rs` has `completions` too (a call's second half); the `chains` rows
//! belong to `chain.rs` and `meta.fts_upto` to `calls_fts.rs`; `tool_pins.rs` has `tool_pin_events`
//! too (a pin's history).

pub(crate) mod approvals;
pub(crate) mod call_counts;
pub(crate) mod calls;
pub(crate) mod calls_fts;
pub(crate) mod counter_events;
pub(crate) mod grants;
pub(crate) mod passphrase;
pub(crate) mod remembered;
pub(crate) mod tool_pins;

use rusqlite::types::Type;

use crate::error::Result;

/// Column `idx` as a text enum read by `parse` (`Decision::parse`, ...): unknown text is a
/// conversion error that names the column.
pub(crate) fn enum_col<T>(
    r: &rusqlite::Row<'_>,
    idx: usize,
    parse: fn(&str) -> Result<T>,
) -> rusqlite::Result<T> {
    let text: String = r.get(idx)?;
    parse(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}
