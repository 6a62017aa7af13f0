//! Secrets assigned to a name inside text: form and query data (`a=1&password=x`), environment
//! and config lines (`AWS_SECRET_ACCESS_KEY=...`, `password: x`), JSON-like text that did not
//! parse (`"token": "x"`, also with escaped quotes), and command-line flags (`--token x`).
//!
//! The name is classified like a member name ([`super::keys`]): a secret name has its value
//! replaced, a weak name only a random-looking value. The value is a quoted string (matching
//! quote, with the same backslashes before it) or a bare run up to whitespace, `&`, a quote or
//! `<>`; `,` and `;` end it when followed by a space. After a colon, a bare value that is a plain
//! word followed by more words on its line is prose ("Password: must be 12 characters") and is
//! kept.

use std::borrow::Cow;

use regex::Regex;

use super::entropy::{looks_random, reads_as_prose};
use super::keys::{KeyClass, KeyRules, Words};

/// A name and its operator, or a long command-line flag and the blank after it. Any character
/// outside ASCII may be part of a name (the classifier reads confusables); listing Unicode
/// letter classes instead would make this regex many times larger and slower to build.
pub(super) const CANDIDATE: &str = r#"(?:\\*["'])?(?:[A-Za-z0-9_.%-]|[^\x00-\x7F]){1,128}(?:\\*["'])?[ \t]*(?:===?|:=|=>|=|:)|(?-u:\B)--[A-Za-z][A-Za-z0-9_.-]*[ \t]+"#;

/// Longest quoted value looked for; a longer one is taken as a bare value.
const MAX_QUOTED: usize = 4096;

/// `s` with the values of secret names replaced; borrowed when there are none.
pub(super) fn apply<'a>(
    candidate: &Regex,
    keys: &KeyRules,
    s: &'a str,
    replacement: &str,
    form_replacement: &str,
) -> Cow<'a, str> {
    let mut out: Option<String> = None;
    // Bytes of `s` already copied to `out`, and where the next search starts.
    let mut copied = 0;
    let mut at = 0;
    while let Some(m) = candidate.find_at(s, at) {
        at = m.end();
        let Some((name, op)) = split_candidate(m.as_str()) else {
            continue;
        };
        let words = if name.contains('%') {
            Words::of(&percent_encoding::percent_decode_str(name).decode_utf8_lossy())
        } else {
            Words::of(name)
        };
        let class = keys.classify_words(&words, name);
        if class == KeyClass::Plain {
            continue;
        }
        // A header's value is the rest of its line, scheme and all; the header patterns have
        // usually replaced its credentials already, keeping the scheme.
        let header = words.joined.ends_with("authorization")
            || (op == Op::Colon && matches!(words.joined.as_str(), "cookie" | "setcookie"));
        let Some(value) = value_span(s, m.end(), op, header) else {
            continue;
        };
        at = at.max(value.end);
        let text = &s[value.start..value.end];
        let done = if header {
            text.contains(replacement)
        } else {
            text.starts_with(replacement) || text.starts_with(form_replacement)
        };
        let kept = if value.quoted {
            false
        } else if header {
            reads_as_prose(text) && !starts_with_scheme(text)
        } else {
            (op == Op::Colon && prose_after(s, &value)) || names_another_value(text)
        };
        let replace = !done
            && !kept
            && match class {
                KeyClass::Secret => true,
                KeyClass::Weak => looks_random(text),
                KeyClass::Plain => false,
            };
        if !replace {
            continue;
        }
        let buf = out.get_or_insert_with(|| String::with_capacity(s.len()));
        buf.push_str(&s[copied..value.start]);
        // In form data the replacement is written form-encoded, so the string still parses.
        let form = op == Op::Equals && !value.quoted && !s.contains(char::is_whitespace);
        buf.push_str(if form { form_replacement } else { replacement });
        copied = value.end;
    }
    match out {
        None => Cow::Borrowed(s),
        Some(mut buf) => {
            buf.push_str(&s[copied..]);
            Cow::Owned(buf)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Equals,
    Colon,
    Flag,
}

/// The bare name and the kind of operator of a candidate match.
fn split_candidate(m: &str) -> Option<(&str, Op)> {
    if m.ends_with([' ', '\t']) {
        let name = m.trim_start_matches('-').trim_end_matches([' ', '\t']);
        return Some((name, Op::Flag));
    }
    let body = m.trim_end_matches(['=', ':', '>', ' ', '\t']);
    let op = if m[body.len()..].contains('=') {
        Op::Equals
    } else {
        Op::Colon
    };
    let name = body
        .trim_start_matches(['\\', '"', '\''])
        .trim_end_matches(['\\', '"', '\'']);
    (!name.is_empty()).then_some((name, op))
}

#[derive(Debug)]
struct Span {
    start: usize,
    end: usize,
    quoted: bool,
}

/// The value that starts at `from` (after blanks); with `to_line_end`, a bare value runs to the
/// end of its line (or a quote or backslash).
fn value_span(s: &str, from: usize, op: Op, to_line_end: bool) -> Option<Span> {
    let rest = &s[from..];
    let skipped = rest.len() - rest.trim_start_matches([' ', '\t']).len();
    let start = from + skipped;
    let rest = &s[start..];
    let slashes = rest.len() - rest.trim_start_matches('\\').len();
    if let Some(quote) = rest[slashes..]
        .chars()
        .next()
        .filter(|c| matches!(c, '"' | '\''))
    {
        let open = &rest[..=slashes];
        let inner = start + open.len();
        let limit = (inner + MAX_QUOTED).min(s.len());
        let window = s.get(inner..limit).unwrap_or("");
        if let Some(close) = find_close(window, open, quote) {
            return (close > 0).then_some(Span {
                start: inner,
                end: inner + close,
                quoted: true,
            });
        }
    }
    if op == Op::Flag && rest.starts_with('-') {
        return None;
    }
    let len = if to_line_end {
        rest.find(['\r', '\n', '"', '\'', '`', '\\'])
            .unwrap_or(rest.len())
    } else {
        bare_len(rest)
    };
    (len > 0).then_some(Span {
        start,
        end: start + len,
        quoted: false,
    })
}

/// Where the quote that matches `open` (its backslashes and quote) closes in `window`.
fn find_close(window: &str, open: &str, quote: char) -> Option<usize> {
    if open.len() == 1 {
        // A plain quote: the next one not escaped by a backslash.
        let mut escaped = false;
        for (i, c) in window.char_indices() {
            match c {
                '\\' => escaped = !escaped,
                c if c == quote && !escaped => return Some(i),
                '\n' => return None,
                _ => escaped = false,
            }
        }
        return None;
    }
    window.find(open)
}

/// Length of a bare value at the start of `rest`.
fn bare_len(rest: &str) -> usize {
    let b = rest.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' | b'\r' | b'\n' | b'&' | b'"' | b'\'' | b'`' | b'<' | b'>' | b'\\' => {
                break;
            }
            b',' | b';' if b.get(i + 1).is_none_or(|c| c.is_ascii_whitespace()) => break,
            _ => i += 1,
        }
    }
    i
}

fn starts_with_scheme(text: &str) -> bool {
    let first = text.split([' ', '\t']).next().unwrap_or("");
    super::patterns::is_auth_scheme(first)
}

/// Whether a bare value is a reference to the secret rather than the secret: a variable
/// (`$API_KEY`, `${TOKEN}`) or code that fetches it (`os.environ[...]`, `get_token()`).
fn names_another_value(text: &str) -> bool {
    let b = text.as_bytes();
    let ident = |c: &u8| c.is_ascii_alphanumeric() || *c == b'_';
    let ident_start = |c: Option<&u8>| c.is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_');
    if let Some(var) = text.strip_prefix('$') {
        let var = var
            .strip_prefix('{')
            .map_or(var, |v| v.strip_suffix('}').unwrap_or(v));
        return ident_start(var.as_bytes().first()) && var.bytes().all(|c| ident(&c));
    }
    let head = b.iter().take_while(|c| ident(c) || **c == b'.').count();
    ident_start(b.first()) && matches!(b.get(head), Some(b'(' | b'['))
}

/// Whether a bare value after a colon is a plain word with more words after it on its line.
fn prose_after(s: &str, value: &Span) -> bool {
    let word = &s[value.start..value.end];
    let plain_word = word.bytes().all(|c| c.is_ascii_alphabetic());
    let line_goes_on = s[value.end..]
        .split('\n')
        .next()
        .is_some_and(|line| line.trim_start().starts_with(|c: char| c.is_alphabetic()));
    plain_word && line_goes_on
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &str) -> String {
        static RULES: std::sync::LazyLock<(Regex, KeyRules)> = std::sync::LazyLock::new(|| {
            (Regex::new(CANDIDATE).unwrap(), KeyRules::new(&[]).unwrap())
        });
        apply(&RULES.0, &RULES.1, s, "[redacted]", "[redacted]").into_owned()
    }

    #[test]
    fn values_of_secret_names_are_replaced_in_every_notation() {
        for (input, want) in [
            ("a=1&password=x&b=2", "a=1&password=[redacted]&b=2"),
            (
                "AWS_SECRET_ACCESS_KEY=wJalr/K7MDENG",
                "AWS_SECRET_ACCESS_KEY=[redacted]",
            ),
            (
                "export GITHUB_TOKEN=\"abc def\"",
                "export GITHUB_TOKEN=\"[redacted]\"",
            ),
            (
                "{\"pw\": \"x\", \"user\": \"ann\"}",
                "{\"pw\": \"[redacted]\", \"user\": \"ann\"}",
            ),
            (
                "{\\\"pin\\\": \\\"1234\\\"}",
                "{\\\"pin\\\": \\\"[redacted]\\\"}",
            ),
            (
                "mysql --password hunter2 -h db",
                "mysql --password [redacted] -h db",
            ),
            (
                "password: hunter2\nuser: ann",
                "password: [redacted]\nuser: ann",
            ),
            ("key=9f8e7d6c5b4a39281706f5e4d3c2b1a0", "key=[redacted]"),
            ("Authorization: Bearer abc def", "Authorization: [redacted]"),
            ("cookie=a; b", "cookie=[redacted]; b"),
            ("Cookie: a=1; b=2\nx: y", "Cookie: [redacted]\nx: y"),
            (
                "proxy_authorization: Basic abc",
                "proxy_authorization: [redacted]",
            ),
            (
                "Authorization: Bearer [redacted]",
                "Authorization: Bearer [redacted]",
            ),
            ("pass%77ord=x&a=1", "pass%77ord=[redacted]&a=1"),
        ] {
            assert_eq!(run(input), want, "{input}");
        }
    }

    #[test]
    fn plain_names_prose_and_flags_without_values_are_kept() {
        for input in [
            "https://example.com/a?page=2&sort=asc",
            "Password: must be 12 characters long",
            "key=Enter",
            "run --token --verbose",
            "author=ann&pinned=true&session_count=3",
            "max_tokens=100",
            "Authorization: required for all endpoints",
            "token = os.environ['TOKEN']",
            "let token = get_token();",
            "api_key=$API_KEY and secret=${SECRET}",
        ] {
            assert_eq!(run(input), input);
        }
    }
}
