//! Limit counters across restarts: committed uses are written to the store and read back at
//! start-up, so restarting the gate does not reset a rate or spend limit.
//!
//! The store keeps a counter event as free text plus time and amount; the text is the JSON of the
//! policy crate's counter key and window, so it reads back exactly.

use airlock_policy::{CounterEvent, CounterKey, LimitUse};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct StoredKey {
    #[serde(flatten)]
    key: CounterKey,
    window_ms: u64,
}

/// The store's form of one committed use.
pub fn to_stored(used: &LimitUse, at_ms: u64) -> airlock_store::CounterEvent {
    let key = serde_json::to_string(&StoredKey {
        key: used.key.clone(),
        window_ms: used.window_ms,
    })
    .unwrap_or_default();
    airlock_store::CounterEvent {
        key,
        at_ms: i64::try_from(at_ms).unwrap_or(i64::MAX),
        amount: used.amount,
    }
}

/// Back to the policy crate's form; events whose key cannot be read are skipped with a warning.
pub fn from_stored(events: Vec<airlock_store::CounterEvent>) -> Vec<CounterEvent> {
    events
        .into_iter()
        .filter_map(
            |event| match serde_json::from_str::<StoredKey>(&event.key) {
                Ok(stored) => Some(CounterEvent {
                    key: stored.key,
                    at_ms: u64::try_from(event.at_ms).unwrap_or(0),
                    amount: event.amount,
                    window_ms: stored.window_ms,
                }),
                Err(err) => {
                    tracing::warn!(key = %event.key, "skipping unreadable counter event: {err}");
                    None
                }
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_policy::Scope;

    #[test]
    fn a_use_round_trips_through_the_stored_form() {
        let used = LimitUse {
            key: CounterKey {
                counter: "rate".into(),
                scope: Scope::Grant,
                scope_value: "claude".into(),
            },
            window_ms: 60_000,
            max: 30.0,
            amount: 2.5,
            rule: "/tools/x/limits/0".into(),
        };
        let back = from_stored(vec![to_stored(&used, 1234)]);
        assert_eq!(
            back,
            vec![CounterEvent {
                key: used.key,
                at_ms: 1234,
                amount: 2.5,
                window_ms: 60_000
            }]
        );
    }
}
