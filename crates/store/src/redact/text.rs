//! One string, in order: a string that is JSON text is decoded, redacted inside and written
//! back; otherwise value patterns, then assigned names, then JSON objects and arrays embedded in
//! the text (`request body={"pw": "x"} sent`), then percent-encoded runs, each decoded, redacted
//! and encoded back the same way.
//!
//! Bounds, so a hostile argument cannot make redaction slow or deep: at most [`MAX_LAYERS`]
//! decodings inside one another and [`MAX_DEPTH`] levels of nesting in all (each decoded layer
//! and each JSON object or array counts one); what lies deeper is replaced whole, never stored
//! in clear. Only strings up to [`MAX_DECODE_BYTES`] are decoded; a longer one still goes
//! through the patterns and names, which run in time linear in its length.

use std::borrow::Cow;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde_json::Value;

use super::Redactor;
use super::assign;

/// Most decodings inside one another (JSON in a string in percent-encoded form data, ...).
pub const MAX_LAYERS: u8 = 8;
/// Most levels of nesting in all, counting each decoded layer and each object or array.
pub const MAX_DEPTH: u16 = 256;
/// Longest string decoded as JSON or percent-encoding.
pub const MAX_DECODE_BYTES: usize = 1 << 20;
/// Most times the rules are applied again to a string they changed (see [`Redactor::text`]).
const MAX_ROUNDS: usize = 4;
/// Most `{` or `[` in one string tried as the start of embedded JSON.
const MAX_EMBEDDED_TRIES: usize = 32;

/// A percent-encoded run: unreserved characters and `%XX` escapes, at least one escape.
/// Structural characters (`=&?/:`) end a run, so a URL or form keeps its shape and only its
/// encoded components are decoded.
pub(super) const PERCENT_RUN: &str =
    "(?:[A-Za-z0-9._~+-]|%[0-9A-Fa-f]{2})*%[0-9A-Fa-f]{2}(?:[A-Za-z0-9._~+-]|%[0-9A-Fa-f]{2})*";

/// What a re-encoded run escapes: everything but the characters a run is made of.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'+');

/// How far down a value is.
#[derive(Debug, Clone, Copy)]
pub(super) struct Level {
    depth: u16,
    layers: u8,
}

impl Level {
    pub(super) const TOP: Self = Self {
        depth: 0,
        layers: 0,
    };

    /// One object or array further down.
    pub(super) fn deeper(self) -> Self {
        Self {
            depth: self.depth.saturating_add(1),
            ..self
        }
    }

    /// Inside one more decoding.
    fn decoded(self) -> Self {
        Self {
            depth: self.depth.saturating_add(1),
            layers: self.layers.saturating_add(1),
        }
    }

    pub(super) fn too_deep(self) -> bool {
        self.depth >= MAX_DEPTH
    }

    fn decodes_too_deep(self) -> bool {
        self.layers >= MAX_LAYERS || self.too_deep()
    }
}

impl Redactor {
    /// `s` with its secrets replaced; borrowed when it has none (the usual case).
    ///
    /// The rules are applied again to what they produced until nothing changes: one rule's
    /// replacement can change what another sees (a decoded name that no longer reads as a
    /// header, say), and only a result that is stable makes redacting twice the same as
    /// redacting once. A string still changing after [`MAX_ROUNDS`] is replaced whole.
    pub(super) fn text<'a>(&self, s: &'a str, level: Level) -> Cow<'a, str> {
        let first = self.text_once(s, level);
        let Cow::Owned(mut current) = first else {
            return first;
        };
        for _ in 0..MAX_ROUNDS {
            match self.text_once(&current, level) {
                Cow::Borrowed(_) => return Cow::Owned(current),
                Cow::Owned(next) => current = next,
            }
        }
        Cow::Owned(self.replacement.clone())
    }

    /// One application of the rules to `s`.
    fn text_once<'a>(&self, s: &'a str, level: Level) -> Cow<'a, str> {
        if s.len() <= MAX_DECODE_BYTES
            && let Some(out) = self.nested_json(s, level)
        {
            return out;
        }
        let out = self.patterns.apply(s, &self.replacement);
        let out = if may_assign(&out) {
            then(out, |t| {
                assign::apply(
                    &self.candidate,
                    &self.keys,
                    t,
                    &self.replacement,
                    &self.form_replacement,
                )
            })
        } else {
            out
        };
        if out.len() > MAX_DECODE_BYTES {
            return out;
        }
        let out = if out.contains(['{', '[']) {
            then(out, |t| self.embedded_json(t, level))
        } else {
            out
        };
        if out.contains('%') {
            then(out, |t| self.percent_runs(t, level))
        } else {
            out
        }
    }

    /// `Some` when `s` is JSON text holding an object, an array or a string: redacted inside
    /// and written back (pretty when it was on several lines), or `s` itself when nothing in it
    /// is secret.
    fn nested_json<'a>(&self, s: &'a str, level: Level) -> Option<Cow<'a, str>> {
        let t = s.trim();
        let framed = matches!(
            (t.as_bytes().first(), t.as_bytes().last()),
            (Some(b'{'), Some(b'}')) | (Some(b'['), Some(b']')) | (Some(b'"'), Some(b'"'))
        );
        if !framed || t.len() < 2 {
            return None;
        }
        let mut value: Value = serde_json::from_str(t).ok()?;
        if level.decodes_too_deep() {
            return Some(Cow::Owned(self.replacement.clone()));
        }
        let level = level.decoded();
        let written = match &mut value {
            Value::Object(_) | Value::Array(_) => {
                if !self.in_place(&mut value, level) {
                    return Some(Cow::Borrowed(s));
                }
                if t.contains('\n') {
                    serde_json::to_string_pretty(&value)
                } else {
                    serde_json::to_string(&value)
                }
            }
            Value::String(inner) => match self.text(inner, level) {
                Cow::Borrowed(_) => return Some(Cow::Borrowed(s)),
                Cow::Owned(redacted) => serde_json::to_string(&redacted),
            },
            _ => return None,
        };
        // Writing a `Value` cannot fail (its keys are strings); if it did, store nothing of it.
        let written = written.unwrap_or_else(|_| self.replacement.clone());
        let lead = s.len() - s.trim_start().len();
        let trail = s.trim_end().len();
        Some(Cow::Owned(format!(
            "{}{written}{}",
            &s[..lead],
            &s[trail..]
        )))
    }

    /// `s` with each JSON object or array embedded in it redacted inside (written compact when
    /// something changed).
    fn embedded_json<'a>(&self, s: &'a str, level: Level) -> Cow<'a, str> {
        let mut out: Option<String> = None;
        let mut copied = 0;
        let mut at = 0;
        for _ in 0..MAX_EMBEDDED_TRIES {
            let Some(start) = s[at..].find(['{', '[']).map(|i| at + i) else {
                break;
            };
            let mut values = serde_json::Deserializer::from_str(&s[start..]).into_iter::<Value>();
            let mut value = match values.next() {
                Some(Ok(v)) if v.is_object() || v.is_array() => v,
                _ => {
                    at = start + 1;
                    continue;
                }
            };
            let end = start + values.byte_offset();
            at = end;
            let written = if level.decodes_too_deep() {
                self.replacement.clone()
            } else if self.in_place(&mut value, level.decoded()) {
                // Writing a `Value` cannot fail (its keys are strings).
                serde_json::to_string(&value).unwrap_or_else(|_| self.replacement.clone())
            } else {
                continue;
            };
            let buf = out.get_or_insert_with(|| String::with_capacity(s.len()));
            buf.push_str(&s[copied..start]);
            buf.push_str(&written);
            copied = end;
        }
        match out {
            None => Cow::Borrowed(s),
            Some(mut buf) => {
                buf.push_str(&s[copied..]);
                Cow::Owned(buf)
            }
        }
    }

    /// `s` with each percent-encoded run decoded, redacted and encoded again where it held a
    /// secret.
    fn percent_runs<'a>(&self, s: &'a str, level: Level) -> Cow<'a, str> {
        let mut out: Option<String> = None;
        let mut copied = 0;
        for run in self.percent_run.find_iter(s) {
            let replaced = if level.decodes_too_deep() {
                Some(self.form_replacement.clone())
            } else {
                let Ok(decoded) = percent_decode_str(run.as_str()).decode_utf8() else {
                    continue;
                };
                match self.text(&decoded, level.decoded()) {
                    Cow::Borrowed(_) => None,
                    Cow::Owned(redacted) => {
                        Some(utf8_percent_encode(&redacted, COMPONENT).to_string())
                    }
                }
            };
            if let Some(replaced) = replaced {
                let buf = out.get_or_insert_with(|| String::with_capacity(s.len()));
                buf.push_str(&s[copied..run.start()]);
                buf.push_str(&replaced);
                copied = run.end();
            }
        }
        match out {
            None => Cow::Borrowed(s),
            Some(mut buf) => {
                buf.push_str(&s[copied..]);
                Cow::Owned(buf)
            }
        }
    }
}

/// Whether `s` may hold `name=value`, `name: value` or `--flag value`.
fn may_assign(s: &str) -> bool {
    s.bytes().any(|b| b == b'=' || b == b':') || s.contains("--")
}

/// `cur` after `f`, keeping `cur` when `f` changed nothing.
fn then<'a>(cur: Cow<'a, str>, f: impl FnOnce(&str) -> Cow<'_, str>) -> Cow<'a, str> {
    let next = match f(&cur) {
        Cow::Borrowed(_) => None,
        Cow::Owned(next) => Some(next),
    };
    next.map_or(cur, Cow::Owned)
}

/// The form-encoded spelling of a replacement text.
pub(super) fn form_encoded(replacement: &str) -> String {
    /// What would break a `name=value&...` string.
    const FORM: &AsciiSet = &percent_encoding::CONTROLS
        .add(b' ')
        .add(b'&')
        .add(b'=')
        .add(b'+')
        .add(b'#')
        .add(b'%')
        .add(b'"')
        .add(b'\'')
        .add(b'<')
        .add(b'>')
        .add(b';')
        .add(b'`')
        .add(b'\\');
    utf8_percent_encode(replacement, FORM).to_string()
}
