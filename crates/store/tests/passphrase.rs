//! The passphrase hash and wrong attempts, on a real SQLite file.

use airlock_store::Store;

#[tokio::test]
async fn the_hash_is_set_once_then_changed_only_from_the_hash_in_force() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("airlock.db");
    let store = Store::open(&path).unwrap();
    assert_eq!(store.passphrase().await.unwrap(), None);
    assert!(
        store
            .swap_passphrase(None, "$argon2id$a", 10)
            .await
            .unwrap()
    );
    // A second "first" set loses: one is already there.
    assert!(
        !store
            .swap_passphrase(None, "$argon2id$b", 11)
            .await
            .unwrap()
    );
    // A change from a hash that is not the one in force loses too.
    assert!(
        !store
            .swap_passphrase(Some("$argon2id$x"), "$argon2id$c", 12)
            .await
            .unwrap()
    );
    assert!(
        store
            .swap_passphrase(Some("$argon2id$a"), "$argon2id$d", 13)
            .await
            .unwrap()
    );
    drop(store);
    let store = Store::open(&path).unwrap();
    let stored = store.passphrase().await.unwrap().unwrap();
    assert_eq!((stored.hash.as_str(), stored.set_ms), ("$argon2id$d", 13));
}

#[tokio::test]
async fn wrong_attempts_are_kept_and_read_by_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("airlock.db")).unwrap();
    store
        .record_passphrase_failure(100, Some("a-1"), "cli")
        .await
        .unwrap();
    store
        .record_passphrase_failure(200, None, "window")
        .await
        .unwrap();
    store
        .record_passphrase_failure(300, Some("a-1"), "api")
        .await
        .unwrap();
    assert_eq!(
        store.passphrase_failures_since(150).await.unwrap(),
        [200, 300]
    );
    assert_eq!(store.passphrase_failures_since(0).await.unwrap().len(), 3);
}
