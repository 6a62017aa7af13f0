-- Airlock store, schema version 5: the passphrase of strong approvals.
-- SHIPPED MIGRATIONS ARE NEVER EDITED: change the schema by adding the next numbered file.
--
-- A tool with `"approval": "passphrase"` is approved only with the user's passphrase. Only its
-- Argon2id hash is kept, as a PHC string (algorithm, parameters, random salt and hash in one
-- text); one row at most. The local API offers no way to set it when one is set, other than
-- with the old passphrase (the gate compares and swaps on `hash`).
CREATE TABLE IF NOT EXISTS passphrase (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    hash    TEXT NOT NULL,
    set_ms  INTEGER NOT NULL
);

-- Every wrong passphrase, for the rate limit (it survives a restart) and for the record:
-- `approval_id` is the request it was typed for (NULL when changing the passphrase), `source`
-- the surface (`window`, `cli`, ...).
CREATE TABLE IF NOT EXISTS passphrase_failures (
    id           INTEGER PRIMARY KEY,
    at_ms        INTEGER NOT NULL,
    approval_id  TEXT,
    source       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS passphrase_failures_at ON passphrase_failures (at_ms);
