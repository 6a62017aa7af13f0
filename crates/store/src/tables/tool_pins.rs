//! Approved tool definitions (`tool_pins`), one per server and tool.

use rusqlite::{OptionalExtension, params};

use crate::error::Result;
use crate::store::Store;
use crate::types::ToolPin;

impl Store {
    /// The approved definition of a tool, if pinned.
    pub async fn get_pin(&self, server: &str, tool: &str) -> Result<Option<ToolPin>> {
        let (server, tool) = (server.to_owned(), tool.to_owned());
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT server, tool, definition_hash, definition, approved_ms FROM tool_pins \
                     WHERE server = ?1 AND tool = ?2",
                )?
                .query_row(params![server, tool], pin_row)
                .optional()?)
        })
        .await
    }

    /// Every pin of `server`, by tool name.
    pub async fn list_pins(&self, server: &str) -> Result<Vec<ToolPin>> {
        let server = server.to_owned();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT server, tool, definition_hash, definition, approved_ms FROM tool_pins \
                 WHERE server = ?1 ORDER BY tool",
            )?;
            let rows = stmt.query_map([server], pin_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    /// Pins (or re-pins, after a human accepted a change) a tool definition.
    pub async fn upsert_pin(&self, pin: ToolPin) -> Result<()> {
        self.writer()
            .run(move |ctx| {
                ctx.conn.execute(
                    "INSERT INTO tool_pins (server, tool, definition_hash, definition, approved_ms) \
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (server, tool) DO UPDATE SET \
                     definition_hash = excluded.definition_hash, definition = excluded.definition, \
                     approved_ms = excluded.approved_ms",
                    params![pin.server, pin.tool, pin.definition_hash, pin.definition, pin.approved_ms],
                )?;
                Ok(())
            })
            .await
    }
}

fn pin_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ToolPin> {
    Ok(ToolPin {
        server: r.get(0)?,
        tool: r.get(1)?,
        definition_hash: r.get(2)?,
        definition: r.get(3)?,
        approved_ms: r.get(4)?,
    })
}
