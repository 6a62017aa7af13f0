//! Sliding-window counters: the limit holds in every interval, quota comes back on
//! rollback, events persist and prune.

use airlock_policy::{CounterKey, CounterView, LimitUse, Scope, SlidingWindows};
use proptest::prelude::*;

fn key(name: &str) -> CounterKey {
    CounterKey {
        counter: name.into(),
        scope: Scope::Grant,
        scope_value: "g".into(),
    }
}

fn use_of(name: &str, window_ms: u64, max: f64, amount: f64) -> LimitUse {
    LimitUse {
        key: key(name),
        window_ms,
        max,
        amount,
        rule: "/tools/t/limits/0".into(),
    }
}

#[derive(Debug, Clone)]
enum Step {
    Call { dt: u64, amount: u8, outcome: u8 },
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (0u64..400, 1u8..4, 0u8..3).prop_map(|(dt, amount, outcome)| Step::Call {
            dt,
            amount,
            outcome,
        }),
        1..300,
    )
}

proptest! {
    /// Never more than `max` in any interval of the window's length, whatever the
    /// sequence of calls, commits and rollbacks.
    #[test]
    fn never_more_than_max_in_any_window(steps in steps(), window_ms in 1u64..2_000, max in 1u8..10, spend in any::<bool>()) {
        let max = f64::from(max);
        let mut w = SlidingWindows::new();
        let mut now = 0u64;
        let mut committed: Vec<(u64, f64)> = Vec::new();
        for Step::Call { dt, amount, outcome } in steps {
            now += dt;
            let amount = if spend { f64::from(amount) } else { 1.0 };
            let u = use_of("c", window_ms, max, amount);
            let before = w.used(&u.key, window_ms, now);
            match w.reserve(std::slice::from_ref(&u), now) {
                Ok(id) => {
                    prop_assert!(before + amount <= max);
                    match outcome {
                        0 => { prop_assert!(w.rollback(id)); }
                        _ => { prop_assert!(w.commit(id)); committed.push((now, amount)); }
                    }
                }
                Err(e) => {
                    prop_assert!(before + amount > max);
                    // retry_after is exact: waiting that long makes it fit, a ms less does not
                    if let Some(ms) = e.retry_after_ms {
                        prop_assert!(w.used(&u.key, window_ms, now + ms) + amount <= max);
                        if ms > 0 {
                            prop_assert!(w.used(&u.key, window_ms, now + ms - 1) + amount > max);
                        }
                    } else {
                        prop_assert!(amount > max);
                    }
                }
            }
        }
        // Check every interval [t, t + window) that starts at an event.
        for (i, (t, _)) in committed.iter().enumerate() {
            let sum: f64 = committed[i..].iter().take_while(|(s, _)| *s < t + window_ms).map(|(_, a)| a).sum();
            prop_assert!(sum <= max, "{} in [{}, {})", sum, t, t + window_ms);
        }
    }

    /// A rolled-back reservation gives its quota back exactly.
    #[test]
    fn rollback_restores_quota(fill in 0u8..10, amount in 1u8..5) {
        let mut w = SlidingWindows::new();
        for i in 0..fill {
            let _ = w.reserve(&[use_of("c", 1_000, 10.0, 1.0)], u64::from(i));
        }
        let before = w.used(&key("c"), 1_000, 50);
        let uses = [use_of("c", 1_000, 10.0, f64::from(amount)), use_of("d", 5_000, 3.0, 1.0)];
        if let Ok(id) = w.reserve(&uses, 50) {
            prop_assert_eq!(w.used(&key("c"), 1_000, 50), before + f64::from(amount));
            prop_assert!(w.rollback(id));
            prop_assert!(!w.rollback(id));
        }
        prop_assert_eq!(w.used(&key("c"), 1_000, 50), before);
        prop_assert_eq!(w.used(&key("d"), 5_000, 50), 0.0);
    }
}

#[test]
fn reserve_is_all_or_nothing() {
    let mut w = SlidingWindows::new();
    w.reserve(&[use_of("b", 1_000, 1.0, 1.0)], 0).unwrap();
    let err = w
        .reserve(
            &[use_of("a", 1_000, 5.0, 1.0), use_of("b", 1_000, 1.0, 1.0)],
            10,
        )
        .unwrap_err();
    assert_eq!(err.index, 1);
    assert_eq!(err.retry_after_ms, Some(990));
    assert_eq!(
        w.used(&key("a"), 1_000, 10),
        0.0,
        "nothing recorded for `a`"
    );
    assert_eq!(w.pending_reservations(), 1);
}

#[test]
fn pending_reservations_count_and_commit_keeps_them() {
    let mut w = SlidingWindows::new();
    let u = [use_of("a", 1_000, 2.0, 1.0)];
    let r1 = w.reserve(&u, 0).unwrap();
    let _r2 = w.reserve(&u, 1).unwrap();
    assert!(w.reserve(&u, 2).is_err());
    assert!(w.commit(r1));
    assert!(!w.commit(r1));
    assert!(w.reserve(&u, 1_000).is_ok(), "r1 left the window at 1000");
}

#[test]
fn events_round_trip_without_pending_reservations() {
    let mut w = SlidingWindows::new();
    let u = [use_of("a", 60_000, 3.0, 1.0)];
    let committed = w.reserve(&u, 100).unwrap();
    w.commit(committed);
    let _pending = w.reserve(&u, 200).unwrap();
    let events = w.events();
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].at_ms, events[0].window_ms), (100, 60_000));

    let mut restored = SlidingWindows::new();
    restored.restore(events);
    assert_eq!(restored.used(&key("a"), 60_000, 300), 1.0);
    assert_eq!(restored.pending_reservations(), 0);
}

#[test]
fn old_events_are_pruned_so_memory_stays_bounded() {
    let mut w = SlidingWindows::new();
    for i in 0..10_000u64 {
        let id = w
            .reserve(&[use_of("a", 100, 1_000.0, 1.0)], i * 10)
            .unwrap();
        w.commit(id);
    }
    assert!(w.event_count() <= 11, "{} events kept", w.event_count());
    w.prune(10_000_000);
    assert_eq!(w.event_count(), 0);
}

#[test]
fn time_going_backwards_cannot_exceed_the_limit() {
    let mut w = SlidingWindows::new();
    let u = [use_of("a", 1_000, 1.0, 1.0)];
    w.reserve(&u, 10_000).unwrap();
    assert!(
        w.reserve(&u, 5_000).is_err(),
        "clock stepped back: still the same window"
    );
}
