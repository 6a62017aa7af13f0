//! Errors and warnings in a policy file, each pointing at the key or value at fault.
//!
//! A `Diagnostic` carries the file, the 1-based line and column, the JSON Pointer of
//! the field and a message written for the person editing the file, plus a hint
//! when one fits. It renders like a compiler error:
//!
//! ```text
//! policies/x.json:12:22: /tools/refund/limits/0/window: unknown window `fortnight`, expected one of `second`, `minute`, `hour`, `day` or a number of seconds
//!   = help: did you mean `minute`?
//! ```
//!
//! Warnings (the file loads, but likely does not do what was meant) render the same way with
//! `warning: ` after the position.

use std::fmt;

use serde::Serialize;

use crate::json::Pos;

/// How bad a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The policy does not load.
    #[default]
    Error,
    /// The policy loads, but this part likely does not do what its author meant.
    Warning,
}

/// One problem in a policy file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// An error (the file does not load) or a warning (it does).
    pub severity: Severity,
    /// The file (or other origin) the policy came from.
    pub file: String,
    /// Line, from 1.
    pub line: u32,
    /// Column in characters, from 1.
    pub column: u32,
    /// JSON Pointer of the field at fault; empty for the whole document.
    pub pointer: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when we can tell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error at `pos` in `file`, on the field at `pointer`.
    pub fn new(file: &str, pos: Pos, pointer: &str, message: String) -> Self {
        Diagnostic {
            severity: Severity::Error,
            file: file.to_owned(),
            line: pos.line,
            column: pos.column,
            pointer: pointer.to_owned(),
            message,
            help: None,
        }
    }

    /// A warning at `pos` in `file`, on the field at `pointer`.
    pub fn warning(file: &str, pos: Pos, pointer: &str, message: String) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::new(file, pos, pointer, message)
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        if !self.pointer.is_empty() {
            write!(f, "{}: ", self.pointer)?;
        }
        f.write_str(&self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  = help: {help}")?;
        }
        Ok(())
    }
}

/// Every problem found in one policy file, in source order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(transparent)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// The individual problems.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }

    /// How many problems.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True if there are none (never the case for a returned error).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Escapes one JSON Pointer reference token (RFC 6901).
pub fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Edit distance counting a swap of two neighbours as one edit (optimal string
/// alignment), for "did you mean" hints: `grnat` is one edit from `grant`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// The closest candidate to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean(word: &str, candidates: &[&str]) -> Option<String> {
    let lowered = word.to_lowercase().replace('-', "_");
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = edit_distance(&lowered, c);
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    let (d, c) = best?;
    let allowed = (c.chars().count() / 3).max(1);
    (d <= allowed).then(|| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_catch_typos_but_not_unrelated_words() {
        assert_eq!(
            did_you_mean("deny-if", &["require", "deny_if", "approve_if"]).as_deref(),
            Some("did you mean `deny_if`?")
        );
        assert_eq!(
            did_you_mean("regx", &["regex", "eq"]).as_deref(),
            Some("did you mean `regex`?")
        );
        assert_eq!(
            did_you_mean("Minute", &["second", "minute"]).as_deref(),
            Some("did you mean `minute`?")
        );
        assert_eq!(
            did_you_mean("grnat", &["grant", "global"]).as_deref(),
            Some("did you mean `grant`?")
        );
        assert_eq!(did_you_mean("banana", &["eq", "neq", "regex"]), None);
    }

    #[test]
    fn pointer_tokens_are_escaped() {
        assert_eq!(escape_token("a/b~c"), "a~1b~0c");
    }
}
