//! Work the writer does by itself on the store's clock (`clock.rs`), between groups of writes.
//!
//! One chore so far: deleting counter events past their retention, once a day
//! (`tables/counter_events.rs`). A chore runs in bounded steps, each in a transaction of its
//! own. When it is due, the writer runs a step before it takes its next group of writes, so a
//! write waits for one step at most (about 2 ms). A step that leaves more to do (a backlog) is
//! followed by the next in the writer's next idle moment, or, under writes that never pause,
//! before a group once [`BUSY_PAUSE_MS`] have passed: a backlog costs the writes around it at
//! most one step in 100 ms. The writer owns the schedule, so no caller has to remember to run
//! it.

use std::time::Duration;

use rusqlite::Connection;

use crate::clock::Clock;
use crate::error::Result;

/// After a failed step, the chore is tried again this much later (or its period, if shorter).
const RETRY_MS: i64 = 3_600_000;

/// A step that left more to do is followed by the next one before a group only this much later
/// (an idle moment runs it at once).
pub(crate) const BUSY_PAUSE_MS: i64 = 100;

/// One step of a chore at the time given: `Ok(true)` when more is left to do.
pub(crate) type Step = Box<dyn FnMut(&Connection, i64) -> Result<bool> + Send>;

/// A piece of periodic work for the writer.
pub(crate) struct Chore {
    what: &'static str,
    every_ms: i64,
    clock: Clock,
    step: Step,
    /// When the next run is due; the first is due at once.
    next_ms: i64,
    /// The last step left more to do.
    more: bool,
}

impl Chore {
    /// `step` runs every `every` of `clock`, the first time as soon as the writer takes a group.
    pub(crate) fn new(what: &'static str, every: Duration, clock: Clock, step: Step) -> Self {
        Self {
            what,
            every_ms: i64::try_from(every.as_millis()).unwrap_or(i64::MAX),
            clock,
            step,
            next_ms: i64::MIN,
            more: false,
        }
    }

    /// Whether the last step left more to do: the writer runs the next in an idle moment.
    pub(crate) fn has_more(&self) -> bool {
        self.more
    }

    /// Whether a step is due before the next group.
    pub(crate) fn due(&self) -> bool {
        self.clock.now_ms() >= self.next_ms
    }

    /// Runs one step in a transaction of its own. A failure is rolled back and logged, and the
    /// chore is tried again later.
    pub(crate) fn run(&mut self, conn: &Connection) {
        let now = self.clock.now_ms();
        let step = &mut self.step;
        let result = (|| -> Result<bool> {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            let more = step(conn, now)?;
            conn.execute_batch("COMMIT")?;
            Ok(more)
        })();
        match result {
            Ok(more) => {
                self.more = more;
                let wait = if more { BUSY_PAUSE_MS } else { self.every_ms };
                self.next_ms = now.saturating_add(wait);
            }
            Err(e) => {
                if !conn.is_autocommit() {
                    let _ = conn.execute_batch("ROLLBACK");
                }
                tracing::warn!(
                    what = self.what,
                    error = %e,
                    "store housekeeping failed, will retry"
                );
                self.more = false;
                self.next_ms = now.saturating_add(self.every_ms.min(RETRY_MS));
            }
        }
    }
}
