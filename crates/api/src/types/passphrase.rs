//! The approval passphrase on the wire (`routes/passphrase.rs`).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// `GET /api/passphrase`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(optional_fields)]
pub struct PassphraseState {
    /// True once a passphrase is set.
    pub set: bool,
    /// When it was set or last changed (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_ms: Option<i64>,
    /// Shortest passphrase accepted, in characters.
    pub min_chars: u32,
}

/// `PUT /api/passphrase`: set it (the first time) or change it (with the current one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(optional_fields)]
pub struct SetPassphrase {
    /// The new passphrase.
    pub passphrase: String,
    /// The current one; required once one is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    /// Where it is set from (`window`, `cli`, …); `api` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<crate::types::DecisionSource>,
}
