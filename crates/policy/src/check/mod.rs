//! Strict checking of a policy file: spanned JSON tree -> document + compiled form.
//!
//! The checker walks the whole tree and records every problem instead of stopping
//! at the first, so `airlock check` shows all of them at once. Each problem points
//! at the key (unknown or duplicate fields) or the value (wrong type, bad word,
//! bad regex) at fault; a missing field points at the object that lacks it.

mod limits;
mod paths;

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::compiled::{
    ArgPath, CompiledCondition, CompiledLimit, CompiledPolicy, CompiledTool, Num, Operand, Test,
};
use crate::diagnostics::{Diagnostic, Diagnostics, did_you_mean, escape_token};
use crate::json::{self, Key, Kind, Pos, Spanned};
use crate::model::{
    AllTools, Condition, DefaultAction, Op, PolicyDocument, Scope, ToolAction, ToolName, ToolRule,
    Version,
};

/// Longest accepted window: keeps counter memory bounded.
const MAX_WINDOW_SECONDS: u64 = 366 * 86_400;
/// Compiled size cap per regex, so a hostile policy cannot eat memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

const TOP_FIELDS: &[&str] = &["version", "default", "hide", "all_tools", "tools"];
const ALL_TOOLS_FIELDS: &[&str] = &["limits"];
const TOOL_FIELDS: &[&str] = &[
    "action",
    "reason",
    "require",
    "deny_if",
    "approve_if",
    "limits",
    "approval_timeout",
];
const CONDITION_FIELDS: &[&str] = &["path", "op", "value", "on_deny"];
const LIMIT_FIELDS: &[&str] = &["counter", "window", "max", "scope", "increment_from"];
const ACTIONS: &[&str] = &["allow", "deny", "require_approval"];
const OPS: &[&str] = &[
    "eq", "neq", "in", "not_in", "lt", "lte", "gt", "gte", "regex", "contains", "exists", "under",
    "glob",
];
const WINDOWS: &[&str] = &["second", "minute", "hour", "day"];
const SCOPES: &[&str] = &["grant", "session", "server", "global"];

/// A checked policy: the document, its compiled form, and warnings about what loads but is
/// likely wrong (in source order).
pub(crate) struct Checked {
    pub doc: PolicyDocument,
    pub compiled: CompiledPolicy,
    pub warnings: Vec<Diagnostic>,
}

pub(crate) fn check(source: &str, file: &str) -> Result<Checked, Diagnostics> {
    let tree = match json::parse(source) {
        Ok(tree) => tree,
        Err(e) => {
            return Err(Diagnostics(vec![Diagnostic::new(
                file, e.pos, "", e.message,
            )]));
        }
    };
    let mut c = Checker {
        file,
        diags: Vec::new(),
        warnings: Vec::new(),
        counters: HashMap::new(),
    };
    let result = c.document(&tree);
    match result {
        Some((doc, compiled)) if c.diags.is_empty() => {
            let mut warnings = c.warnings;
            warnings.sort_by_key(|d| (d.line, d.column));
            Ok(Checked {
                doc,
                compiled,
                warnings,
            })
        }
        _ => {
            let mut diags = c.diags;
            diags.sort_by_key(|d| (d.line, d.column));
            Err(Diagnostics(diags))
        }
    }
}

/// Where a counter was first declared, to catch a second declaration that differs.
struct CounterDecl {
    pointer: String,
    line: u32,
    settings: (u64, u64, Scope, Option<String>),
}

struct Checker<'a> {
    file: &'a str,
    diags: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    counters: HashMap<String, CounterDecl>,
}

/// The members of an object that passed the field check.
struct Fields<'v> {
    pos: Pos,
    members: Vec<(&'v Key, &'v Spanned)>,
}

impl<'v> Fields<'v> {
    fn get(&self, name: &str) -> Option<&'v Spanned> {
        self.members
            .iter()
            .find(|(k, _)| k.name == name)
            .map(|(_, v)| *v)
    }
}

fn child(pointer: &str, token: &str) -> String {
    format!("{pointer}/{}", escape_token(token))
}

fn one_of(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("`{w}`")).collect();
    quoted.join(", ")
}

impl<'v> Checker<'_> {
    fn error(&mut self, pos: Pos, pointer: &str, message: String) -> &mut Diagnostic {
        self.diags
            .push(Diagnostic::new(self.file, pos, pointer, message));
        let last = self.diags.len() - 1;
        &mut self.diags[last]
    }

    fn error_help(&mut self, pos: Pos, pointer: &str, message: String, help: Option<String>) {
        self.error(pos, pointer, message).help = help;
    }

    fn expected(&mut self, v: &Spanned, pointer: &str, what: &str) {
        let found = v.kind.describe();
        self.error(v.pos, pointer, format!("expected {what}, found {found}"));
    }

    /// Checks that `v` is an object whose keys are all in `known`, each once.
    fn object(&mut self, v: &'v Spanned, pointer: &str, known: &[&str]) -> Option<Fields<'v>> {
        let Kind::Object(members) = &v.kind else {
            self.expected(v, pointer, "an object");
            return None;
        };
        let mut seen = HashSet::new();
        let mut ok = Vec::with_capacity(members.len());
        for (key, value) in members {
            let ptr = child(pointer, &key.name);
            if !known.contains(&key.name.as_str()) {
                let help = did_you_mean(&key.name, known)
                    .or_else(|| Some(format!("expected one of {}", one_of(known))));
                self.error_help(key.pos, &ptr, format!("unknown field `{}`", key.name), help);
            } else if !seen.insert(key.name.as_str()) {
                self.error(key.pos, &ptr, format!("duplicate field `{}`", key.name));
            } else {
                ok.push((key, value));
            }
        }
        Some(Fields {
            pos: v.pos,
            members: ok,
        })
    }

    fn required(&mut self, f: &Fields<'v>, pointer: &str, name: &str) -> Option<&'v Spanned> {
        let v = f.get(name);
        if v.is_none() {
            self.error(f.pos, pointer, format!("missing field `{name}`"));
        }
        v
    }

    fn string(&mut self, v: &'v Spanned, pointer: &str) -> Option<&'v str> {
        match &v.kind {
            Kind::String(s) => Some(s),
            _ => {
                self.expected(v, pointer, "a string");
                None
            }
        }
    }

    fn array(&mut self, v: &'v Spanned, pointer: &str) -> Option<&'v [Spanned]> {
        match &v.kind {
            Kind::Array(items) => Some(items),
            _ => {
                self.expected(v, pointer, "an array");
                None
            }
        }
    }

    /// A string that must be one of `words`.
    fn word(
        &mut self,
        v: &'v Spanned,
        pointer: &str,
        what: &str,
        words: &[&str],
    ) -> Option<&'v str> {
        let s = self.string(v, pointer)?;
        if words.contains(&s) {
            return Some(s);
        }
        let help = did_you_mean(s, words);
        self.error_help(
            v.pos,
            pointer,
            format!("unknown {what} `{s}`, expected one of {}", one_of(words)),
            help,
        );
        None
    }

    fn document(&mut self, v: &'v Spanned) -> Option<(PolicyDocument, CompiledPolicy)> {
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

    fn path(&mut self, v: &'v Spanned, pointer: &str) -> Option<ArgPath> {
        let s = self.string(v, pointer)?;
        let segments: Option<Vec<String>> = s
            .strip_prefix("args.")
            .map(|rest| rest.split('.').map(str::to_owned).collect());
        match segments {
            Some(segs) if segs.iter().all(|s| !s.is_empty()) => Some(ArgPath {
                text: s.to_owned(),
                wildcard: segs.iter().any(|s| s == crate::compiled::EVERY),
                segments: segs,
            }),
            _ => {
                self.error_help(
                    v.pos,
                    pointer,
                    format!("invalid path `{s}`"),
                    Some(
                        "a path is `args.` then keys, array indices or `*` (every element) separated by dots, e.g. `args.channel`, `args.events.0.channel` or `args.events.*.channel`"
                            .to_owned(),
                    ),
                );
                None
            }
        }
    }

    fn conditions(
        &mut self,
        v: &'v Spanned,
        pointer: &str,
    ) -> Option<(Vec<Condition>, Vec<CompiledCondition>)> {
        let items = self.array(v, pointer)?;
        let mut model = Vec::new();
        let mut compiled = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match self.condition(item, &format!("{pointer}/{i}")) {
                Some((m, c)) => {
                    model.push(m);
                    compiled.push(c);
                }
                None => ok = false,
            }
        }
        ok.then_some((model, compiled))
    }

    fn condition(
        &mut self,
        v: &'v Spanned,
        pointer: &str,
    ) -> Option<(Condition, CompiledCondition)> {
        let f = self.object(v, pointer, CONDITION_FIELDS)?;
        let path = self
            .required(&f, pointer, "path")
            .and_then(|v| self.path(v, &child(pointer, "path")));
        let op_v = self.required(&f, pointer, "op");
        let op = op_v.and_then(|v| {
            let w = self.word(v, &child(pointer, "op"), "operator", OPS)?;
            Op::ALL.into_iter().find(|op| op.as_str() == w)
        });
        if let (Some(Op::Regex), Some(path), Some(op_v)) = (op, &path, op_v) {
            self.lint_regex_on_path(path, op_v, pointer);
        }
        let on_deny = match f.get("on_deny") {
            Some(v) => Some(
                self.string(v, &child(pointer, "on_deny"))
                    .map(str::to_owned),
            ),
            None => Some(None),
        };
        let value = f.get("value");
        let test = match op {
            Some(op) => self.test(op, value, &f, pointer),
            None => None,
        };
        let (path, op, on_deny, test) = (path?, op?, on_deny?, test?);
        let model = Condition {
            path: path.text.clone(),
            op,
            value: value.map(Spanned::to_value),
            on_deny: on_deny.clone(),
        };
        let compiled = CompiledCondition {
            pointer: pointer.to_owned(),
            path,
            test,
            on_deny,
        };
        Some((model, compiled))
    }

    fn test(
        &mut self,
        op: Op,
        value: Option<&'v Spanned>,
        f: &Fields<'v>,
        pointer: &str,
    ) -> Option<Test> {
        let vptr = child(pointer, "value");
        if op == Op::Exists {
            return match value.map(|v| (v, &v.kind)) {
                None => Some(Test::Exists(true)),
                Some((_, Kind::Bool(b))) => Some(Test::Exists(*b)),
                Some((v, _)) => {
                    self.expected(v, &vptr, "a boolean for `exists`");
                    None
                }
            };
        }
        let v = self.required(f, pointer, "value")?;
        match op {
            Op::Eq => Some(Test::Eq(Operand::new(v.to_value()))),
            Op::Neq => Some(Test::Neq(Operand::new(v.to_value()))),
            Op::In | Op::NotIn => {
                let Kind::Array(items) = &v.kind else {
                    let found = v.kind.describe();
                    self.error_help(
                        v.pos,
                        &vptr,
                        format!("expected an array for `{}`, found {found}", op.as_str()),
                        Some("write the candidates as a list, e.g. `[\"a\", \"b\"]`".to_owned()),
                    );
                    return None;
                };
                let ops = items.iter().map(|i| Operand::new(i.to_value())).collect();
                Some(if op == Op::In {
                    Test::In(ops)
                } else {
                    Test::NotIn(ops)
                })
            }
            Op::Lt | Op::Lte | Op::Gt | Op::Gte => {
                let num = match &v.kind {
                    Kind::Number(_) => Num::of(&v.to_value()),
                    _ => None,
                };
                let Some(num) = num else {
                    let found = v.kind.describe();
                    self.error(
                        v.pos,
                        &vptr,
                        format!("expected a number for `{}`, found {found}", op.as_str()),
                    );
                    return None;
                };
                Some(match op {
                    Op::Lt => Test::Lt(num),
                    Op::Lte => Test::Lte(num),
                    Op::Gt => Test::Gt(num),
                    _ => Test::Gte(num),
                })
            }
            Op::Regex => {
                let Kind::String(pattern) = &v.kind else {
                    self.expected(v, &vptr, "a regular expression (a string)");
                    return None;
                };
                match regex::RegexBuilder::new(pattern)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                {
                    Ok(re) => Some(Test::Regex(re)),
                    Err(e) => {
                        let why = regex_reason(&e);
                        self.error(
                            v.pos,
                            &vptr,
                            format!("invalid regular expression `{pattern}`: {why}"),
                        );
                        None
                    }
                }
            }
            Op::Contains => match &v.kind {
                Kind::Array(_) | Kind::Object(_) => {
                    self.expected(v, &vptr, "a string, number, boolean or null for `contains`");
                    None
                }
                _ => Some(Test::Contains(Operand::new(v.to_value()))),
            },
            Op::Under | Op::Glob => self.path_test(op, v, &vptr),
            Op::Exists => None,
        }
    }
}

/// The one-line reason from a regex error (its display spans several lines).
fn regex_reason(e: &regex::Error) -> String {
    match e {
        regex::Error::CompiledTooBig(_) => "the compiled pattern is too large".to_owned(),
        other => other
            .to_string()
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.trim().trim_start_matches("error: ").to_owned())
            .unwrap_or_else(|| "invalid pattern".to_owned()),
    }
}
