//! Counter events are kept as long as the gate reads them back at start-up, and no longer.
//!
//! The store's clock is a test clock that moves only when told to, so weeks pass without
//! waiting. The writer runs a due step of its retention chore when it takes a group of writes,
//! before the group, so once an awaited write returns, a step that was due has run.
#![expect(clippy::unwrap_used, reason = "a test stops at the first error")]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use airlock_store::*;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600_000;

fn retention_ms() -> i64 {
    i64::try_from(COUNTER_RETENTION.as_millis()).unwrap()
}

/// A store whose housekeeping goes by `now`.
fn open(path: &Path, now: &Arc<AtomicI64>) -> Store {
    let now = Arc::clone(now);
    Store::open_with(
        path,
        StoreOptions {
            clock: Clock::from_fn(move || now.load(Ordering::SeqCst)),
            ..StoreOptions::default()
        },
    )
    .unwrap()
}

/// Waits for the writer: an awaited write behind everything queued so far.
async fn barrier(store: &Store) {
    store.flush_search_index().await.unwrap();
}

fn event(at_ms: i64) -> CounterEvent {
    CounterEvent {
        key: format!("trigger_event_rate|grant:{}", (at_ms / MINUTE) % 3),
        at_ms,
        amount: 1.0,
    }
}

#[test]
fn the_retention_covers_what_the_gate_reads_back() {
    // `Gate::build` reads the counter events of the last 8 days; the longest named window is a
    // day.
    assert_eq!(COUNTER_RETENTION.as_secs(), 8 * 86_400);
    assert_eq!(StoreOptions::default().counter_retention, COUNTER_RETENTION);
}

#[tokio::test]
async fn counter_events_stay_bounded_over_three_weeks_and_the_last_eight_days_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("airlock.db");
    let now = Arc::new(AtomicI64::new(T0));
    let store = open(&path, &now);
    let mut all = Vec::new();
    // One counter event a minute for three weeks, saved an hour at a time the way the gate
    // saves them (queued, not awaited).
    for hour in 0..21 * 24 {
        let start = T0 + hour * HOUR;
        now.store(start + HOUR - 1, Ordering::SeqCst);
        let events: Vec<CounterEvent> = (0..60).map(|m| event(start + m * MINUTE)).collect();
        all.extend(events.clone());
        store.save_counter_events_nowait(events);
        barrier(&store).await;
        if (hour + 1) % 24 == 0 {
            let kept = store.load_counter_events(i64::MIN).await.unwrap().len() as i64;
            // Deleted once a day: at most the retention, a day and an hour of events are left.
            let bound = (retention_ms() + DAY + HOUR) / MINUTE;
            assert!(
                kept <= bound,
                "day {}: {kept} events kept, bound {bound}",
                (hour + 1) / 24
            );
        }
    }
    let kept = store.load_counter_events(i64::MIN).await.unwrap();
    assert!(
        kept.len() < all.len() / 2,
        "{} of {} kept",
        kept.len(),
        all.len()
    );
    // Everything the gate would read back at start-up now is still there, in order.
    let since = now.load(Ordering::SeqCst) - retention_ms();
    let expected: Vec<CounterEvent> = all.iter().filter(|e| e.at_ms >= since).cloned().collect();
    assert_eq!(expected.len() as i64, retention_ms() / MINUTE);
    assert_eq!(store.load_counter_events(since).await.unwrap(), expected);
    // And nothing older than a day past the retention.
    assert!(kept.iter().all(|e| e.at_ms >= since - DAY - HOUR));
    store.close().await.unwrap();
}

#[tokio::test]
async fn a_backlog_larger_than_one_step_is_worked_off_between_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("airlock.db");
    let now = Arc::new(AtomicI64::new(T0));
    let store = open(&path, &now);
    // A store that kept every event: 5,000 from a month ago (the chore that ran before this
    // group found the table empty, and is next due a day later), one from now.
    let old: Vec<CounterEvent> = (0..5000).map(|i| event(T0 - 30 * DAY + i)).collect();
    store.save_counter_events_nowait(old);
    store.save_counter_events_nowait(vec![event(T0)]);
    barrier(&store).await;
    assert_eq!(
        store.load_counter_events(i64::MIN).await.unwrap().len(),
        5001
    );
    // The day after, writes keep coming a second apart: before each, the writer runs the next
    // bounded step (more than 100 ms after the last one); ten are more than enough.
    for s in 0..10 {
        now.store(T0 + DAY + s * 1000, Ordering::SeqCst);
        barrier(&store).await;
    }
    assert_eq!(
        store.load_counter_events(i64::MIN).await.unwrap(),
        vec![event(T0)]
    );
    store.close().await.unwrap();
}

#[tokio::test]
async fn prune_deletes_the_counter_events_past_their_retention_and_reports_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("airlock.db");
    let now = Arc::new(AtomicI64::new(T0));
    let store = open(&path, &now);
    // The daily chore ran before this group (on an empty table): all 30 are stored.
    let events: Vec<CounterEvent> = (0..30).map(|d| event(T0 - d * DAY)).collect();
    store.save_counter_events_nowait(events.clone());
    barrier(&store).await;
    assert_eq!(store.load_counter_events(i64::MIN).await.unwrap().len(), 30);

    let report = store.prune(Retention::KeepRows(u64::MAX)).await.unwrap();
    // Days 0 to 8 back are within 8 days (day 8 exactly at the edge); 21 are older.
    assert_eq!(
        report,
        PruneReport {
            calls: 0,
            completions: 0,
            counter_events: 21
        }
    );
    let mut kept = store.load_counter_events(i64::MIN).await.unwrap();
    kept.reverse();
    assert_eq!(kept, events[..9].to_vec());
    store.close().await.unwrap();

    // A shorter retention, chosen at open, is what the store goes by (here the chore, due at the
    // first write after opening, deletes them before the prune's own turn comes).
    let short = Store::open_with(
        &path,
        StoreOptions {
            counter_retention: std::time::Duration::from_secs(86_400),
            clock: Clock::from_fn(move || T0),
            ..StoreOptions::default()
        },
    )
    .unwrap();
    short.prune(Retention::KeepRows(u64::MAX)).await.unwrap();
    let mut kept = short.load_counter_events(i64::MIN).await.unwrap();
    kept.reverse();
    assert_eq!(kept, events[..2].to_vec());
    short.close().await.unwrap();
}
