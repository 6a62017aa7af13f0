//! Checking conditions (`deny_if`, `allow_if`, `approve_if`): argument paths, operators and
//! their values, regexes.

use super::{CONDITION_FIELDS, Checker, Fields, OPS, REGEX_SIZE_LIMIT, child};
use crate::compiled::{ArgPath, CompiledCondition, Num, Operand, Test};
use crate::json::{Kind, Spanned};
use crate::model::{Condition, Op};

impl<'v> Checker<'_> {
    pub(super) fn path(&mut self, v: &'v Spanned, pointer: &str) -> Option<ArgPath> {
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

    pub(super) fn conditions(
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
