//! Schema version 3 keeps the remembered decisions of a version-2 store without widening any:
//! approvals narrowed to the approved call's arguments and (for tokenless agents) its client,
//! approvals that cannot be narrowed revoked, denials kept whole.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test on any error"
)]

use airlock_store::*;
use serde_json::json;

const V2: [&str; 2] = [
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_call_counts.sql"),
];

fn version_2_store(path: &std::path::Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    for sql in V2 {
        conn.execute_batch(sql).unwrap();
    }
    conn.pragma_update(None, "user_version", 2).unwrap();
    conn.execute_batch(
        "INSERT INTO approvals (id, created_ms, expires_ms, status, grant_name, session_id, server,
             tool, args_hash, fingerprint, args_redacted)
         VALUES ('a-ada', 1, 2, 'approved', 'default', 's1', 'memory', 'delete_entities',
                 'hash-ada', 'f', '{}'),
                ('a-ci', 1, 2, 'approved', 'ci', 's2', 'memory', 'delete_entities',
                 'hash-ci', 'f', '{}'),
                ('a-anon', 1, 2, 'approved', 'default', 's3', 'memory', 'read_graph',
                 'hash-anon', 'f', '{}');
         INSERT INTO calls (at_ms, grant_name, session_id, client_name, server, tool,
             args_redacted, args_hash, decision, decided_by, approval_id, prev_hash, row_hash)
         VALUES (1, 'default', 's1', 'python-agent', 'memory', 'delete_entities', '{}',
                 'hash-ada', 'allow', 'human', 'a-ada', 'p', 'r'),
                (1, 'default', 's3', NULL, 'memory', 'read_graph', '{}',
                 'hash-anon', 'allow', 'human', 'a-anon', 'p', 'r');
         INSERT INTO remembered (id, grant_name, session_id, server, tool, arg_match, effect,
             created_ms, expires_ms, approval_id)
         VALUES (1, 'default', NULL, 'memory', 'delete_entities', NULL, 'approve', 1, NULL, 'a-ada'),
                (2, 'ci', NULL, 'memory', 'delete_entities', NULL, 'approve', 1, NULL, 'a-ci'),
                (3, 'default', NULL, 'memory', 'read_graph', NULL, 'approve', 1, NULL, 'a-anon'),
                (4, 'default', NULL, 'memory', 'open_nodes', NULL, 'approve', 1, NULL, 'gone'),
                (5, 'ci', 's2', 'memory', 'create_entities', NULL, 'approve', 1, NULL, NULL),
                (6, 'default', NULL, 'memory', 'delete_relations', NULL, 'deny', 1, NULL, 'gone');",
    )
    .unwrap();
}

#[tokio::test]
async fn old_remembered_decisions_are_narrowed_never_widened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v2.db");
    version_2_store(&path);
    let store = Store::open(&path).unwrap();
    let active = store.active_remembered(10).await.unwrap();
    let by_id = |id: i64| active.iter().find(|r| r.id == id).map(|r| &r.rule);

    let ada = by_id(1).expect("a tokenless approval with its call is kept");
    assert_eq!(ada.arg_match, Some(json!({"argsHash": "hash-ada"})));
    assert_eq!(ada.client_name.as_deref(), Some("python-agent"));

    let ci = by_id(2).expect("a grant's approval is kept");
    assert_eq!(ci.arg_match, Some(json!({"argsHash": "hash-ci"})));
    assert_eq!(ci.client_name, None, "the grant is the identity");

    let anon = by_id(3).expect("a client that declared no name is kept as such");
    assert_eq!(anon.client_name.as_deref(), Some(""));

    assert!(
        by_id(4).is_none(),
        "no request left to narrow it to: revoked"
    );
    assert!(by_id(5).is_none(), "no request at all: revoked");

    let deny = by_id(6).expect("denials are kept");
    assert_eq!(
        (deny.arg_match.as_ref(), deny.client_name.as_ref()),
        (None, None)
    );
    assert_eq!(deny.effect, Effect::Deny);
    store.close().await.unwrap();
}
