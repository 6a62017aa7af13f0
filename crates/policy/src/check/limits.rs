//! Checking limits: counters, windows, `max`, scopes and spend limits.

use super::{
    Checker, CounterDecl, LIMIT_FIELDS, MAX_WINDOW_SECONDS, SCOPES, WINDOWS, child, one_of,
};
use crate::compiled::CompiledLimit;
use crate::diagnostics::did_you_mean;
use crate::json::{Kind, Spanned};
use crate::model::{Limit, Scope, Window, WindowUnit};

impl<'v> Checker<'_> {
    pub(super) fn limits(
        &mut self,
        v: &'v Spanned,
        pointer: &str,
    ) -> Option<(Vec<Limit>, Vec<CompiledLimit>)> {
        let items = self.array(v, pointer)?;
        let mut model = Vec::new();
        let mut compiled = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match self.limit(item, &format!("{pointer}/{i}")) {
                Some((m, c)) => {
                    model.push(m);
                    compiled.push(c);
                }
                None => ok = false,
            }
        }
        ok.then_some((model, compiled))
    }

    fn limit(&mut self, v: &'v Spanned, pointer: &str) -> Option<(Limit, CompiledLimit)> {
        let f = self.object(v, pointer, LIMIT_FIELDS)?;
        let counter_v = self.required(&f, pointer, "counter");
        let counter = counter_v.and_then(|v| {
            let ptr = child(pointer, "counter");
            match self.string(v, &ptr)? {
                "" => {
                    self.error(v.pos, &ptr, "empty counter name".to_owned());
                    None
                }
                s => Some(s),
            }
        });
        let window = self
            .required(&f, pointer, "window")
            .and_then(|v| self.window(v, &child(pointer, "window")));
        let increment_from = match f.get("increment_from") {
            Some(v) => {
                let ptr = child(pointer, "increment_from");
                match self.path(v, &ptr) {
                    Some(p) if p.wildcard => {
                        self.error_help(
                            v.pos,
                            &ptr,
                            format!("`*` in `{}`: a spend limit counts one number", p.text),
                            Some("name one argument, e.g. `args.amount`".to_owned()),
                        );
                        None
                    }
                    p => Some(p),
                }
            }
            None => Some(None),
        };
        let is_spend = matches!(increment_from, Some(Some(_)));
        let max = self
            .required(&f, pointer, "max")
            .and_then(|v| self.max(v, &child(pointer, "max"), is_spend));
        let scope = self.required(&f, pointer, "scope").and_then(|v| {
            let w = self.word(v, &child(pointer, "scope"), "scope", SCOPES)?;
            Scope::ALL.into_iter().find(|s| s.as_str() == w)
        });
        let (counter, window, increment_from, max, scope) =
            (counter?, window?, increment_from?, max?, scope?);
        let counter_v = counter_v?;
        let settings = (
            window.millis(),
            max.to_bits(),
            scope,
            increment_from.as_ref().map(|p| p.text.clone()),
        );
        if let Some(first) = self.counters.get(counter) {
            if first.settings != settings {
                let help = Some(format!(
                    "first declared at {} (line {}); give this limit its own counter name or the same settings",
                    first.pointer, first.line
                ));
                self.error_help(
                    counter_v.pos,
                    &child(pointer, "counter"),
                    format!("counter `{counter}` is declared again with different settings"),
                    help,
                );
                return None;
            }
        } else {
            self.counters.insert(
                counter.to_owned(),
                CounterDecl {
                    pointer: pointer.to_owned(),
                    line: counter_v.pos.line,
                    settings,
                },
            );
        }
        let model = Limit {
            counter: counter.to_owned(),
            window,
            max,
            scope,
            increment_from: increment_from.as_ref().map(|p| p.text.clone()),
        };
        let compiled = CompiledLimit {
            pointer: pointer.to_owned(),
            counter: counter.to_owned(),
            window,
            window_ms: window.millis(),
            max,
            scope,
            increment_from,
        };
        Some((model, compiled))
    }

    fn window(&mut self, v: &'v Spanned, pointer: &str) -> Option<Window> {
        match &v.kind {
            Kind::String(s) => {
                if let Some(u) = WindowUnit::ALL.into_iter().find(|u| u.as_str() == s) {
                    return Some(Window::Unit(u));
                }
                let help = did_you_mean(s, WINDOWS);
                self.error_help(
                    v.pos,
                    pointer,
                    format!(
                        "unknown window `{s}`, expected one of {} or a number of seconds",
                        one_of(WINDOWS)
                    ),
                    help,
                );
                None
            }
            Kind::Number(n) => match n.as_u64() {
                Some(secs) if (1..=MAX_WINDOW_SECONDS).contains(&secs) => {
                    Some(Window::Seconds(secs))
                }
                _ => {
                    self.error(
                        v.pos,
                        pointer,
                        format!(
                            "window `{n}` must be a whole number of seconds from 1 to {MAX_WINDOW_SECONDS}"
                        ),
                    );
                    None
                }
            },
            _ => {
                self.expected(v, pointer, "a window (`minute`, `hour`, ... or seconds)");
                None
            }
        }
    }

    fn max(&mut self, v: &'v Spanned, pointer: &str, is_spend: bool) -> Option<f64> {
        let Kind::Number(n) = &v.kind else {
            self.expected(v, pointer, "a number");
            return None;
        };
        let f = n.as_f64().filter(|f| f.is_finite());
        match f {
            Some(f) if f > 0.0 => {
                if !is_spend && f.fract() != 0.0 {
                    self.error_help(
                        v.pos,
                        pointer,
                        format!("`max` of a call-count limit must be a whole number, found `{n}`"),
                        Some("fractions are for spend limits with `increment_from`".to_owned()),
                    );
                    return None;
                }
                Some(f)
            }
            _ => {
                self.error(
                    v.pos,
                    pointer,
                    format!("`max` must be greater than 0, found `{n}`"),
                );
                None
            }
        }
    }
}
