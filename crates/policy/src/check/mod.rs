//! Strict checking of a policy file: spanned JSON tree -> document + compiled form.
//!
//! The checker walks the whole tree and records every problem instead of stopping
//! at the first, so `airlock check` shows all of them at once. Each problem points
//! at the key (unknown or duplicate fields) or the value (wrong type, bad word,
//! bad regex) at fault; a missing field points at the object that lacks it.

mod approval;
mod conditions;
mod document;
mod limits;
mod paths;

use std::collections::{HashMap, HashSet};

use crate::compiled::CompiledPolicy;
use crate::diagnostics::{Diagnostic, Diagnostics, did_you_mean, escape_token};
use crate::json::{self, Key, Kind, Pos, Spanned};
use crate::model::{PolicyDocument, Scope};

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
    "approval",
];
const APPROVALS: &[&str] = &["human", "passphrase"];
const CONDITION_FIELDS: &[&str] = &["path", "op", "value", "on_deny"];
const LIMIT_FIELDS: &[&str] = &["counter", "window", "max", "scope", "increment_from"];
const ACTIONS: &[&str] = &["allow", "deny", "require_approval"];
const OPS: &[&str] = &[
    "eq", "neq", "in", "not_in", "lt", "lte", "gt", "gte", "regex", "contains", "exists", "under",
    "glob",
];
const WINDOWS: &[&str] = &["second", "minute", "hour", "day"];
const SCOPES: &[&str] = &["grant", "session", "server", "global", "team"];

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
}
