//! Checking `under` and `glob` operands, and the warning for `regex` on a path argument.

use super::{Checker, child};
use crate::compiled::{ArgPath, EVERY, Test};
use crate::diagnostics::Diagnostic;
use crate::json::{Kind, Pos, Spanned};
use crate::model::Op;
use crate::pathmatch::{GlobTest, UnderTest};
use crate::paths::{PathContext, PathProblem};

/// Argument names that hold a path, compared after lowercasing: a condition's last named
/// segment warns when it is one of these or its last word is (`filePath`, `source_dir`).
const PATH_WORDS: &[&str] = &[
    "path",
    "paths",
    "file",
    "files",
    "filename",
    "filenames",
    "filepath",
    "filepaths",
    "dir",
    "dirs",
    "directory",
    "directories",
    "folder",
    "folders",
    "source",
    "src",
    "destination",
    "dest",
    "dst",
    "root",
    "roots",
    "uri",
    "uris",
    "cwd",
    "workdir",
];

/// True when `name` reads like a path argument: `path`, `filePath`, `source_dir`, `fileName`.
pub(super) fn is_path_like(name: &str) -> bool {
    let mut words: Vec<String> = Vec::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if c == '_' || c == '-' {
            words.push(String::new());
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower || words.is_empty() {
            words.push(String::new());
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        if let Some(w) = words.last_mut() {
            w.extend(c.to_lowercase());
        }
    }
    words.retain(|w| !w.is_empty());
    let joined = words.concat();
    PATH_WORDS.contains(&joined.as_str())
        || words
            .last()
            .is_some_and(|w| PATH_WORDS.contains(&w.as_str()))
}

/// The last segment of `path` that names a key (not `*`, not an index).
fn last_name(path: &ArgPath) -> Option<&str> {
    path.segments
        .iter()
        .rev()
        .map(String::as_str)
        .find(|s| *s != EVERY && s.parse::<usize>().is_err())
}

impl<'v> Checker<'_> {
    /// Warns about `regex` on an argument named like a path: it sees text, not the path.
    pub(super) fn lint_regex_on_path(&mut self, path: &ArgPath, op: &Spanned, pointer: &str) {
        if !last_name(path).is_some_and(is_path_like) {
            return;
        }
        let mut d = Diagnostic::warning(
            self.file,
            op.pos,
            &child(pointer, "op"),
            format!(
                "`regex` on `{}` matches the text of a path, not the path: values like `a/../secret/x` or a relative `secret/x` can slip past it",
                path.text
            ),
        );
        d.help = Some(
            "use `under` (a directory and everything in it) or `glob` (e.g. `**/secret/**`), which match the normalized path".to_owned(),
        );
        self.warnings.push(d);
    }

    /// The operand of `under` or `glob`: a string or a non-empty list of strings, each usable.
    pub(super) fn path_test(&mut self, op: Op, v: &'v Spanned, vptr: &str) -> Option<Test> {
        let (what, things) = match op {
            Op::Under => ("a path", "paths"),
            _ => ("a glob pattern", "patterns"),
        };
        let mut complete = true;
        let items: Vec<(&'v str, Pos, String)> = match &v.kind {
            Kind::String(s) => vec![(s.as_str(), v.pos, vptr.to_owned())],
            Kind::Array(items) if items.is_empty() => {
                let message = format!("`{}` needs at least one of its {things}", op.as_str());
                self.error(v.pos, vptr, message);
                return None;
            }
            Kind::Array(items) => {
                let mut ok = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let ptr = format!("{vptr}/{i}");
                    match &item.kind {
                        Kind::String(s) => ok.push((s.as_str(), item.pos, ptr)),
                        _ => self.expected(item, &ptr, &format!("{what} (a string)")),
                    }
                }
                // The strings are still checked, so every problem is reported at once.
                complete = ok.len() == items.len();
                ok
            }
            _ => {
                let found = v.kind.describe();
                let message = format!(
                    "expected {what} or a list of {things} for `{}`, found {found}",
                    op.as_str()
                );
                self.error(v.pos, vptr, message);
                return None;
            }
        };
        let test = if op == Op::Under {
            self.under(&items)
        } else {
            self.glob(&items)
        };
        test.filter(|_| complete)
    }

    fn under(&mut self, items: &[(&str, Pos, String)]) -> Option<Test> {
        let mut ok = true;
        for (dir, pos, ptr) in items {
            // What can be judged without the caller's context: only a missing base or home
            // directory is left for evaluation time.
            match PathContext::EMPTY.normalize(dir) {
                Err(e) if !matches!(e.problem, PathProblem::NoBase | PathProblem::NoHome) => {
                    self.error(*pos, ptr, e.to_string());
                    ok = false;
                }
                _ => {}
            }
        }
        ok.then(|| {
            Test::Under(UnderTest {
                dirs: items.iter().map(|(d, _, _)| (*d).to_owned()).collect(),
            })
        })
    }

    fn glob(&mut self, items: &[(&str, Pos, String)]) -> Option<Test> {
        let patterns: Vec<&str> = items.iter().map(|(p, _, _)| *p).collect();
        match GlobTest::compile(&patterns) {
            Ok(g) => Some(Test::Glob(Box::new(g))),
            Err(errors) => {
                for (i, e) in errors {
                    if let Some((_, pos, ptr)) = items.get(i) {
                        self.error_help(*pos, ptr, e.message, e.help);
                    }
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_path_like;

    #[test]
    fn path_like_names_are_recognized_by_their_last_word() {
        for name in [
            "path",
            "paths",
            "filePath",
            "file_path",
            "sourceDir",
            "destination",
            "fileName",
            "working-dir",
            "URI",
            "root",
        ] {
            assert!(is_path_like(name), "{name}");
        }
        for name in ["channel", "profile", "xpathQuery", "pathology", "content"] {
            assert!(!is_path_like(name), "{name}");
        }
    }
}
