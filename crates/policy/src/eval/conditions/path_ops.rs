//! `under` and `glob` on a condition's value: every path of it, every reading of each path.
//!
//! The outcome stays a small `Copy` value; when it is undecidable, [`first_problem`] walks the
//! same values again to say why, which only the message needs.

use serde_json::Value;

use crate::compiled::{CompiledCondition, Test};
use crate::pathmatch::{PathUndecided, is_under};
use crate::paths::{NormPath, PathContext};

use super::{Each, Outcome, Why};

/// A path op on `v`: a string, or an array of strings (each one, as for a `*` path). The first
/// reason a path could not be checked goes to `problem` when it is still empty.
pub(super) fn test(
    test: &Test,
    v: &Value,
    paths: &PathContext,
    each: Each,
    problem: &mut Option<PathUndecided>,
) -> Outcome {
    match test {
        Test::Under(u) => match u.normalized(paths) {
            Ok(dirs) => values(v, paths, each, problem, &|p| Ok(is_under(p, &dirs))),
            Err(e) => undecided(problem, e),
        },
        Test::Glob(g) => values(v, paths, each, problem, &|p| g.matches(p, paths)),
        _ => Outcome::Fails,
    }
}

/// Why condition `c` on `args` could not be checked: the first problem met when walking its
/// values in the order [`super::test`] does.
pub(super) fn first_problem(
    c: &CompiledCondition,
    args: &Value,
    paths: &PathContext,
    each: Each,
) -> Option<PathUndecided> {
    let mut problem = None;
    if c.path.wildcard {
        for (_, v) in c.path.lookup_each(args) {
            let Some(v) = v else { continue };
            let o = test(&c.test, v, paths, each, &mut problem);
            if problem.is_some() || (each == Each::Any && o == Outcome::Holds) {
                break;
            }
        }
    } else if let Some(v) = c.path.lookup(args) {
        test(&c.test, v, paths, each, &mut problem);
    }
    problem
}

type Matches<'m> = dyn Fn(&NormPath) -> Result<bool, PathUndecided> + 'm;

fn undecided(problem: &mut Option<PathUndecided>, e: PathUndecided) -> Outcome {
    problem.get_or_insert(e);
    Outcome::Undecidable(Why::Path)
}

fn values(
    v: &Value,
    paths: &PathContext,
    each: Each,
    problem: &mut Option<PathUndecided>,
    matches: &Matches<'_>,
) -> Outcome {
    const NOT_A_PATH: Outcome = Outcome::Undecidable(Why::NotA("a path (a string)"));
    match v {
        Value::String(s) => one(s, paths, each, problem, matches),
        Value::Array(items) if items.is_empty() => Outcome::Missing,
        Value::Array(items) => combine(
            items.iter().map(|item| match item {
                Value::String(s) => one(s, paths, each, problem, matches),
                _ => NOT_A_PATH,
            }),
            each,
        ),
        _ => NOT_A_PATH,
    }
}

/// A path op on every normalized form of `raw` (one per base for a relative path, plus resolved
/// forms): `require` needs all of them to hold, `deny_if` and `approve_if` fire on any.
fn one(
    raw: &str,
    paths: &PathContext,
    each: Each,
    problem: &mut Option<PathUndecided>,
    matches: &Matches<'_>,
) -> Outcome {
    let forms = match paths.candidates(raw) {
        Ok(forms) => forms,
        Err(e) => return undecided(problem, PathUndecided::Argument(e)),
    };
    combine(
        forms.iter().map(|p| match matches(p) {
            Ok(holds) => Outcome::of(holds),
            Err(e) => undecided(problem, e),
        }),
        each,
    )
}

/// `All`: the first outcome that is not `Holds`, else `Holds`. `Any`: `Holds` if one holds, else
/// the first undecidable one, else `Fails`. Stops early, so `problem` holds the first reason of
/// the outcome returned.
fn combine(outcomes: impl Iterator<Item = Outcome>, each: Each) -> Outcome {
    let mut undecided = None;
    for o in outcomes {
        match (each, o) {
            (Each::All, Outcome::Holds) => {}
            (Each::All, o) => return o,
            (Each::Any, Outcome::Holds) => return Outcome::Holds,
            (Each::Any, o @ Outcome::Undecidable(_)) => {
                undecided.get_or_insert(o);
            }
            (Each::Any, _) => {}
        }
    }
    match each {
        Each::All => Outcome::Holds,
        Each::Any => undecided.unwrap_or(Outcome::Fails),
    }
}
