//! Strong approvals: the user's passphrase, which a program holding the API token does not know.
//!
//! A tool with `"approval": "passphrase"` is approved only with the passphrase (denying never
//! needs it). The passphrase is set once (the window, `airlock passphrase set`) and changed only
//! with the current one, so the API token, which any program running as the user can read, is
//! not enough to set one's own. Only an Argon2id hash is stored (the `argon2` crate's defaults,
//! OWASP's recommendation: 19 MiB, 2 passes; a random 16-byte salt), in the store's
//! `passphrase` table; the passphrase itself is never logged or stored. Checking is constant time
//! (the crate's comparison) and runs on a blocking thread (it takes tens of milliseconds).
//!
//! **Rate limit.** At most [`MAX_FAILURES`] wrong passphrases in any [`FAILURE_WINDOW_MS`]; then
//! every attempt, right or wrong, is refused until the oldest leaves the window. Attempts are
//! checked one at a time (an async mutex held across the check), so parallel guesses cannot
//! overtake the count, and every wrong one is recorded in `passphrase_failures` (the count
//! survives a restart).

use std::collections::VecDeque;
use std::sync::Arc;

use airlock_store::Store;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;
use serde::Serialize;

use crate::GateError;
use crate::approvals::DecisionSource;
use crate::clock::Clock;

/// Most wrong passphrases in one [`FAILURE_WINDOW_MS`].
pub const MAX_FAILURES: usize = 5;
/// The window of the rate limit: one minute.
pub const FAILURE_WINDOW_MS: u64 = 60_000;
/// Shortest passphrase accepted, in characters.
pub const MIN_CHARS: usize = 8;
/// Longest passphrase accepted, in bytes (hashing is bounded; no one types more).
const MAX_BYTES: usize = 1024;

pub use crate::error::PassphraseError;

/// Whether a passphrase is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PassphraseStatus {
    /// True once one is set.
    pub set: bool,
    /// When it was set or last changed (Unix ms).
    pub set_ms: Option<i64>,
}

/// The passphrase checker of one gate.
pub(crate) struct Passphrases {
    store: Store,
    clock: Arc<dyn Clock>,
    /// Held across one whole attempt, so the rate limit counts every attempt before the next.
    attempt: tokio::sync::Mutex<VecDeque<u64>>,
}

impl std::fmt::Debug for Passphrases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passphrases").finish_non_exhaustive()
    }
}

impl Passphrases {
    /// The checker, with the wrong attempts of the last window from the store.
    pub(crate) async fn load(store: Store, clock: Arc<dyn Clock>) -> Result<Self, GateError> {
        let since = clock.now_ms().saturating_sub(FAILURE_WINDOW_MS);
        let recent = store
            .passphrase_failures_since(i64::try_from(since).unwrap_or(i64::MAX))
            .await
            .map_err(|source| GateError::Store {
                doing: "read the recent wrong passphrase attempts",
                source,
            })?;
        let recent = recent
            .into_iter()
            .map(|ms| u64::try_from(ms).unwrap_or(0))
            .collect();
        Ok(Passphrases {
            store,
            clock,
            attempt: tokio::sync::Mutex::new(recent),
        })
    }

    pub(crate) async fn status(&self) -> Result<PassphraseStatus, PassphraseError> {
        let stored = self.store.passphrase().await.map_err(internal)?;
        Ok(PassphraseStatus {
            set: stored.is_some(),
            set_ms: stored.map(|s| s.set_ms),
        })
    }

    /// Checks `given` against the stored hash, under the rate limit; records a wrong one
    /// (`approval`: the request it was typed for).
    pub(crate) async fn verify(
        &self,
        given: &str,
        approval: Option<&str>,
        source: DecisionSource,
    ) -> Result<(), PassphraseError> {
        let mut failures = self.attempt.lock().await;
        let now = self.clock.now_ms();
        while failures
            .front()
            .is_some_and(|&at| at.saturating_add(FAILURE_WINDOW_MS) <= now)
        {
            failures.pop_front();
        }
        if failures.len() >= MAX_FAILURES {
            let oldest = failures.front().copied().unwrap_or(now);
            return Err(PassphraseError::RateLimited {
                retry_after_ms: oldest.saturating_add(FAILURE_WINDOW_MS).saturating_sub(now),
            });
        }
        let stored = self
            .store
            .passphrase()
            .await
            .map_err(internal)?
            .ok_or(PassphraseError::NotSet)?;
        if matches(given, &stored.hash).await? {
            return Ok(());
        }
        failures.push_back(now);
        let at = i64::try_from(now).unwrap_or(i64::MAX);
        self.store
            .record_passphrase_failure(at, approval, source.as_str())
            .await
            .map_err(internal)?;
        tracing::warn!(
            approval = approval.unwrap_or("-"),
            source = source.as_str(),
            "a wrong passphrase was typed"
        );
        Err(PassphraseError::Wrong {
            left: MAX_FAILURES.saturating_sub(failures.len()),
        })
    }

    /// Sets the passphrase: the first time without `current`, after that only with it.
    pub(crate) async fn set(
        &self,
        current: Option<&str>,
        new: &str,
        source: DecisionSource,
    ) -> Result<(), PassphraseError> {
        if new.chars().count() < MIN_CHARS || new.len() > MAX_BYTES {
            return Err(PassphraseError::BadLength {
                min_chars: MIN_CHARS,
                max_bytes: MAX_BYTES,
            });
        }
        let stored = self.store.passphrase().await.map_err(internal)?;
        let expected = match (&stored, current) {
            (None, _) => None,
            (Some(_), None) => return Err(PassphraseError::AlreadySet),
            (Some(stored), Some(current)) => {
                self.verify(current, None, source).await?;
                Some(stored.hash.as_str())
            }
        };
        let hash = hash(new).await?;
        let at = i64::try_from(self.clock.now_ms()).unwrap_or(i64::MAX);
        if !self
            .store
            .swap_passphrase(expected, &hash, at)
            .await
            .map_err(internal)?
        {
            return Err(match expected {
                None => PassphraseError::AlreadySet,
                Some(_) => PassphraseError::Changed,
            });
        }
        tracing::info!(source = source.as_str(), "the approval passphrase was set");
        Ok(())
    }
}

fn internal(err: impl std::fmt::Display) -> PassphraseError {
    PassphraseError::Internal(err.to_string())
}

/// The PHC string of `passphrase` under Argon2id with a fresh random salt. Off the runtime.
async fn hash(passphrase: &str) -> Result<String, PassphraseError> {
    let passphrase = passphrase.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(internal)?;
        Argon2::default()
            .hash_password(passphrase.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(internal)
    })
    .await
    .map_err(internal)?
}

/// Whether `given` matches the PHC string `stored` (constant-time comparison). Off the runtime.
async fn matches(given: &str, stored: &str) -> Result<bool, PassphraseError> {
    let (given, stored) = (given.to_owned(), stored.to_owned());
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&stored).map_err(internal)?;
        match Argon2::default().verify_password(given.as_bytes(), &parsed) {
            Ok(()) => Ok(true),
            Err(argon2::password_hash::Error::Password) => Ok(false),
            Err(err) => Err(internal(err)),
        }
    })
    .await
    .map_err(internal)?
}
