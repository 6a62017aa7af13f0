//! Writes and announcements the call path does not wait for: a history write seen through in a
//! task of its own, and the UI told of a recorded or completed call.

use airlock_store::Store;

/// Tells subscribers (the UI) about a recorded or completed call, off the call path: the row is
/// read back in the background, and only when someone listens.
pub(super) fn announce_call(
    store: &Store,
    events: &tokio::sync::broadcast::Sender<crate::events::GateEvent>,
    id: i64,
) {
    if events.receiver_count() == 0 {
        return;
    }
    let (store, events) = (store.clone(), events.clone());
    spawn_write(async move {
        if let Ok(Some(record)) = store.get_call(id).await {
            let _ = events.send(crate::events::GateEvent::Call(Box::new(record)));
        }
    });
}

/// Runs a history write in the background (it is queued in order by the store's writer).
pub(super) fn spawn_write(write: impl std::future::Future<Output = ()> + Send + 'static) {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            handle.spawn(write);
        }
        Err(_) => tracing::error!("no async runtime to write history on"),
    }
}
