//! One condition tested against a call's arguments: holds, fails, missing, or undecidable (and
//! why), and how the condition is described in messages.

use serde_json::Value;

use crate::compiled::{CompiledCondition, Num, Test};
use crate::paths::PathContext;

mod path_ops;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    Holds,
    Fails,
    /// The path is absent.
    Missing,
    /// The condition cannot be decided on this value.
    Undecidable(Why),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Why {
    /// The value has the wrong type for the op: "a number".
    NotA(&'static str),
    /// A path that cannot be normalized, or context a path pattern needs
    /// ([`path_ops::first_problem`] tells which).
    Path,
}

impl Outcome {
    pub(super) fn of(holds: bool) -> Outcome {
        if holds {
            Outcome::Holds
        } else {
            Outcome::Fails
        }
    }

    /// Why a condition did not simply hold or fail, naming the concrete path `at` when a `*`
    /// path decided on one element.
    pub(super) fn why(
        self,
        c: &CompiledCondition,
        at: Option<&str>,
        (args, paths, each): (&Value, &PathContext, Each),
    ) -> String {
        let path = at.unwrap_or(&c.path.text);
        match self {
            Outcome::Missing => format!(" (`{path}` is missing)"),
            Outcome::Undecidable(Why::NotA(what)) => format!(" (`{path}` is not {what})"),
            Outcome::Undecidable(Why::Path) => {
                match path_ops::first_problem(c, args, paths, each) {
                    Some(problem) => format!(" (`{path}`: {problem})"),
                    None => format!(" (`{path}` cannot be checked)"),
                }
            }
            Outcome::Holds | Outcome::Fails => String::new(),
        }
    }
}

pub(super) fn describe(c: &CompiledCondition) -> String {
    let path = &c.path.text;
    match &c.test {
        Test::Eq(o) => format!("`{path}` eq {}", o.value),
        Test::Neq(o) => format!("`{path}` neq {}", o.value),
        Test::In(os) => format!("`{path}` in {}", list(os.iter().map(|o| &o.value))),
        Test::NotIn(os) => format!("`{path}` not_in {}", list(os.iter().map(|o| &o.value))),
        Test::Lt(n) => format!("`{path}` lt {}", fmt_num(n.as_f64())),
        Test::Lte(n) => format!("`{path}` lte {}", fmt_num(n.as_f64())),
        Test::Gt(n) => format!("`{path}` gt {}", fmt_num(n.as_f64())),
        Test::Gte(n) => format!("`{path}` gte {}", fmt_num(n.as_f64())),
        Test::Regex(re) => format!("`{path}` regex `{}`", re.as_str()),
        Test::Contains(o) => format!("`{path}` contains {}", o.value),
        Test::Exists(true) => format!("`{path}` exists"),
        Test::Exists(false) => format!("`{path}` does not exist"),
        Test::Under(u) => format!("`{path}` under {}", strings(&u.dirs)),
        Test::Glob(g) => format!("`{path}` glob {}", strings(&g.patterns)),
    }
}

/// `"a"`, or `["a", "b"]`.
pub(super) fn strings(items: &[String]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|s| Value::from(s.as_str()).to_string())
        .collect();
    match quoted.as_slice() {
        [one] => one.clone(),
        _ => format!("[{}]", quoted.join(", ")),
    }
}

pub(super) fn list<'v>(values: impl Iterator<Item = &'v Value>) -> String {
    let items: Vec<String> = values.map(Value::to_string).collect();
    format!("[{}]", items.join(", "))
}

/// How a condition on a `*` path combines the elements it reaches: `require` needs every one to
/// hold; `deny_if` and `approve_if` fire when any one does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Each {
    All,
    Any,
}

/// A condition's outcome; for a `*` path also the concrete path that decided it
/// (`args.events.3.channel`), for messages. A `*` that reaches nothing counts as a missing path.
pub(super) fn test(
    c: &CompiledCondition,
    args: &Value,
    paths: &PathContext,
    each: Each,
) -> (Outcome, Option<String>) {
    if !c.path.wildcard {
        return (test_value(c, c.path.lookup(args), paths, each), None);
    }
    let reached = c.path.lookup_each(args);
    if reached.is_empty() {
        return (test_value(c, None, paths, each), None);
    }
    match each {
        Each::All => reached
            .into_iter()
            .map(|(at, v)| (test_value(c, v, paths, each), Some(at)))
            .find(|(o, _)| *o != Outcome::Holds)
            .unwrap_or((Outcome::Holds, None)),
        Each::Any => {
            let mut undecidable = None;
            let mut all_missing = true;
            for (at, v) in reached {
                match test_value(c, v, paths, each) {
                    Outcome::Holds => return (Outcome::Holds, Some(at)),
                    o @ Outcome::Undecidable(_) => {
                        undecidable.get_or_insert((o, Some(at)));
                    }
                    Outcome::Fails => all_missing = false,
                    Outcome::Missing => {}
                }
            }
            undecidable.unwrap_or(if all_missing {
                (Outcome::Missing, None)
            } else {
                (Outcome::Fails, None)
            })
        }
    }
}

pub(super) fn test_value(
    c: &CompiledCondition,
    found: Option<&Value>,
    paths: &PathContext,
    each: Each,
) -> Outcome {
    if let Test::Exists(want) = c.test {
        let present = found.is_some_and(|v| !v.is_null());
        return if present == want {
            Outcome::Holds
        } else {
            Outcome::Fails
        };
    }
    let Some(v) = found else {
        return Outcome::Missing;
    };
    let b = Outcome::of;
    match &c.test {
        Test::Eq(o) => b(o.equals(v)),
        Test::Neq(o) => b(!o.equals(v)),
        Test::In(os) => b(os.iter().any(|o| o.equals(v))),
        Test::NotIn(os) => b(!os.iter().any(|o| o.equals(v))),
        Test::Lt(n) | Test::Lte(n) | Test::Gt(n) | Test::Gte(n) => {
            let Some(ord) = Num::of(v).and_then(|a| a.compare(*n)) else {
                return Outcome::Undecidable(Why::NotA("a number"));
            };
            b(match &c.test {
                Test::Lt(_) => ord.is_lt(),
                Test::Lte(_) => ord.is_le(),
                Test::Gt(_) => ord.is_gt(),
                _ => ord.is_ge(),
            })
        }
        Test::Regex(re) => match v {
            Value::String(s) => b(re.is_match(s)),
            Value::Array(items) if items.iter().all(Value::is_string) => b(items
                .iter()
                .filter_map(Value::as_str)
                .any(|s| re.is_match(s))),
            _ => Outcome::Undecidable(Why::NotA("a string")),
        },
        Test::Contains(needle) => match v {
            Value::String(s) => match &needle.value {
                Value::String(n) => b(s.contains(n.as_str())),
                Value::Number(n) => b(s.contains(&n.to_string())),
                _ => Outcome::Fails,
            },
            Value::Array(items) => b(items.iter().any(|i| needle.equals(i))),
            _ => Outcome::Undecidable(Why::NotA("a string or an array")),
        },
        Test::Exists(_) => Outcome::Fails,
        Test::Under(_) | Test::Glob(_) => path_ops::test(&c.test, v, paths, each, &mut None),
    }
}

pub(super) fn fmt_num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{n:.0}")
    } else {
        format!("{n}")
    }
}
