//! The checked, ready-to-evaluate form of a policy.
//!
//! Everything that can be done once is done here at load time: regexes compiled,
//! paths split into segments, operands turned into numbers, durations into
//! milliseconds, JSON Pointers of every rule built. Evaluation then only walks
//! these structures, without allocating for the common allow path.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::model::{ApprovalKind, Scope, ToolAction, Window};
use crate::pathmatch::{GlobTest, UnderTest};

#[derive(Debug, Clone)]
pub(crate) struct CompiledPolicy {
    pub hide_all: bool,
    pub hidden: HashSet<String>,
    pub tools: HashMap<String, CompiledTool>,
    pub all_tools_limits: Vec<CompiledLimit>,
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledTool {
    pub pointer: String,
    pub action: ToolAction,
    pub reason: Option<String>,
    pub require: Vec<CompiledCondition>,
    pub deny_if: Vec<CompiledCondition>,
    pub approve_if: Vec<CompiledCondition>,
    pub limits: Vec<CompiledLimit>,
    pub approval_timeout_ms: Option<u64>,
    pub approval: ApprovalKind,
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledCondition {
    pub pointer: String,
    pub path: ArgPath,
    pub test: Test,
    pub on_deny: Option<String>,
}

/// `args.a.0.b` split into `["a", "0", "b"]`; a segment is an object key, or an
/// array index when the value at that point is an array; `*` is every element of an array (or
/// every value of an object) at that point.
#[derive(Debug, Clone)]
pub(crate) struct ArgPath {
    pub text: String,
    pub segments: Vec<String>,
    /// True when a segment is `*`.
    pub wildcard: bool,
}

/// The segment that stands for every element.
pub(crate) const EVERY: &str = "*";

impl ArgPath {
    /// Every value a wildcard path reaches, each with its concrete path (`args.events.3.channel`)
    /// and `None` where an element lacks the rest of the path. Empty when the path stops before
    /// the first `*` (missing, or not an array or object there).
    pub fn lookup_each<'v>(&self, args: &'v Value) -> Vec<(String, Option<&'v Value>)> {
        let mut out = Vec::new();
        walk(args, &self.segments, String::from("args"), false, &mut out);
        out
    }

    /// The value at this path in `args`, if present.
    #[inline]
    pub fn lookup<'v>(&self, args: &'v Value) -> Option<&'v Value> {
        let mut cur = args;
        for seg in &self.segments {
            cur = match cur {
                Value::Object(map) => map.get(seg)?,
                Value::Array(items) => items.get(seg.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(cur)
    }
}

/// Follows `rest` from `cur` (reached at concrete path `at`); `inside` once a `*` was passed.
fn walk<'v>(
    cur: &'v Value,
    rest: &[String],
    at: String,
    inside: bool,
    out: &mut Vec<(String, Option<&'v Value>)>,
) {
    let Some((seg, tail)) = rest.split_first() else {
        out.push((at, Some(cur)));
        return;
    };
    if seg == EVERY {
        match cur {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, tail, format!("{at}.{i}"), true, out);
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    walk(item, tail, format!("{at}.{key}"), true, out);
                }
            }
            _ => {}
        }
        return;
    }
    let next = match cur {
        Value::Object(map) => map.get(seg),
        Value::Array(items) => seg.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    };
    match next {
        Some(v) => walk(v, tail, format!("{at}.{seg}"), inside, out),
        // This element lacks the rest of the path.
        None if inside => out.push((format!("{at}.{}", rest.join(".")), None)),
        // The path stops before its first `*`: nothing is reached.
        None => {}
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Test {
    Eq(Operand),
    Neq(Operand),
    In(Vec<Operand>),
    NotIn(Vec<Operand>),
    Lt(Num),
    Lte(Num),
    Gt(Num),
    Gte(Num),
    Regex(regex::Regex),
    Contains(Operand),
    Exists(bool),
    Under(UnderTest),
    Glob(Box<GlobTest>),
}

/// A condition operand with its numeric reading precomputed.
#[derive(Debug, Clone)]
pub(crate) struct Operand {
    pub value: Value,
    pub number: Option<Num>,
}

impl Operand {
    pub fn new(value: Value) -> Self {
        let number = Num::of(&value);
        Operand { value, number }
    }

    /// Intercept's `eq`: numerically when both sides read as numbers, else as JSON values.
    #[inline]
    pub fn equals(&self, arg: &Value) -> bool {
        match (self.number, Num::of(arg)) {
            (Some(a), Some(b)) => a.compare(b) == Some(Ordering::Equal),
            _ => self.value == *arg,
        }
    }
}

/// A number from a policy or an argument: exact for integers, `f64` otherwise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    /// A JSON number, or a string that is entirely a decimal number (`"42"`, `"-1.5e3"`).
    pub fn of(value: &Value) -> Option<Num> {
        match value {
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Some(Num::Int(i128::from(i)))
                } else if let Some(u) = n.as_u64() {
                    Some(Num::Int(i128::from(u)))
                } else {
                    n.as_f64().map(Num::Float)
                }
            }
            Value::String(s) => Num::parse_str(s),
            _ => None,
        }
    }

    fn parse_str(s: &str) -> Option<Num> {
        let body = s.strip_prefix('-').unwrap_or(s);
        if body.is_empty()
            || !body
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_digit() || b == b'.')
        {
            return None;
        }
        if !body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        {
            return None;
        }
        if body.bytes().all(|b| b.is_ascii_digit())
            && let Ok(i) = s.parse::<i128>()
        {
            return Some(Num::Int(i));
        }
        s.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Num::Float)
    }

    pub fn as_f64(self) -> f64 {
        match self {
            // Rounds beyond 2^53; only used where integers were not both exact.
            #[expect(
                clippy::cast_precision_loss,
                reason = "documented rounding for huge integers"
            )]
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    pub fn compare(self, other: Num) -> Option<Ordering> {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
            (a, b) => a.as_f64().partial_cmp(&b.as_f64()),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledLimit {
    pub pointer: String,
    pub counter: String,
    pub window: Window,
    pub window_ms: u64,
    pub max: f64,
    pub scope: Scope,
    pub increment_from: Option<ArgPath>,
}
