-- Airlock store, schema version 2: calls counted per hour, for charts and time-range queries.
-- SHIPPED MIGRATIONS ARE NEVER EDITED: change the schema by adding the next numbered file.

-- How many calls each hour had, per server, tool and decision. `hour` is the Unix hour of
-- `calls.at_ms` rounded down (floor(at_ms / 3600000), also for times before 1970). The writer
-- adds to it in the same transaction as each call insert (src/store.rs, `insert_call`); `prune`
-- subtracts the calls it removes and deletes rows that reach zero.
--
-- `first_id`/`last_id` bound the ids of the calls the row counts: every call counted has
-- `first_id <= id <= last_id` (after a prune `first_id` is raised past the cut). A time-range
-- query turns its range into an id range with them; ids are not strictly ordered by `at_ms`
-- (the gate reads the clock before the writer assigns the id), so this is a bound that is tight
-- when they almost are, never an exact conversion.
--
-- The chart query (`call_buckets`) reads whole hours from here and counts only the partial hours
-- at the ends of its range from `calls`. WITHOUT ROWID: the key is the table; about 30 rows an
-- hour for a handful of tools.
CREATE TABLE call_counts (
    hour     INTEGER NOT NULL,
    server   TEXT NOT NULL,
    tool     TEXT NOT NULL,
    decision TEXT NOT NULL,
    calls    INTEGER NOT NULL,
    first_id INTEGER NOT NULL,
    last_id  INTEGER NOT NULL,
    PRIMARY KEY (hour, server, tool, decision)
) WITHOUT ROWID;

-- Backfill from the history so far (truncating division for non-negative times, floor for
-- negative ones: the same hour as the writer's `div_euclid`).
INSERT INTO call_counts (hour, server, tool, decision, calls, first_id, last_id)
SELECT CASE WHEN at_ms >= 0 THEN at_ms / 3600000 ELSE (at_ms + 1) / 3600000 - 1 END AS h,
       server, tool, decision, count(*), min(id), max(id)
FROM calls
GROUP BY h, server, tool, decision;
