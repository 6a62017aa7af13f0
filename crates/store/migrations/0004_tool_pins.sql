-- Airlock store, schema version 4: tool-definition pins.
-- SHIPPED MIGRATIONS ARE NEVER EDITED: change the schema by adding the next numbered file.
--
-- 0001 created a `tool_pins` table that nothing ever read or wrote; it is replaced by one that
-- can tell a held definition from the accepted one.
DROP TABLE IF EXISTS tool_pins;

-- One row per server and tool: the definition a human (or the first `tools/list`) accepted, and
-- the one the server listed last. The tool is usable when both hashes are equal.
-- `pinned_hash` is NULL for a tool that appeared after the server was first pinned and was never
-- accepted. `rejected` is 1 when a human rejected the definition in `seen_*`.
-- Definitions are canonical JSON (sorted keys) of name, title, description, inputSchema,
-- outputSchema and annotations; hashes are sha-256 of that text, lower-case hex.
CREATE TABLE tool_pins (
    server             TEXT NOT NULL,
    tool               TEXT NOT NULL,
    pinned_hash        TEXT,
    pinned_definition  TEXT,
    seen_hash          TEXT NOT NULL,
    seen_definition    TEXT NOT NULL,
    rejected           INTEGER NOT NULL DEFAULT 0,
    first_seen_ms      INTEGER NOT NULL,
    changed_ms         INTEGER NOT NULL,
    PRIMARY KEY (server, tool)
) WITHOUT ROWID;

-- Every change of a tool's definition and every decision about one, oldest first: the per-tool
-- history. `event`: pinned (accepted by the first listing), new, changed, accepted, rejected.
-- `actor`: who decided (`first tools/list`, `cli`, `window`, `api`, `gate.on_tool_change`);
-- NULL for what the server did.
CREATE TABLE tool_pin_events (
    id             INTEGER PRIMARY KEY,
    at_ms          INTEGER NOT NULL,
    server         TEXT NOT NULL,
    tool           TEXT NOT NULL,
    event          TEXT NOT NULL,
    hash           TEXT NOT NULL,
    previous_hash  TEXT,
    definition     TEXT NOT NULL,
    actor          TEXT
);
CREATE INDEX tool_pin_events_by_tool ON tool_pin_events (server, tool, id);
