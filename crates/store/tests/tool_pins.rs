//! Tool pins survive a reopen of a real SQLite file, with their history in order.

use airlock_store::*;
use serde_json::json;

fn pin(seen: &str, pinned: Option<&str>) -> ToolPin {
    ToolPin {
        server: "files".into(),
        tool: "read".into(),
        pinned_hash: pinned.map(str::to_owned),
        pinned_definition: pinned.map(|h| json!({"name": "read", "description": h})),
        seen_hash: seen.into(),
        seen_definition: json!({"name": "read", "description": seen}),
        rejected: false,
        first_seen_ms: 1,
        changed_ms: 2,
    }
}

fn event(event: PinEvent, hash: &str, actor: Option<&str>) -> NewToolPinEvent {
    NewToolPinEvent {
        at_ms: 3,
        server: "files".into(),
        tool: "read".into(),
        event,
        hash: hash.into(),
        previous_hash: None,
        definition: json!({"name": "read"}),
        actor: actor.map(str::to_owned),
    }
}

#[tokio::test]
async fn pins_and_their_history_are_kept_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("airlock.db");
    {
        let store = Store::open(&path).unwrap();
        store
            .save_tool_pins(
                vec![pin("h1", Some("h1"))],
                vec![event(PinEvent::Pinned, "h1", Some("first tools/list"))],
            )
            .await
            .unwrap();
        // A change replaces the pin's row and appends to the history.
        store
            .save_tool_pins(
                vec![pin("h2", Some("h1"))],
                vec![event(PinEvent::Changed, "h2", None)],
            )
            .await
            .unwrap();
        store.close().await.unwrap();
    }
    let store = Store::open(&path).unwrap();
    let pins = store.tool_pins().await.unwrap();
    assert_eq!(pins, vec![pin("h2", Some("h1"))]);
    let history = store
        .tool_pin_events(Some("files"), Some("read"), 10)
        .await
        .unwrap();
    let kinds: Vec<_> = history
        .iter()
        .map(|e| (e.event.event, e.event.hash.as_str()))
        .collect();
    assert_eq!(kinds, [(PinEvent::Changed, "h2"), (PinEvent::Pinned, "h1")]);
    assert_eq!(history[1].event.actor.as_deref(), Some("first tools/list"));
    assert!(
        store
            .tool_pin_events(Some("other"), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.tool_pin_events(None, None, 1).await.unwrap().len(), 1);
}
