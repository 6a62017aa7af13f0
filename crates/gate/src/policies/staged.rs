//! Loosening takes a human: a policy change that arrives from disk and may widen what agents can
//! do is staged, not applied.
//!
//! Anything that can write a file can write a policy file, and agents run with the user's
//! rights, often with a file-writing tool. So every valid new version of a policy file is
//! compared with the one in force ([`airlock_policy::diff`]): when every difference is tighter it
//! applies at once (hot reload keeps working for every tightening); otherwise the version in
//! force stays, and the new one waits as a [`StagedPolicy`] until a human applies or discards it
//! (the window, `airlock policy apply|discard`). A version saved by the human through the API
//! applies at once ([`ChangeOrigin::Human`]).
//!
//! The policy in force must survive a restart, or restarting the gate would apply whatever is on
//! disk. [`Applied`] keeps the text of the last applied version of each policy file in
//! `<data dir>/policies-in-force/` (owner-only files named after a hash of the policy's path); at
//! start that copy is the version in force and the file on disk is compared with it like any
//! change. A file seen for the first time (no copy yet) is taken as it is: its first version is
//! the user's, as when the gate was set up. A policy that was never valid is compared with one
//! that denies everything, so its first valid version is staged when it loosens that.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use airlock_policy::{Policy, PolicyDiff, diff};
use sha2::{Digest, Sha256};

use super::LoadedPolicy;
use crate::config::PolicySource;

/// What the policy in force is compared with when there is none: everything denied.
const DENY_ALL: &str = r#"{"version": "1", "default": "deny"}"#;

/// Where a policy change comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOrigin {
    /// Read from disk (the watcher, a reload, a start): whoever wrote the file may be an agent.
    Disk,
    /// Saved by the human through the API (the window): applies at once.
    Human,
}

/// A version of a policy file that loosens the one in force and waits for a human.
#[derive(Debug, Clone)]
pub struct StagedPolicy {
    /// The policy file.
    pub source: PolicySource,
    /// The staged version's text, as on disk.
    pub text: String,
    /// The staged version, parsed.
    pub policy: Arc<Policy>,
    /// How it differs from the version in force (some difference is looser).
    pub diff: PolicyDiff,
}

/// Why a staged change could not be applied or discarded.
#[derive(Debug, thiserror::Error)]
pub enum StagedError {
    #[error("no change of `{0}` is staged")]
    NothingStaged(String),
    /// The file changed on disk since the diff was shown; the new version is compared anew.
    #[error(
        "`{0}` changed on disk since its staged version was shown; review the new difference first"
    )]
    Moved(String),
    #[error("cannot restore `{path}` to the policy in force: {error}")]
    Restore {
        path: String,
        #[source]
        error: std::io::Error,
    },
}

/// The text of the version in force of each policy file: in memory, and in the data dir when the
/// gate has one.
#[derive(Debug, Default)]
pub struct Applied {
    dir: Option<PathBuf>,
    texts: Mutex<BTreeMap<PathBuf, String>>,
}

impl Applied {
    /// Kept in memory only (tests, `PolicySet::load`): a restart applies what is on disk.
    pub fn in_memory() -> Self {
        Applied::default()
    }

    /// Kept in `<data_dir>/policies-in-force/` too.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Applied {
            dir: Some(data_dir.join("policies-in-force")),
            texts: Mutex::default(),
        }
    }

    fn copy_path(&self, policy: &Path) -> Option<PathBuf> {
        let digest = Sha256::digest(policy.to_string_lossy().as_bytes());
        let name = format!("{}.json", hex::encode(&digest[..12]));
        self.dir.as_ref().map(|d| d.join(name))
    }

    /// The text in force for `policy`, if one was ever applied.
    fn get(&self, policy: &Path) -> Option<String> {
        if let Some(text) = self.lock().get(policy) {
            return Some(text.clone());
        }
        let copy = std::fs::read_to_string(self.copy_path(policy)?).ok()?;
        let kept: serde_json::Value = serde_json::from_str(&copy).ok()?;
        let text = kept.get("text")?.as_str()?.to_owned();
        self.lock().insert(policy.to_path_buf(), text.clone());
        Some(text)
    }

    /// Records `text` as the version in force of `policy`.
    fn set(&self, policy: &Path, text: &str) {
        self.lock().insert(policy.to_path_buf(), text.to_owned());
        let Some(copy) = self.copy_path(policy) else {
            return;
        };
        let kept = serde_json::json!({"path": policy, "text": text});
        let written = copy
            .parent()
            .map_or(Ok(()), crate::runtime::ensure_private_dir)
            .and_then(|()| crate::runtime::write_private(&copy, kept.to_string().as_bytes()));
        if let Err(err) = written {
            // The policy still applies; only a restart would compare the file with an older copy.
            tracing::warn!(policy = %policy.display(), "cannot keep a copy of the policy in force: {err}");
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<PathBuf, String>> {
        self.texts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The outcome of comparing a version read with the one in force.
pub(super) struct Settled {
    pub loaded: LoadedPolicy,
    pub staged: Option<StagedPolicy>,
}

/// Decides what a freshly read version of a policy file does: `fresh` as read (its `policy` is
/// the new version, or the last good one when it did not parse), `in_force` the policy applying
/// now.
pub(super) fn settle(
    fresh: LoadedPolicy,
    in_force: Option<Arc<Policy>>,
    origin: ChangeOrigin,
    applied: &Applied,
) -> Settled {
    let PolicySource::File(path) = &fresh.source else {
        return Settled {
            loaded: fresh,
            staged: None,
        };
    };
    let new = match (&fresh.error, &fresh.policy) {
        (None, Some(new)) => new.clone(),
        // Unreadable or invalid: the last good policy stays, and nothing is staged any more (the
        // staged version is no longer what the file says).
        _ => {
            return Settled {
                loaded: fresh,
                staged: None,
            };
        }
    };
    let difference = match &in_force {
        Some(old) => diff(old, &new),
        None => match Policy::parse(DENY_ALL, "deny-all") {
            Ok(deny_all) => diff(&deny_all, &new),
            Err(_) => PolicyDiff::default(),
        },
    };
    if origin == ChangeOrigin::Human || !difference.loosens() {
        applied.set(path, &fresh.text);
        return Settled {
            loaded: fresh,
            staged: None,
        };
    }
    let looser = difference.looser().count();
    tracing::warn!(
        policy = %path.display(),
        looser,
        "a policy change from disk loosens what agents may do; it is staged until a human applies it"
    );
    let staged = StagedPolicy {
        source: fresh.source.clone(),
        text: fresh.text.clone(),
        policy: new,
        diff: difference,
    };
    Settled {
        loaded: LoadedPolicy {
            policy: in_force,
            error: Some(format!(
                "the version on disk loosens what agents may do ({looser} looser {}), so the \
                 previous version stays in force until a human applies it in Airlock or with \
                 `airlock policy apply`",
                if looser == 1 { "change" } else { "changes" }
            )),
            ..fresh
        },
        staged: Some(staged),
    }
}

/// At start: the copy of the version last applied is in force, and the file on disk is compared
/// with it. Without a copy the file is taken as it is.
pub(super) fn at_start(fresh: LoadedPolicy, applied: &Applied) -> Settled {
    let PolicySource::File(path) = &fresh.source else {
        return Settled {
            loaded: fresh,
            staged: None,
        };
    };
    let kept = applied
        .get(path)
        .and_then(|text| Policy::parse(&text, &path.display().to_string()).ok());
    match kept {
        Some(in_force) => {
            let in_force = Arc::new(in_force);
            let mut fresh = fresh;
            if fresh.error.is_some() {
                fresh.policy = Some(in_force.clone());
            }
            settle(fresh, Some(in_force), ChangeOrigin::Disk, applied)
        }
        None => {
            if fresh.error.is_none() {
                applied.set(path, &fresh.text);
            }
            Settled {
                loaded: fresh,
                staged: None,
            }
        }
    }
}

/// Puts the staged version in force: it becomes the version in force and its copy is kept.
pub(super) fn apply(staged: &StagedPolicy, applied: &Applied) -> LoadedPolicy {
    if let PolicySource::File(path) = &staged.source {
        applied.set(path, &staged.text);
    }
    LoadedPolicy {
        source: staged.source.clone(),
        policy: Some(staged.policy.clone()),
        error: None,
        text: staged.text.clone(),
    }
}

/// Writes the version in force back over the file, so that disk and gate agree again. `None`
/// when no version was ever applied (then the file is left as it is and the policy stays
/// denying).
pub(super) fn restore(
    staged: &StagedPolicy,
    applied: &Applied,
) -> Result<Option<String>, StagedError> {
    let PolicySource::File(path) = &staged.source else {
        return Ok(None);
    };
    let Some(text) = applied.get(path) else {
        return Ok(None);
    };
    let tmp = path.with_extension("json.airlock-tmp");
    std::fs::write(&tmp, &text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|error| StagedError::Restore {
            path: path.display().to_string(),
            error,
        })?;
    Ok(Some(text))
}

impl super::PolicySet {
    /// Every staged change, by policy file.
    pub fn staged(&self) -> Vec<StagedPolicy> {
        self.table.load().staged.values().cloned().collect()
    }

    /// Puts the staged version of `source` in force. `revision`, when given, must be the staged
    /// version's (the one the human reviewed), else [`StagedError::Moved`].
    pub fn apply_staged(
        &self,
        source: &PolicySource,
        revision: Option<&str>,
    ) -> Result<super::ReloadReport, StagedError> {
        let _writer = self.lock_writer();
        let current = self.table.load_full();
        let staged = checked(&current, source, revision)?;
        let mut table = super::Table::clone(&current);
        table.staged.remove(source);
        let loaded = apply(staged, &self.applied);
        let old = table.policies.get(source).and_then(|l| l.policy.clone());
        let mut report = super::ReloadReport {
            changed: vec![source.clone()],
            ..super::ReloadReport::default()
        };
        if super::hidden_set(old.as_deref()) != super::hidden_set(loaded.policy.as_deref()) {
            report.visibility_changed = current.servers_using(source);
        }
        tracing::info!(policy = %source.label(), revision = %staged.policy.revision(), "staged policy applied by a human");
        table.policies.insert(source.clone(), loaded);
        self.table.store(Arc::new(table));
        Ok(report)
    }

    /// Drops the staged version of `source` and writes the version in force back over the file.
    pub fn discard_staged(
        &self,
        source: &PolicySource,
        revision: Option<&str>,
    ) -> Result<(), StagedError> {
        let _writer = self.lock_writer();
        let current = self.table.load_full();
        let staged = checked(&current, source, revision)?;
        let restored = restore(staged, &self.applied)?;
        let mut table = super::Table::clone(&current);
        table.staged.remove(source);
        if let Some(loaded) = table.policies.get_mut(source) {
            match restored {
                Some(text) => {
                    loaded.text = text;
                    loaded.error = None;
                }
                None => {
                    loaded.error = Some(
                        "the staged version was discarded and no earlier version was ever in \
                         force, so every call is denied until the file is fixed"
                            .to_owned(),
                    );
                }
            }
        }
        tracing::info!(policy = %source.label(), "staged policy discarded by a human");
        self.table.store(Arc::new(table));
        Ok(())
    }

    pub(super) fn lock_writer(&self) -> std::sync::MutexGuard<'_, ()> {
        self.writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn checked<'t>(
    table: &'t super::Table,
    source: &PolicySource,
    revision: Option<&str>,
) -> Result<&'t StagedPolicy, StagedError> {
    let staged = table
        .staged
        .get(source)
        .ok_or_else(|| StagedError::NothingStaged(source.label()))?;
    match revision {
        Some(r) if r != staged.policy.revision() => Err(StagedError::Moved(source.label())),
        _ => Ok(staged),
    }
}
