//! A small JSON parser that keeps the line and column of every key and value.
//!
//! `serde_json` reports a position only for the first syntax error, and none for a
//! field that parses but is wrong (an unknown op, a bad regex). Policy errors must
//! point at the offending key or value, so the policy is first read into this
//! spanned tree and then checked field by field (see `check.rs`).
//!
//! It follows RFC 8259 strictly (no comments, no trailing commas), accepts a
//! leading UTF-8 byte-order mark, and caps nesting depth so hostile input cannot
//! overflow the stack. Columns count characters, not bytes, from 1.

use std::fmt;

/// Deepest nesting accepted; real policies are 6 levels deep.
const MAX_DEPTH: usize = 128;

/// A 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// Line, from 1.
    pub line: u32,
    /// Column in characters, from 1.
    pub column: u32,
}

/// A JSON value and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned {
    pub pos: Pos,
    pub kind: Kind,
}

/// An object key and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub pos: Pos,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Spanned>),
    /// Members in source order; duplicates are kept so the checker can report them.
    Object(Vec<(Key, Spanned)>),
}

impl Kind {
    /// How the kind is named in error messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Number(_) => "a number",
            Kind::String(_) => "a string",
            Kind::Array(_) => "an array",
            Kind::Object(_) => "an object",
        }
    }
}

impl Spanned {
    /// The plain `serde_json` value, without positions.
    pub fn to_value(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Number(n) => Value::Number(n.clone()),
            Kind::String(s) => Value::String(s.clone()),
            Kind::Array(items) => Value::Array(items.iter().map(Spanned::to_value).collect()),
            Kind::Object(members) => {
                let mut map = serde_json::Map::new();
                for (k, v) in members {
                    map.insert(k.name.clone(), v.to_value());
                }
                Value::Object(map)
            }
        }
    }
}

/// A syntax error in the JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.pos.line, self.pos.column, self.message)
    }
}

/// Parses one JSON document.
pub fn parse(source: &str) -> Result<Spanned, SyntaxError> {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let mut p = Parser {
        src: source,
        bytes: source.as_bytes(),
        at: 0,
        line: 1,
        line_start: 0,
    };
    p.skip_ws();
    let value = p.value(0)?;
    p.skip_ws();
    if p.at < p.bytes.len() {
        return Err(p.error_here(format!(
            "unexpected {} after the end of the document",
            p.describe_next()
        )));
    }
    Ok(value)
}

struct Parser<'a> {
    src: &'a str,
    bytes: &'a [u8],
    at: usize,
    line: u32,
    /// Byte offset where the current line starts.
    line_start: usize,
}

impl Parser<'_> {
    fn pos(&self) -> Pos {
        let col = self
            .src
            .get(self.line_start..self.at)
            .map_or(0, |s| s.chars().count());
        Pos {
            line: self.line,
            column: u32::try_from(col).unwrap_or(u32::MAX).saturating_add(1),
        }
    }

    fn error_at(&self, pos: Pos, message: String) -> SyntaxError {
        SyntaxError { pos, message }
    }

    fn error_here(&self, message: String) -> SyntaxError {
        self.error_at(self.pos(), message)
    }

    fn describe_next(&self) -> String {
        match self.src.get(self.at..).and_then(|s| s.chars().next()) {
            None => "end of file".to_owned(),
            Some(c) if c.is_control() => format!("character U+{:04X}", c as u32),
            Some(c) => format!("`{c}`"),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\r' => self.at += 1,
                b'\n' => {
                    self.at += 1;
                    self.line = self.line.saturating_add(1);
                    self.line_start = self.at;
                }
                _ => break,
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Spanned, SyntaxError> {
        let pos = self.pos();
        if depth > MAX_DEPTH {
            return Err(self.error_here(format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        let kind = match self.peek() {
            Some(b'{') => self.object(depth)?,
            Some(b'[') => self.array(depth)?,
            Some(b'"') => Kind::String(self.string()?),
            Some(b't') => self.literal("true", Kind::Bool(true))?,
            Some(b'f') => self.literal("false", Kind::Bool(false))?,
            Some(b'n') => self.literal("null", Kind::Null)?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            _ => {
                return Err(self.error_here(format!(
                    "expected a JSON value, found {}",
                    self.describe_next()
                )));
            }
        };
        Ok(Spanned { pos, kind })
    }

    fn literal(&mut self, word: &str, kind: Kind) -> Result<Kind, SyntaxError> {
        if self.bytes.get(self.at..self.at + word.len()) == Some(word.as_bytes()) {
            self.at += word.len();
            Ok(kind)
        } else {
            Err(self.error_here(format!(
                "expected a JSON value, found {}",
                self.describe_next()
            )))
        }
    }

    fn object(&mut self, depth: usize) -> Result<Kind, SyntaxError> {
        self.at += 1; // {
        let mut members = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Kind::Object(members));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.error_here(format!(
                    "expected a quoted key, found {}",
                    self.describe_next()
                )));
            }
            let key_pos = self.pos();
            let name = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.error_here(format!(
                    "expected `:` after key `{name}`, found {}",
                    self.describe_next()
                )));
            }
            self.at += 1;
            self.skip_ws();
            let value = self.value(depth + 1)?;
            members.push((Key { pos: key_pos, name }, value));
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.at += 1;
                    self.skip_ws();
                    if self.peek() == Some(b'}') {
                        return Err(self.error_here("trailing comma before `}`".to_owned()));
                    }
                }
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Kind::Object(members));
                }
                _ => {
                    return Err(self.error_here(format!(
                        "expected `,` or `}}` after an object member, found {}",
                        self.describe_next()
                    )));
                }
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Kind, SyntaxError> {
        self.at += 1; // [
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Kind::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.at += 1;
                    self.skip_ws();
                    if self.peek() == Some(b']') {
                        return Err(self.error_here("trailing comma before `]`".to_owned()));
                    }
                }
                Some(b']') => {
                    self.at += 1;
                    return Ok(Kind::Array(items));
                }
                _ => {
                    return Err(self.error_here(format!(
                        "expected `,` or `]` after an array element, found {}",
                        self.describe_next()
                    )));
                }
            }
        }
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        let start = self.pos();
        self.at += 1; // opening quote
        let mut out = String::new();
        loop {
            // Copy the run of plain characters in one go.
            let run_start = self.at;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.at += 1;
            }
            out.push_str(self.src.get(run_start..self.at).unwrap_or_default());
            match self.peek() {
                None => {
                    return Err(self.error_at(start, "unterminated string".to_owned()));
                }
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.at += 1;
                    let esc_pos = self.pos();
                    let Some(e) = self.peek() else {
                        return Err(self.error_at(start, "unterminated string".to_owned()));
                    };
                    self.at += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => out.push(self.unicode_escape(esc_pos)?),
                        _ => {
                            self.at -= 1;
                            return Err(self.error_at(
                                esc_pos,
                                format!("invalid escape `\\{}` in string", self.describe_raw()),
                            ));
                        }
                    }
                }
                Some(_) => {
                    return Err(self.error_here(
                        "control character in string; write it as an escape such as `\\n`"
                            .to_owned(),
                    ));
                }
            }
        }
    }

    fn describe_raw(&self) -> String {
        self.src
            .get(self.at..)
            .and_then(|s| s.chars().next())
            .map(String::from)
            .unwrap_or_default()
    }

    fn hex4(&mut self, esc_pos: Pos) -> Result<u32, SyntaxError> {
        let digits = self
            .src
            .get(self.at..self.at + 4)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()));
        let Some(digits) = digits else {
            return Err(self.error_at(esc_pos, "invalid `\\u` escape in string".to_owned()));
        };
        self.at += 4;
        u32::from_str_radix(digits, 16)
            .map_err(|_| self.error_at(esc_pos, "invalid `\\u` escape in string".to_owned()))
    }

    fn unicode_escape(&mut self, esc_pos: Pos) -> Result<char, SyntaxError> {
        let first = self.hex4(esc_pos)?;
        let code = if (0xD800..0xDC00).contains(&first) {
            if self.bytes.get(self.at..self.at + 2) != Some(b"\\u") {
                return Err(self.error_at(esc_pos, "unpaired surrogate in `\\u` escape".to_owned()));
            }
            self.at += 2;
            let second = self.hex4(esc_pos)?;
            if !(0xDC00..0xE000).contains(&second) {
                return Err(self.error_at(esc_pos, "unpaired surrogate in `\\u` escape".to_owned()));
            }
            0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
        } else {
            first
        };
        char::from_u32(code)
            .ok_or_else(|| self.error_at(esc_pos, "unpaired surrogate in `\\u` escape".to_owned()))
    }

    fn number(&mut self) -> Result<Kind, SyntaxError> {
        let pos = self.pos();
        let start = self.at;
        let bad = |p: &Self| p.error_at(pos, "invalid number".to_owned());
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                while matches!(self.peek(), Some(b'0'..=b'9')) {
                    self.at += 1;
                }
            }
            _ => return Err(bad(self)),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(bad(self));
            }
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.at += 1;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(bad(self));
            }
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.at += 1;
            }
        }
        let text = self.src.get(start..self.at).unwrap_or_default();
        let number = if let Ok(i) = text.parse::<i64>() {
            serde_json::Number::from(i)
        } else if let Ok(u) = text.parse::<u64>() {
            serde_json::Number::from(u)
        } else {
            let f = text.parse::<f64>().map_err(|_| bad(self))?;
            serde_json::Number::from_f64(f)
                .ok_or_else(|| self.error_at(pos, format!("number `{text}` is out of range")))?
        };
        Ok(Kind::Number(number))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &str) -> String {
        parse(src).unwrap_err().to_string()
    }

    #[test]
    fn positions_of_keys_and_values_are_one_based_in_characters() {
        let v = parse("{\n  \"é\": [1, \"x\"]\n}").unwrap();
        let Kind::Object(members) = &v.kind else {
            panic!("not an object")
        };
        assert_eq!(v.pos, Pos { line: 1, column: 1 });
        assert_eq!(members[0].0.pos, Pos { line: 2, column: 3 });
        assert_eq!(members[0].1.pos, Pos { line: 2, column: 8 });
        let Kind::Array(items) = &members[0].1.kind else {
            panic!("not an array")
        };
        assert_eq!(
            items[1].pos,
            Pos {
                line: 2,
                column: 12
            }
        );
    }

    #[test]
    fn syntax_errors_name_the_place_and_the_problem() {
        assert_eq!(err(""), "1:1: expected a JSON value, found end of file");
        assert_eq!(err("{\"a\": 1,}"), "1:9: trailing comma before `}`");
        assert_eq!(
            err("{\"a\" 1}"),
            "1:6: expected `:` after key `a`, found `1`"
        );
        assert_eq!(
            err("[1 2]"),
            "1:4: expected `,` or `]` after an array element, found `2`"
        );
        assert_eq!(
            err("{\n\"a\": tru}"),
            "2:6: expected a JSON value, found `t`"
        );
        assert_eq!(err("\"abc"), "1:1: unterminated string");
        assert_eq!(
            err("{} {}"),
            "1:4: unexpected `{` after the end of the document"
        );
        assert_eq!(
            err("01"),
            "1:2: unexpected `1` after the end of the document"
        );
        assert_eq!(err("1e999"), "1:1: number `1e999` is out of range");
        assert_eq!(err("\"\\x\""), "1:3: invalid escape `\\x` in string");
        assert_eq!(err("{a:1}"), "1:2: expected a quoted key, found `a`");
    }

    #[test]
    fn escapes_and_surrogate_pairs_decode() {
        let v = parse(r#""a\n\u00e9\ud83d\ude00\/""#).unwrap();
        assert_eq!(v.kind, Kind::String("a\né😀/".to_owned()));
        assert!(parse(r#""\ud83d""#).is_err());
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let deep = "[".repeat(100_000);
        assert!(err(&deep).contains("nesting deeper than 128 levels"));
    }

    #[test]
    fn agrees_with_serde_json_on_values() {
        let src = r#"{"a": [1, -2, 3.5, 1e3, 18446744073709551615, true, null, {"b": "c"}]}"#;
        let ours = parse(src).unwrap().to_value();
        let theirs: serde_json::Value = serde_json::from_str(src).unwrap();
        assert_eq!(ours, theirs);
    }
}
