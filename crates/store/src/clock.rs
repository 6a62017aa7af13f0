//! The time the store keeps its own house by.
//!
//! Every time that is stored comes from the caller (`at_ms` fields), so the gate's clock decides
//! it. The store reads a clock only for work it does by itself: dropping counter events older
//! than their retention (`tables/counter_events.rs`). [`StoreOptions::clock`] lets a test move
//! that clock, and lets the gate hand in its own.
//!
//! [`StoreOptions::clock`]: crate::StoreOptions::clock

use std::sync::Arc;

/// Now, in Unix milliseconds, by the system clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A source of the current time in Unix milliseconds; [`now_ms`] unless told otherwise.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// The system clock ([`now_ms`]).
    pub fn system() -> Self {
        Self(Arc::new(now_ms))
    }

    /// A clock that reads `now`, e.g. the gate's, or a test's that moves only when told to.
    pub fn from_fn(now: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        Self(Arc::new(now))
    }

    /// The current time, in Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Clock").field(&self.now_ms()).finish()
    }
}
