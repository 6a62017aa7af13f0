//! One module per table: its SQL, its row mapping and the [`Store`](crate::Store) methods that
//! read and write it.

pub(crate) mod approvals;
pub(crate) mod call_counts;
pub(crate) mod calls;
pub(crate) mod calls_fts;
pub(crate) mod counter_events;
pub(crate) mod grants;
pub(crate) mod remembered;

use rusqlite::types::Type;

use crate::error::Result;

pub(crate) fn enum_col<T>(
    r: &rusqlite::Row<'_>,
    idx: usize,
    parse: fn(&str) -> Result<T>,
) -> rusqlite::Result<T> {
    let text: String = r.get(idx)?;
    parse(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}
