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
use crate::approvals::{Approval, DecisionSource, HumanDecision};
use crate::clock::Clock;
use crate::gate::Gate;

/// Most wrong passphrases in one [`FAILURE_WINDOW_MS`].
pub const MAX_FAILURES: usize = 5;
/// The window of the rate limit: one minute.
pub const FAILURE_WINDOW_MS: u64 = 60_000;
/// Shortest passphrase accepted, in characters.
pub const MIN_CHARS: usize = 8;
/// Longest passphrase accepted, in bytes (hashing is bounded; no one types more).
const MAX_BYTES: usize = 1024;

/// Why a passphrase step was refused. Messages are for the person at the window or terminal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PassphraseError {
    /// An approval of a passphrase rule came without one.
    #[error(
        "approving this request needs the user's passphrase: type it on the request's card in the Airlock window, or run `airlock approve`, which asks for it"
    )]
    Required,
    /// A passphrase rule asked, but none was ever set.
    #[error(
        "no passphrase is set yet: set one in the Airlock window or with `airlock passphrase set`, then approve"
    )]
    NotSet,
    /// The passphrase does not match.
    #[error("wrong passphrase ({left} more attempt(s) this minute)")]
    Wrong {
        /// Attempts left before the rate limit.
        left: usize,
    },
    /// Too many wrong ones lately.
    #[error("too many wrong passphrases: try again in {} s", .retry_after_ms.div_ceil(1000))]
    RateLimited {
        /// When an attempt is accepted again.
        retry_after_ms: u64,
    },
    /// Setting a new one when one is set, without the current one.
    #[error("a passphrase is already set: changing it needs the current one")]
    AlreadySet,
    /// Too short or too long.
    #[error(
        "the passphrase must have at least {MIN_CHARS} characters and at most {MAX_BYTES} bytes"
    )]
    BadLength,
    /// Another change won the race.
    #[error("the passphrase was changed meanwhile: try again")]
    Changed,
    /// Hashing or the store failed.
    #[error("cannot check the passphrase: {0}")]
    Internal(String),
}

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
            return Err(PassphraseError::BadLength);
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

impl Gate {
    /// Whether a passphrase is set.
    pub async fn passphrase_status(&self) -> Result<PassphraseStatus, GateError> {
        Ok(self.interceptor().passphrases.status().await?)
    }

    /// Sets the approval passphrase: the first time without `current`; after that only with the
    /// current one (a wrong one counts against the rate limit).
    pub async fn set_passphrase(
        &self,
        current: Option<&str>,
        new: &str,
        source: DecisionSource,
    ) -> Result<(), GateError> {
        Ok(self
            .interceptor()
            .passphrases
            .set(current, new, source)
            .await?)
    }

    /// True if approving request `id` needs the passphrase: its rule said so when it was made,
    /// or the policy in force says so now.
    pub fn needs_passphrase(&self, id: &str) -> bool {
        self.approval(id)
            .is_some_and(|a| self.request_needs_passphrase(&a))
    }

    pub(crate) fn request_needs_passphrase(&self, approval: &Approval) -> bool {
        let r = &approval.request;
        r.passphrase
            || self
                .policy_for(&r.grant, &r.server)
                .is_ok_and(|p| p.needs_passphrase(&r.tool))
    }

    /// [`Gate::decide`] with the passphrase the human typed: required to approve a request whose
    /// rule asks for it (checked under the rate limit), ignored otherwise.
    pub async fn decide_with_passphrase(
        &self,
        id: &str,
        decision: HumanDecision,
        passphrase: Option<&str>,
    ) -> Result<Approval, GateError> {
        if decision.approve
            && let Some(approval) = self.approval(id)
            && self.request_needs_passphrase(&approval)
        {
            let given = passphrase
                .filter(|p| !p.is_empty())
                .ok_or(PassphraseError::Required)?;
            self.interceptor()
                .passphrases
                .verify(given, Some(id), decision.source)
                .await?;
            return self.decide_verified(id, decision).await;
        }
        self.decide(id, decision).await
    }
}
