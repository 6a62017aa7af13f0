//! Sliding-window counters, exact under concurrency.
//!
//! A limit says "at most `max` in any interval of `window`". Each counter keeps the
//! timestamped amounts of recent calls; a call fits if the sum over the last
//! `window` milliseconds plus its own amount stays within `max`. Because every
//! reservation is checked against the window ending at its own (monotonic) time,
//! no interval of that length ever holds more than `max` (fixed calendar windows,
//! as in PolicyLayer/Intercept, admit up to 2 x max around a boundary).
//!
//! Concurrency: `SlidingWindows` is plain data; the gate holds it in a `Mutex` and
//! calls [`SlidingWindows::reserve`] once per call, which checks and records all
//! of the call's limit uses in one step. A reservation counts as used while the
//! call is pending; [`SlidingWindows::commit`] keeps it, [`SlidingWindows::rollback`]
//! frees it (human denied, upstream never answered).
//!
//! Time: callers pass `now_ms`. If it ever goes backwards (clock change) it is
//! clamped to the latest time seen, which keeps the guarantee above.
//!
//! Memory: events older than the longest window their counter was used with are
//! pruned, so memory is bounded by the calls inside the windows.

use std::collections::{HashMap, VecDeque};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::Scope;

/// Identifies one counter: its name, its scope and the scope's value (the grant
/// name, session id or server name; empty for `global`). Keys do not depend on
/// the policy revision, so counters survive policy reloads.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CounterKey {
    /// The `counter` name from the policy.
    pub counter: String,
    /// The limit's scope.
    pub scope: Scope,
    /// Grant name, session id or server name; empty for `global`.
    pub scope_value: String,
}

impl fmt::Display for CounterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scope {
            Scope::Global | Scope::Team => {
                write!(f, "`{}` ({})", self.counter, self.scope.as_str())
            }
            s => write!(
                f,
                "`{}` ({} `{}`)",
                self.counter,
                s.as_str(),
                self.scope_value
            ),
        }
    }
}

/// One use of a limit by a call: what [`crate::evaluate`] asks the gate to reserve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimitUse {
    /// The counter to charge.
    pub key: CounterKey,
    /// The window length in milliseconds.
    pub window_ms: u64,
    /// Most allowed in any window.
    pub max: f64,
    /// What this call adds: 1, or the `increment_from` argument for spend limits.
    pub amount: f64,
    /// JSON Pointer of the limit in the policy, e.g. `/tools/x/limits/0`.
    pub rule: String,
}

/// A reservation made by [`SlidingWindows::reserve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReservationId(pub u64);

/// A reservation did not fit.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[error("limit reached for counter {key}: {used} used + {amount} requested > {max}")]
pub struct LimitExceeded {
    /// Index of the failing use in the slice passed to `reserve`.
    pub index: usize,
    /// The counter that is full.
    pub key: CounterKey,
    /// The limit's rule pointer.
    pub rule: String,
    /// Already used in the window (including pending reservations).
    pub used: f64,
    /// What the call asked for.
    pub amount: f64,
    /// The limit.
    pub max: f64,
    /// When enough old events leave the window; `None` if the amount alone exceeds `max`.
    pub retry_after_ms: Option<u64>,
}

/// A committed counter event, for persisting counters across restarts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CounterEvent {
    /// The counter.
    pub key: CounterKey,
    /// When the call was reserved, in ms since the Unix epoch (or the caller's clock).
    pub at_ms: u64,
    /// What it added.
    pub amount: f64,
    /// How long to keep it: the longest window this counter was used with.
    pub window_ms: u64,
}

/// Read access to counters, for [`crate::evaluate`].
pub trait CounterView {
    /// Sum of the amounts in the window `(now_ms - window_ms, now_ms]`.
    fn used(&self, key: &CounterKey, window_ms: u64, now_ms: u64) -> f64;

    /// How long until `amount` more fits under `max`; `Some(0)` if it fits now,
    /// `None` if it never can (`amount > max`).
    fn retry_after_ms(
        &self,
        key: &CounterKey,
        window_ms: u64,
        max: f64,
        amount: f64,
        now_ms: u64,
    ) -> Option<u64>;
}

/// Counters that are all zero: for `airlock explain` and for tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCounters;

impl CounterView for NoCounters {
    fn used(&self, _: &CounterKey, _: u64, _: u64) -> f64 {
        0.0
    }
    fn retry_after_ms(&self, _: &CounterKey, _: u64, max: f64, amount: f64, _: u64) -> Option<u64> {
        fits(0.0, amount, max).then_some(0)
    }
}

/// True if `used + amount` stays within `max`, allowing for float rounding in sums.
pub(crate) fn fits(used: f64, amount: f64, max: f64) -> bool {
    used + amount <= max + 1e-9 * max.abs().max(1.0)
}

#[derive(Debug, Clone)]
struct Event {
    at_ms: u64,
    amount: f64,
    /// Running sum of amounts up to and including this event, so the sum over a
    /// window is one subtraction after a binary search (O(log n) per check).
    cum: f64,
    reservation: Option<u64>,
}

#[derive(Debug, Clone, Default)]
struct Series {
    /// Oldest first; times never decrease.
    events: VecDeque<Event>,
    /// Longest window this counter was used with.
    retain_ms: u64,
}

impl Series {
    /// Index of the first event inside `(now_ms - window_ms, now_ms]`.
    fn window_start(&self, window_ms: u64, now_ms: u64) -> usize {
        match now_ms.checked_sub(window_ms) {
            Some(from) => self.events.partition_point(|e| e.at_ms <= from),
            None => 0,
        }
    }

    fn used(&self, window_ms: u64, now_ms: u64) -> f64 {
        let start = self.window_start(window_ms, now_ms);
        match (self.events.get(start), self.events.back()) {
            (Some(first), Some(last)) => (last.cum - (first.cum - first.amount)).max(0.0),
            _ => 0.0,
        }
    }

    fn push(&mut self, at_ms: u64, amount: f64, reservation: Option<u64>) {
        let cum = self.events.back().map_or(0.0, |e| e.cum) + amount;
        self.events.push_back(Event {
            at_ms,
            amount,
            cum,
            reservation,
        });
    }

    /// Recomputes the running sums after events were removed from the middle.
    fn resum(&mut self) {
        let mut cum = 0.0;
        for e in &mut self.events {
            cum += e.amount;
            e.cum = cum;
        }
    }

    fn retry_after(&self, window_ms: u64, max: f64, amount: f64, now_ms: u64) -> Option<u64> {
        if !fits(0.0, amount, max) {
            return None;
        }
        let mut total = self.used(window_ms, now_ms);
        if fits(total, amount, max) {
            return Some(0);
        }
        let start = self.window_start(window_ms, now_ms);
        for e in self.events.iter().skip(start) {
            total -= e.amount;
            if fits(total, amount, max) {
                return Some((e.at_ms + window_ms).saturating_sub(now_ms));
            }
        }
        Some(window_ms)
    }

    fn prune(&mut self, now_ms: u64) {
        while let Some(front) = self.events.front() {
            if front.at_ms.saturating_add(self.retain_ms) <= now_ms {
                self.events.pop_front();
            } else {
                break;
            }
        }
    }
}

/// In-memory sliding-window counters with reservations. See the module docs.
#[derive(Debug, Clone, Default)]
pub struct SlidingWindows {
    series: HashMap<CounterKey, Series>,
    pending: HashMap<u64, Vec<CounterKey>>,
    next_reservation: u64,
    high_water_ms: u64,
    reserves_since_sweep: u32,
}

/// Full prune of all counters every this many reservations.
const SWEEP_EVERY: u32 = 1024;

impl SlidingWindows {
    /// Empty counters.
    pub fn new() -> Self {
        Self::default()
    }

    fn clamp(&self, now_ms: u64) -> u64 {
        now_ms.max(self.high_water_ms)
    }

    /// Checks every use and, only if all fit, records them all as one pending
    /// reservation. Uses of the same key within `uses` add up.
    #[expect(
        clippy::result_large_err,
        reason = "called once per call; the caller reads every field of the refusal"
    )]
    pub fn reserve(
        &mut self,
        uses: &[LimitUse],
        now_ms: u64,
    ) -> Result<ReservationId, LimitExceeded> {
        let now = self.clamp(now_ms);
        self.high_water_ms = now;
        for (i, u) in uses.iter().enumerate() {
            let earlier: f64 = uses[..i]
                .iter()
                .filter(|p| p.key == u.key)
                .map(|p| p.amount)
                .sum();
            let used = self.used(&u.key, u.window_ms, now) + earlier;
            if !fits(used, u.amount, u.max) {
                let retry = self.series.get(&u.key).map_or(Some(0), |s| {
                    s.retry_after(u.window_ms, u.max - earlier, u.amount, now)
                });
                return Err(LimitExceeded {
                    index: i,
                    key: u.key.clone(),
                    rule: u.rule.clone(),
                    used,
                    amount: u.amount,
                    max: u.max,
                    retry_after_ms: if fits(earlier, u.amount, u.max) {
                        retry
                    } else {
                        None
                    },
                });
            }
        }
        let id = self.next_reservation;
        self.next_reservation += 1;
        let mut keys = Vec::with_capacity(uses.len());
        for u in uses {
            let series = self.series.entry(u.key.clone()).or_default();
            series.retain_ms = series.retain_ms.max(u.window_ms);
            series.prune(now);
            series.push(now, u.amount, Some(id));
            keys.push(u.key.clone());
        }
        self.pending.insert(id, keys);
        self.reserves_since_sweep += 1;
        if self.reserves_since_sweep >= SWEEP_EVERY {
            self.prune(now);
        }
        Ok(ReservationId(id))
    }

    /// Keeps a pending reservation as used. Returns false if it was unknown
    /// (already committed or rolled back).
    pub fn commit(&mut self, id: ReservationId) -> bool {
        let Some(keys) = self.pending.remove(&id.0) else {
            return false;
        };
        // Each use of a key pushed one event at reserve time, so its events are near the back:
        // search from the newest and stop at the match (cost: calls reserved since, not the
        // whole window).
        for key in keys {
            if let Some(s) = self.series.get_mut(&key)
                && let Some(e) = s
                    .events
                    .iter_mut()
                    .rev()
                    .find(|e| e.reservation == Some(id.0))
            {
                e.reservation = None;
            }
        }
        true
    }

    /// Frees a pending reservation's quota. Returns false if it was unknown.
    pub fn rollback(&mut self, id: ReservationId) -> bool {
        let Some(keys) = self.pending.remove(&id.0) else {
            return false;
        };
        for key in keys {
            if let Some(s) = self.series.get_mut(&key) {
                s.events.retain(|e| e.reservation != Some(id.0));
                s.resum();
                if s.events.is_empty() {
                    self.series.remove(&key);
                }
            }
        }
        true
    }

    /// Reservations not yet committed or rolled back.
    pub fn pending_reservations(&self) -> usize {
        self.pending.len()
    }

    /// Drops events that left every window their counter is used with.
    pub fn prune(&mut self, now_ms: u64) {
        let now = self.clamp(now_ms);
        self.reserves_since_sweep = 0;
        let pending = &self.pending;
        self.series.retain(|key, s| {
            s.prune(now);
            !s.events.is_empty() || pending.values().any(|keys| keys.contains(key))
        });
    }

    /// Number of events held, for tests and metrics.
    pub fn event_count(&self) -> usize {
        self.series.values().map(|s| s.events.len()).sum()
    }

    /// Committed events, for persisting; pending reservations are left out.
    pub fn events(&self) -> Vec<CounterEvent> {
        let mut out = Vec::new();
        for (key, s) in &self.series {
            for e in s.events.iter().filter(|e| e.reservation.is_none()) {
                out.push(CounterEvent {
                    key: key.clone(),
                    at_ms: e.at_ms,
                    amount: e.amount,
                    window_ms: s.retain_ms,
                });
            }
        }
        out.sort_by(|a, b| (a.at_ms, &a.key).cmp(&(b.at_ms, &b.key)));
        out
    }

    /// Adds persisted events back as committed (after a restart).
    pub fn restore(&mut self, events: impl IntoIterator<Item = CounterEvent>) {
        for e in events {
            if !e.amount.is_finite() || e.amount < 0.0 {
                continue;
            }
            self.high_water_ms = self.high_water_ms.max(e.at_ms);
            let s = self.series.entry(e.key).or_default();
            s.retain_ms = s.retain_ms.max(e.window_ms);
            s.push(e.at_ms, e.amount, None);
        }
        for s in self.series.values_mut() {
            s.events.make_contiguous().sort_by_key(|e| e.at_ms);
            s.resum();
        }
    }
}

impl CounterView for SlidingWindows {
    fn used(&self, key: &CounterKey, window_ms: u64, now_ms: u64) -> f64 {
        let now = self.clamp(now_ms);
        self.series.get(key).map_or(0.0, |s| s.used(window_ms, now))
    }

    fn retry_after_ms(
        &self,
        key: &CounterKey,
        window_ms: u64,
        max: f64,
        amount: f64,
        now_ms: u64,
    ) -> Option<u64> {
        let now = self.clamp(now_ms);
        match self.series.get(key) {
            Some(s) => s.retry_after(window_ms, max, amount, now),
            None => fits(0.0, amount, max).then_some(0),
        }
    }
}
