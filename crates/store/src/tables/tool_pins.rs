//! Tool-definition pins (`tool_pins`) and their history (`tool_pin_events`): what the gate
//! accepted for each server's tools, what the servers listed since, and who decided.
//!
//! The gate keeps the pins in memory and writes every change through here; a pin and the
//! events that explain it are written in one transaction, so the history never misses a change
//! the pins show.

use rusqlite::params;
use rusqlite::types::Type;
use serde_json::Value;

use crate::error::Result;
use crate::store::Store;
use crate::tables::enum_col;
use crate::types::{NewToolPinEvent, PinEvent, ToolPin, ToolPinEvent};

const PIN_COLUMNS: &str = "server, tool, pinned_hash, pinned_definition, seen_hash, \
                           seen_definition, rejected, first_seen_ms, changed_ms";
const EVENT_COLUMNS: &str =
    "id, at_ms, server, tool, event, hash, previous_hash, definition, actor";

impl Store {
    /// Every pin, by server and tool.
    pub async fn tool_pins(&self) -> Result<Vec<ToolPin>> {
        self.read(|conn| {
            let sql = format!("SELECT {PIN_COLUMNS} FROM tool_pins ORDER BY server, tool");
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map([], pin_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    /// Writes `pins` (inserted or replaced whole) and appends `events`, in one transaction.
    pub async fn save_tool_pins(
        &self,
        pins: Vec<ToolPin>,
        events: Vec<NewToolPinEvent>,
    ) -> Result<()> {
        self.writer()
            .run(move |ctx| {
                for pin in &pins {
                    let pinned_definition = pin.pinned_definition.as_ref().map(Value::to_string);
                    ctx.conn
                        .prepare_cached(&format!(
                            "INSERT OR REPLACE INTO tool_pins ({PIN_COLUMNS}) \
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                        ))?
                        .execute(params![
                            pin.server,
                            pin.tool,
                            pin.pinned_hash,
                            pinned_definition,
                            pin.seen_hash,
                            pin.seen_definition.to_string(),
                            pin.rejected,
                            pin.first_seen_ms,
                            pin.changed_ms,
                        ])?;
                }
                for event in &events {
                    ctx.conn
                        .prepare_cached(
                            "INSERT INTO tool_pin_events (at_ms, server, tool, event, hash, \
                             previous_hash, definition, actor) \
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                        )?
                        .execute(params![
                            event.at_ms,
                            event.server,
                            event.tool,
                            event.event.as_str(),
                            event.hash,
                            event.previous_hash,
                            event.definition.to_string(),
                            event.actor,
                        ])?;
                }
                Ok(())
            })
            .await
    }

    /// The pin history, newest first, at most `limit` entries; of one server (and one tool of
    /// it) when given.
    pub async fn tool_pin_events(
        &self,
        server: Option<&str>,
        tool: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ToolPinEvent>> {
        let (server, tool) = (server.map(str::to_owned), tool.map(str::to_owned));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let sql = format!(
                "SELECT {EVENT_COLUMNS} FROM tool_pin_events \
                 WHERE (?1 IS NULL OR server = ?1) AND (?2 IS NULL OR tool = ?2) \
                 ORDER BY id DESC LIMIT ?3"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![server, tool, limit], event_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }
}

fn json_col(r: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<Value> {
    let text: String = r.get(idx)?;
    serde_json::from_str(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

fn pin_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ToolPin> {
    let pinned_definition = match r.get::<_, Option<String>>(3)? {
        None => None,
        Some(_) => Some(json_col(r, 3)?),
    };
    Ok(ToolPin {
        server: r.get(0)?,
        tool: r.get(1)?,
        pinned_hash: r.get(2)?,
        pinned_definition,
        seen_hash: r.get(4)?,
        seen_definition: json_col(r, 5)?,
        rejected: r.get(6)?,
        first_seen_ms: r.get(7)?,
        changed_ms: r.get(8)?,
    })
}

fn event_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ToolPinEvent> {
    Ok(ToolPinEvent {
        id: r.get(0)?,
        event: NewToolPinEvent {
            at_ms: r.get(1)?,
            server: r.get(2)?,
            tool: r.get(3)?,
            event: enum_col(r, 4, PinEvent::parse)?,
            hash: r.get(5)?,
            previous_hash: r.get(6)?,
            definition: json_col(r, 7)?,
            actor: r.get(8)?,
        },
    })
}
