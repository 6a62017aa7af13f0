//! The warning for `"approval": "passphrase"` on a tool that never asks a human.

use super::Checker;
use crate::diagnostics::Diagnostic;
use crate::json::Pos;
use crate::model::ToolAction;

impl Checker<'_> {
    /// A passphrase only guards an approval: on a tool whose calls never wait for a human it
    /// protects nothing, and its author likely meant `action: require_approval` as well.
    pub(super) fn lint_approval_never_asked(
        &mut self,
        pos: Pos,
        pointer: &str,
        action: ToolAction,
    ) {
        let mut d = Diagnostic::warning(
            self.file,
            pos,
            pointer,
            format!(
                "`approval: passphrase` has no effect: with `action: {}` and no `approve_if`, no call of this tool waits for a human",
                action.as_str()
            ),
        );
        d.help = Some(
            "add `\"action\": \"require_approval\"` (or `approve_if` conditions) to this tool"
                .to_owned(),
        );
        self.warnings.push(d);
    }
}
