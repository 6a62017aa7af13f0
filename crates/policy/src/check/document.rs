//! Checking the document and each tool: version, default, hide, all_tools, the tool rules and
//! their durations.

use std::collections::{BTreeMap, HashMap};

use super::{ACTIONS, ALL_TOOLS_FIELDS, APPROVALS, Checker, TOOL_FIELDS, TOP_FIELDS, child};
use crate::compiled::{CompiledLimit, CompiledPolicy, CompiledTool};
use crate::json::{Kind, Spanned};
use crate::model::{
    AllTools, ApprovalKind, DefaultAction, PolicyDocument, ToolAction, ToolName, ToolRule, Version,
};

impl<'v> Checker<'_> {
    pub(super) fn document(&mut self, v: &'v Spanned) -> Option<(PolicyDocument, CompiledPolicy)> {
        let f = self.object(v, "", TOP_FIELDS)?;
        let version = self
            .required(&f, "", "version")
            .and_then(|v| self.version(v));
        let default = self.required(&f, "", "default").and_then(|v| {
            let w = self.word(v, "/default", "default action", ACTIONS)?;
            Some(match w {
                "allow" => DefaultAction::Allow,
                "deny" => DefaultAction::Deny,
                _ => DefaultAction::RequireApproval,
            })
        });
        let hide = match f.get("hide") {
            Some(v) => self.hide(v),
            None => Some(Vec::new()),
        };
        let all_tools = match f.get("all_tools") {
            Some(v) => self.all_tools(v).map(Some),
            None => Some(None),
        };
        let tools = match f.get("tools") {
            Some(v) => self.tools(v),
            None => Some((BTreeMap::new(), HashMap::new())),
        };
        let (version, default, hide, all_tools, (tools, compiled_tools)) =
            (version?, default?, hide?, all_tools?, tools?);
        let (all_tools, all_tools_limits) = match all_tools {
            Some((model, compiled)) => (Some(model), compiled),
            None => (None, Vec::new()),
        };
        let compiled = CompiledPolicy {
            hide_all: hide.iter().any(|n: &ToolName| n.0 == "*"),
            hidden: hide.iter().map(|n| n.0.clone()).collect(),
            tools: compiled_tools,
            all_tools_limits,
        };
        let doc = PolicyDocument {
            version,
            default,
            hide,
            all_tools,
            tools,
        };
        Some((doc, compiled))
    }

    fn version(&mut self, v: &Spanned) -> Option<Version> {
        match &v.kind {
            Kind::String(s) if s == "1" => Some(Version::V1),
            Kind::String(s) => {
                self.error_help(
                    v.pos,
                    "/version",
                    format!("unsupported version `{s}`, expected `\"1\"`"),
                    None,
                );
                None
            }
            Kind::Number(_) => {
                self.error_help(
                    v.pos,
                    "/version",
                    "expected a string, found a number".to_owned(),
                    Some("write the version as a string: `\"version\": \"1\"`".to_owned()),
                );
                None
            }
            _ => {
                self.expected(v, "/version", "the string \"1\"");
                None
            }
        }
    }

    fn hide(&mut self, v: &'v Spanned) -> Option<Vec<ToolName>> {
        let items = self.array(v, "/hide")?;
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let ptr = format!("/hide/{i}");
            match self.string(item, &ptr) {
                Some("") => {
                    self.error(item.pos, &ptr, "empty tool name".to_owned());
                    ok = false;
                }
                Some(s) => {
                    if !out.iter().any(|n: &ToolName| n.0 == s) {
                        out.push(ToolName(s.to_owned()));
                    }
                }
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn all_tools(&mut self, v: &'v Spanned) -> Option<(AllTools, Vec<CompiledLimit>)> {
        let f = self.object(v, "/all_tools", ALL_TOOLS_FIELDS)?;
        let (limits, compiled) = match f.get("limits") {
            Some(v) => self.limits(v, "/all_tools/limits")?,
            None => (Vec::new(), Vec::new()),
        };
        Some((AllTools { limits }, compiled))
    }

    fn tools(
        &mut self,
        v: &'v Spanned,
    ) -> Option<(BTreeMap<String, ToolRule>, HashMap<String, CompiledTool>)> {
        let Kind::Object(members) = &v.kind else {
            self.expected(v, "/tools", "an object");
            return None;
        };
        let mut model = BTreeMap::new();
        let mut compiled = HashMap::new();
        let mut ok = true;
        for (key, value) in members {
            let ptr = child("/tools", &key.name);
            if key.name.is_empty() {
                self.error(key.pos, &ptr, "empty tool name".to_owned());
                ok = false;
                continue;
            }
            if model.contains_key(&key.name) {
                self.error(key.pos, &ptr, format!("duplicate tool `{}`", key.name));
                ok = false;
                continue;
            }
            match self.tool(value, &ptr) {
                Some((m, c)) => {
                    model.insert(key.name.clone(), m);
                    compiled.insert(key.name.clone(), c);
                }
                None => ok = false,
            }
        }
        ok.then_some((model, compiled))
    }

    fn tool(&mut self, v: &'v Spanned, pointer: &str) -> Option<(ToolRule, CompiledTool)> {
        let f = self.object(v, pointer, TOOL_FIELDS)?;
        let mut ok = true;
        let action = match f.get("action") {
            Some(v) => match self.word(v, &child(pointer, "action"), "action", ACTIONS) {
                Some("deny") => ToolAction::Deny,
                Some("require_approval") => ToolAction::RequireApproval,
                Some(_) => ToolAction::Allow,
                None => {
                    ok = false;
                    ToolAction::Allow
                }
            },
            None => ToolAction::Allow,
        };
        let reason = match f.get("reason") {
            Some(v) => {
                let r = self.string(v, &child(pointer, "reason")).map(str::to_owned);
                ok &= r.is_some();
                r
            }
            None => None,
        };
        let mut lists = Vec::new();
        for name in ["require", "deny_if", "approve_if"] {
            let list = match f.get(name) {
                Some(v) => self.conditions(v, &child(pointer, name)),
                None => Some((Vec::new(), Vec::new())),
            };
            ok &= list.is_some();
            lists.push(list.unwrap_or_default());
        }
        let limits = match f.get("limits") {
            Some(v) => self.limits(v, &child(pointer, "limits")),
            None => Some((Vec::new(), Vec::new())),
        };
        ok &= limits.is_some();
        let (limits, compiled_limits) = limits.unwrap_or_default();
        let (approval_timeout, approval_timeout_ms) = match f.get("approval_timeout") {
            Some(v) => match self.duration(v, &child(pointer, "approval_timeout")) {
                Some((s, ms)) => (Some(s), Some(ms)),
                None => {
                    ok = false;
                    (None, None)
                }
            },
            None => (None, None),
        };
        let approval = match f.get("approval") {
            Some(v) => match self.word(v, &child(pointer, "approval"), "approval", APPROVALS) {
                Some("passphrase") => {
                    let asks = action == ToolAction::RequireApproval
                        || (action == ToolAction::Allow && f.get("approve_if").is_some());
                    if !asks {
                        self.lint_approval_never_asked(v.pos, &child(pointer, "approval"), action);
                    }
                    ApprovalKind::Passphrase
                }
                Some(_) => ApprovalKind::Human,
                None => {
                    ok = false;
                    ApprovalKind::Human
                }
            },
            None => ApprovalKind::Human,
        };
        if !ok {
            return None;
        }
        let mut lists = lists.into_iter();
        let (require, c_require) = lists.next().unwrap_or_default();
        let (deny_if, c_deny_if) = lists.next().unwrap_or_default();
        let (approve_if, c_approve_if) = lists.next().unwrap_or_default();
        let model = ToolRule {
            action,
            reason: reason.clone(),
            require,
            deny_if,
            approve_if,
            limits,
            approval_timeout,
            approval,
        };
        let compiled = CompiledTool {
            pointer: pointer.to_owned(),
            action,
            reason,
            require: c_require,
            deny_if: c_deny_if,
            approve_if: c_approve_if,
            limits: compiled_limits,
            approval_timeout_ms,
            approval,
        };
        Some((model, compiled))
    }

    /// `"30s"`, `"10m"`, `"1h"`, `"1d"` -> milliseconds.
    fn duration(&mut self, v: &'v Spanned, pointer: &str) -> Option<(String, u64)> {
        let s = self.string(v, pointer)?;
        let parsed = s
            .char_indices()
            .last()
            .and_then(|(i, unit)| {
                let n: u64 = s.get(..i)?.parse().ok()?;
                let mult = match unit {
                    's' => 1_000,
                    'm' => 60_000,
                    'h' => 3_600_000,
                    'd' => 86_400_000,
                    _ => return None,
                };
                n.checked_mul(mult)
            })
            .filter(|ms| *ms > 0);
        if parsed.is_none() {
            self.error_help(
                v.pos,
                pointer,
                format!("invalid duration `{s}`"),
                Some(
                    "write a positive whole number and a unit: `30s`, `10m`, `1h` or `1d`"
                        .to_owned(),
                ),
            );
        }
        parsed.map(|ms| (s.to_owned(), ms))
    }
}
