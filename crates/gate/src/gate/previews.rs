//! Tool previews: what each tool of a server would get before its arguments are looked at.

use super::Gate;

/// What a tool would get, before its arguments are looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolPreview {
    pub name: String,
    pub description: Option<String>,
    pub hidden: bool,
    /// `allow`, `deny` or `require_approval`.
    pub decision: &'static str,
    /// The rule that decides it: `/tools/<name>`, `(default)` or `(hidden)`.
    pub rule: String,
    /// True when conditions or limits may change the decision for some arguments.
    pub conditional: bool,
}

impl Gate {
    /// The server's tools (asked from the upstream over a fresh connection) with the decision
    /// each would get under `grant`'s policy before its arguments are looked at.
    pub async fn tool_previews(
        &self,
        server: &str,
        grant: &str,
    ) -> Result<Vec<ToolPreview>, String> {
        let spec = self
            .inner
            .specs
            .get(server)
            .ok_or_else(|| format!("no server `{server}`"))?;
        let policy = self.policy_for(grant, server)?;
        let tools = crate::probe::list_tools(spec, server).await?;
        let doc = policy.document();
        Ok(tools
            .into_iter()
            .map(|tool| {
                let name = tool
                    .get("name")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let description = tool
                    .get("description")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_string);
                let hidden = policy.is_hidden(&name);
                let (decision, rule, conditional) = if hidden {
                    ("deny", airlock_policy::RULE_HIDDEN.to_string(), false)
                } else if let Some(rule) = doc.tools.get(&name) {
                    let action = match rule.action {
                        airlock_policy::ToolAction::Allow => "allow",
                        airlock_policy::ToolAction::Deny => "deny",
                        airlock_policy::ToolAction::RequireApproval => "require_approval",
                    };
                    let conditional = !rule.require.is_empty()
                        || !rule.deny_if.is_empty()
                        || !rule.approve_if.is_empty()
                        || !rule.limits.is_empty();
                    (action, format!("/tools/{name}"), conditional)
                } else {
                    (
                        doc.default.as_str(),
                        airlock_policy::RULE_DEFAULT.to_string(),
                        false,
                    )
                };
                ToolPreview {
                    name,
                    description,
                    hidden,
                    decision,
                    rule,
                    conditional,
                }
            })
            .collect())
    }
}
