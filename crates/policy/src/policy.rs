//! A loaded policy: the checked document plus its compiled form and revision.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::check;
use crate::compiled::{CompiledPolicy, Test};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::model::{ApprovalKind, DefaultAction, PolicyDocument, ToolAction};

/// A valid policy, ready to evaluate. Cheap to share behind an `Arc`; immutable.
#[derive(Clone)]
pub struct Policy {
    origin: String,
    doc: PolicyDocument,
    revision: String,
    warnings: Vec<Diagnostic>,
    pub(crate) compiled: CompiledPolicy,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("origin", &self.origin)
            .field("revision", &self.revision)
            .finish_non_exhaustive()
    }
}

/// Counts shown by `airlock check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Tools listed under `tools`.
    pub tools: usize,
    /// The `default` action.
    pub default: DefaultAction,
    /// Entries in `hide` (`"*"` counts as one).
    pub hidden: usize,
    /// Limits under `all_tools` and all tools.
    pub limits: usize,
}

impl Policy {
    /// Parses and checks a policy. `origin` (usually the file path) is used in
    /// error messages. On failure, every problem found is returned.
    pub fn parse(source: &str, origin: &str) -> Result<Policy, Diagnostics> {
        let check::Checked {
            doc,
            compiled,
            warnings,
        } = check::check(source, origin)?;
        let revision = revision_of(&doc);
        Ok(Policy {
            origin: origin.to_owned(),
            doc,
            revision,
            warnings,
            compiled,
        })
    }

    /// What loads but is likely a mistake (e.g. `regex` on a path argument), in source order.
    /// Each is a [`Diagnostic`] with [`crate::Severity::Warning`]; the policy applies as written.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// Where the policy came from, as given to [`Policy::parse`].
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The policy as written (normalized: defaults omitted, tools sorted).
    pub fn document(&self) -> &PolicyDocument {
        &self.doc
    }

    /// `sha256:<hex>` of the normalized policy. Whitespace, key order and omitted
    /// defaults do not change it; any change of meaning does.
    pub fn revision(&self) -> &str {
        &self.revision
    }

    /// True if `tool` must be removed from `tools/list` (and is denied if called).
    pub fn is_hidden(&self, tool: &str) -> bool {
        self.compiled.hide_all || self.compiled.hidden.contains(tool)
    }

    /// True if some call of `tool` may wait for a human: its rule says `require_approval` or has
    /// `approve_if` conditions, or it is unlisted and the default is `require_approval`. Hidden
    /// and denied tools never wait.
    pub fn may_ask_human(&self, tool: &str) -> bool {
        if self.is_hidden(tool) {
            return false;
        }
        match self.doc.tools.get(tool) {
            Some(rule) => match rule.action {
                ToolAction::RequireApproval => true,
                ToolAction::Deny => false,
                ToolAction::Allow => !rule.approve_if.is_empty(),
            },
            None => self.doc.default == DefaultAction::RequireApproval,
        }
    }

    /// True if a condition of `tool` (in `require`, `deny_if` or `approve_if`) uses `under` or
    /// `glob`: only then does the [`crate::PathContext`] of an evaluation matter, so a caller
    /// that resolves symlinks on disk before evaluating can skip that work for other tools.
    pub fn checks_paths(&self, tool: &str) -> bool {
        self.compiled.tools.get(tool).is_some_and(|t| {
            t.require
                .iter()
                .chain(&t.deny_if)
                .chain(&t.approve_if)
                .any(|c| matches!(c.test, Test::Under(_) | Test::Glob(_)))
        })
    }

    /// True if any tool's conditions use `under` or `glob` ([`Policy::checks_paths`]).
    pub fn uses_paths(&self) -> bool {
        self.compiled
            .tools
            .keys()
            .any(|tool| self.checks_paths(tool))
    }

    /// Every limit of the policy, `all_tools`' first, in the order written.
    pub fn limits(&self) -> impl Iterator<Item = &crate::model::Limit> {
        let doc = self.document();
        let all = doc.all_tools.iter().flat_map(|a| a.limits.iter());
        all.chain(doc.tools.values().flat_map(|t| t.limits.iter()))
    }

    /// True if approving a call of `tool` needs the user's passphrase (`"approval":
    /// "passphrase"`): the gate then refuses an approval without it.
    pub fn needs_passphrase(&self, tool: &str) -> bool {
        self.compiled
            .tools
            .get(tool)
            .is_some_and(|t| t.approval == ApprovalKind::Passphrase)
    }

    /// The approval timeout of `tool`, if its rule sets one.
    pub fn approval_timeout_ms(&self, tool: &str) -> Option<u64> {
        self.compiled
            .tools
            .get(tool)
            .and_then(|t| t.approval_timeout_ms)
    }

    /// Counts for a one-line summary.
    pub fn summary(&self) -> Summary {
        let tool_limits: usize = self.doc.tools.values().map(|t| t.limits.len()).sum();
        Summary {
            tools: self.doc.tools.len(),
            default: self.doc.default,
            hidden: self.doc.hide.len(),
            limits: tool_limits + self.compiled.all_tools_limits.len(),
        }
    }
}

fn revision_of(doc: &PolicyDocument) -> String {
    // Serializing our own plain data types cannot fail; fall back to Debug anyway
    // so a revision always exists.
    let bytes = serde_json::to_vec(doc).unwrap_or_else(|_| format!("{doc:?}").into_bytes());
    format!("sha256:{}", hex::encode(Sha256::digest(&bytes)))
}
