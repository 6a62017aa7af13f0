-- Airlock store, schema version 3: what a remembered decision covers.
-- SHIPPED MIGRATIONS ARE NEVER EDITED: change the schema by adding the next numbered file.
--
-- A remembered decision now covers one agent identity, one server and tool, and the arguments
-- the human chose (the gate owns `arg_match`: `{"argsHash": …}` for the same arguments,
-- `{"under": {"argument", "path"}}` for a path pattern, NULL for any arguments).
--
-- `client_name`: for a tokenless agent's timed or "always" rule, the client name it declared
-- (`''` when it declared none). NULL covers every client of the grant.
ALTER TABLE remembered ADD COLUMN client_name TEXT;

-- Rules made before this version covered any arguments of the tool and, for tokenless agents
-- (grant `default`), every tokenless agent. Nothing is widened, and approvals are narrowed to
-- what the human saw:
-- 1. an approval covers the arguments of the call that was approved (the args hash of its
--    request, which the approvals table kept);
-- 2. a tokenless approval outside a session covers the client that made the call (from the
--    call's history row), `''` when that client declared no name;
-- 3. an approval that cannot be narrowed so (its request or call is no longer in the store) is
--    revoked now: asking again is safe, guessing is not.
-- Denials keep their whole reach: narrowing a denial would let calls through that it refused.
UPDATE remembered
SET arg_match = (SELECT json_object('argsHash', a.args_hash)
                 FROM approvals a WHERE a.id = remembered.approval_id)
WHERE effect = 'approve' AND arg_match IS NULL AND revoked_ms IS NULL;

UPDATE remembered
SET client_name = (SELECT COALESCE(c.client_name, '') FROM calls c
                   WHERE c.approval_id = remembered.approval_id ORDER BY c.id LIMIT 1)
WHERE effect = 'approve' AND grant_name = 'default' AND session_id IS NULL
  AND revoked_ms IS NULL;

UPDATE remembered
SET revoked_ms = CAST(strftime('%s', 'now') AS INTEGER) * 1000
WHERE effect = 'approve' AND revoked_ms IS NULL
  AND (arg_match IS NULL
       OR (grant_name = 'default' AND session_id IS NULL AND client_name IS NULL));
