//! Limit counter events (`counter_events`): the committed uses the gate's sliding windows are
//! rebuilt from after a restart.

use rusqlite::params;

use crate::error::Result;
use crate::job::WriteCtx;
use crate::store::Store;
use crate::types::CounterEvent;

impl Store {
    /// Appends counter events (committed reservations) without waiting, for synchronous code.
    /// The write joins the writer's next group; a failure is logged.
    pub fn save_counter_events_nowait(&self, events: Vec<CounterEvent>) {
        if !events.is_empty() {
            self.writer().enqueue("save_counter_events", move |ctx| {
                insert_counter_events(ctx, &events)
            });
        }
    }

    /// Counter events at or after `since_ms`, oldest first, to rebuild sliding windows.
    pub async fn load_counter_events(&self, since_ms: i64) -> Result<Vec<CounterEvent>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT counter_key, at_ms, amount FROM counter_events WHERE at_ms >= ?1 ORDER BY at_ms, id",
            )?;
            let rows = stmt.query_map([since_ms], |r| {
                Ok(CounterEvent { key: r.get(0)?, at_ms: r.get(1)?, amount: r.get(2)? })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }
}

fn insert_counter_events(ctx: &mut WriteCtx<'_>, events: &[CounterEvent]) -> Result<()> {
    let mut stmt = ctx.conn.prepare_cached(
        "INSERT INTO counter_events (counter_key, at_ms, amount) VALUES (?1, ?2, ?3)",
    )?;
    for e in events {
        stmt.execute(params![e.key, e.at_ms, e.amount])?;
    }
    Ok(())
}
