-- Airlock store, schema version 1.
-- SHIPPED MIGRATIONS ARE NEVER EDITED: change the schema by adding the next numbered file.
-- Times are Unix milliseconds. Hash columns are lower-case sha256 hex.

-- Call history: one immutable row per call, written before the call is forwarded.
-- `prev_hash`/`row_hash` chain the rows (see src/chain.rs). Ids are assigned by the writer,
-- consecutive, never reused.
CREATE TABLE calls (
    id              INTEGER PRIMARY KEY,
    at_ms           INTEGER NOT NULL,
    grant_name      TEXT,
    session_id      TEXT,
    client_name     TEXT,
    client_version  TEXT,
    server          TEXT NOT NULL,
    tool            TEXT NOT NULL,
    args_redacted   TEXT NOT NULL,
    args_hash       TEXT NOT NULL,
    decision        TEXT NOT NULL,
    decision_kind   TEXT,
    rule            TEXT,
    message         TEXT,
    decided_by      TEXT NOT NULL,
    approval_id     TEXT,
    policy_revision TEXT,
    prev_hash       TEXT NOT NULL,
    row_hash        TEXT NOT NULL
);
-- Each index costs a page write in every commit, so: four full indexes, and partial ones for
-- the rare values of decision and decided_by (the common value needs none: a newest-first scan
-- finds a page of it at once). Queries add `decision != 'allow'` / `decided_by != 'policy'` so
-- the planner can use the partial indexes.
CREATE INDEX calls_at ON calls (at_ms, tool, decision);
CREATE INDEX calls_server ON calls (server, id);
CREATE INDEX calls_tool ON calls (tool, id);
CREATE INDEX calls_grant ON calls (grant_name, id);
CREATE INDEX calls_rare_decision ON calls (decision, id) WHERE decision != 'allow';
CREATE INDEX calls_rare_decider ON calls (decided_by, id) WHERE decided_by != 'policy';
CREATE INDEX calls_rare_decider_decision ON calls (decided_by, decision, id) WHERE decided_by != 'policy';

-- Completions: appended when the upstream answers; a second chain of their own.
-- No foreign key: retention prunes the two chains each as a prefix, so a completion may outlive
-- its call until the next prune.
CREATE TABLE completions (
    id          INTEGER PRIMARY KEY,
    call_id     INTEGER NOT NULL UNIQUE,
    at_ms       INTEGER NOT NULL,
    outcome     TEXT NOT NULL,
    latency_us  INTEGER NOT NULL,
    error       TEXT,
    prev_hash   TEXT NOT NULL,
    row_hash    TEXT NOT NULL
);

-- Full-text search over tool name and redacted arguments. Contentless (the text lives in
-- `calls`). Filled by the writer in batches, off the per-call commit (see src/writer.rs);
-- `meta.fts_upto` is the highest call id indexed.
CREATE VIRTUAL TABLE calls_fts USING fts5(tool, args_redacted, content = '', contentless_delete = 1);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta VALUES ('fts_upto', 0);

-- Per chain: the anchor (last pruned row) and the head (last written row).
CREATE TABLE chains (
    name        TEXT PRIMARY KEY,
    anchor_id   INTEGER NOT NULL,
    anchor_hash TEXT NOT NULL,
    head_id     INTEGER NOT NULL,
    head_hash   TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO chains VALUES
    ('calls', 0, '0000000000000000000000000000000000000000000000000000000000000000',
              0, '0000000000000000000000000000000000000000000000000000000000000000'),
    ('completions', 0, '0000000000000000000000000000000000000000000000000000000000000000',
                    0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE approvals (
    id           TEXT PRIMARY KEY,
    created_ms   INTEGER NOT NULL,
    expires_ms   INTEGER NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired', 'withdrawn')),
    decided_ms   INTEGER,
    decided_by   TEXT,
    source       TEXT,
    note         TEXT,
    grant_name   TEXT,
    session_id   TEXT,
    server       TEXT NOT NULL,
    tool         TEXT NOT NULL,
    args_hash    TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    args_redacted TEXT NOT NULL,
    rule         TEXT,
    reason       TEXT
);
CREATE INDEX approvals_pending ON approvals (fingerprint, created_ms) WHERE status = 'pending';
CREATE INDEX approvals_created ON approvals (created_ms);

CREATE TABLE remembered (
    id           INTEGER PRIMARY KEY,
    grant_name   TEXT,
    session_id   TEXT,
    server       TEXT NOT NULL,
    tool         TEXT NOT NULL,
    arg_match    TEXT,
    effect       TEXT NOT NULL CHECK (effect IN ('approve', 'deny')),
    note         TEXT,
    created_ms   INTEGER NOT NULL,
    expires_ms   INTEGER,
    approval_id  TEXT,
    revoked_ms   INTEGER
);
CREATE INDEX remembered_active ON remembered (server, tool) WHERE revoked_ms IS NULL;

CREATE TABLE counter_events (
    id          INTEGER PRIMARY KEY,
    counter_key TEXT NOT NULL,
    at_ms       INTEGER NOT NULL,
    amount      REAL NOT NULL
);
CREATE INDEX counter_events_at ON counter_events (at_ms);

CREATE TABLE grants (
    name        TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    created_ms  INTEGER NOT NULL,
    revoked_ms  INTEGER,
    policies    TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE tool_pins (
    server          TEXT NOT NULL,
    tool            TEXT NOT NULL,
    definition_hash TEXT NOT NULL,
    definition      TEXT NOT NULL,
    approved_ms     INTEGER NOT NULL,
    PRIMARY KEY (server, tool)
) WITHOUT ROWID;
