//! Policies in force, their validation, and what a policy decides for a server's tools.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::Decision;

/// A policy as the editor shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(optional_fields)]
pub struct PolicyDoc {
    /// Id for `PUT /api/policies/{id}`.
    pub id: String,
    /// The server it governs, when bound to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The grant it governs, when bound to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<String>,
    /// File path.
    pub source: String,
    /// The file's text as on disk.
    pub text: String,
    /// Revision in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Why the file on disk is not in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `POST /api/policies/validate` and `PUT /api/policies/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyText {
    /// The whole policy JSON.
    pub text: String,
}

/// Result of validating a policy text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Validation {
    /// True when the text is a valid policy.
    pub ok: bool,
    /// Problems found, in text order.
    pub diagnostics: Vec<Diagnostic>,
}

/// One problem in a policy text, placed at its line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(optional_fields)]
pub struct Diagnostic {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// JSON Pointer of the offending value.
    pub pointer: String,
    /// What is wrong.
    pub message: String,
    /// The likely fix, e.g. the intended word.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// `GET /api/servers/{name}/tools`: one tool of an upstream and its policy outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(optional_fields)]
pub struct ToolPreview {
    /// Tool name.
    pub name: String,
    /// The tool's description from the upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Removed from `tools/list` by `hide`.
    pub hidden: bool,
    /// What a call with no arguments-based conditions would get.
    pub decision: Decision,
    /// The rule that decides it.
    pub rule: String,
}
