//! Redaction of secrets before anything is stored, and the canonical argument hash (`canonical`).
//!
//! Two rules, applied to every JSON value the store writes for a call or an approval:
//! - **By key name.** A member whose name looks like a secret (`token`, `password`, `api_key`,
//!   `Authorization`, `private_key`, `cookie`, `credential`, ...) has its whole value replaced,
//!   whatever its type (objects and arrays too). Names are compared lower-cased with `-`, `_`, `.`
//!   and spaces removed, so `X-Api-Key`, `apiKey` and `api_key` are one name. Most needles match
//!   as substrings (`github_token`, `db_password`); short or ambiguous words (`auth`, `session`,
//!   `pwd`) match only the whole name, so `author` and `sessions_count` survive. Counting words
//!   are not secrets: `max_tokens`, `token_count`, `tokenizer` keep their values.
//! - **By value pattern.** Inside any string, wherever it sits: bearer and basic credentials, JWTs,
//!   PEM private key blocks (an unterminated block is redacted to the end of the string), AWS
//!   access key ids, GitHub and Slack tokens, `sk-...` API keys, and passwords in URLs. Only the
//!   matched part is replaced, so `"curl -H 'Authorization: Bearer abc'"` stays readable.
//!
//! [`RedactionConfig`] adds key names and regular expressions (from the user's config). The
//! replacement text is [`REDACTED`] unless configured.
//!
//! Redaction writes the JSON text directly from the caller's value (a `Serialize` view), so the
//! hot path builds no second copy of the arguments.
//!
//! [`canonical_args_hash`] is computed over the *unredacted* arguments: two calls with different
//! secrets are different calls.

use std::fmt;

use regex::{Regex, RegexSet};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use crate::error::{Result, StoreError};

mod canonical;

pub use canonical::{canonical_args_hash, canonical_json};

/// The default replacement text.
pub const REDACTED: &str = "[redacted]";

/// Needles that mark a secret when they occur anywhere in a normalized key name.
const KEY_SUBSTRINGS: &[&str] = &[
    "token",
    "password",
    "passwd",
    "passphrase",
    "secret",
    "apikey",
    "authorization",
    "cookie",
    "privatekey",
    "accesskey",
    "secretkey",
    "signingkey",
    "encryptionkey",
    "credential",
    "sessionid",
    "sessionkey",
    "refreshtoken",
    "clientsecret",
    "connectionstring",
];

/// Names that mark a secret only when they are the whole normalized key name.
const KEY_EXACT: &[&str] = &["auth", "session", "pwd", "pass", "otp", "cvv"];

/// Normalized names that contain a needle but are counts or settings, not secrets.
const KEY_NOT_SECRET: &[&str] = &[
    "tokenizer",
    "tokenize",
    "tokencount",
    "tokenlimit",
    "tokenusage",
];

/// Value patterns on by default: (name, regex).
const VALUE_PATTERNS: &[(&str, &str)] = &[
    (
        "pem_private_key",
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----(?s:.*?)(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|\z)",
    ),
    (
        "bearer",
        r"(?i:\bbearer)\s+(?P<secret>[A-Za-z0-9\-._~+/]*[0-9\-._~+/][A-Za-z0-9\-._~+/]*=*|[A-Za-z]{20,}=*)",
    ),
    (
        "basic_auth",
        r"(?i:\bbasic)\s+(?P<secret>[A-Za-z0-9+/]*[0-9+/][A-Za-z0-9+/]*={0,2})",
    ),
    (
        "jwt",
        r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*",
    ),
    (
        "aws_access_key_id",
        r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b",
    ),
    (
        "github_token",
        r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}\b|\bgithub_pat_[A-Za-z0-9_]{22,}",
    ),
    ("slack_token", r"\bxox[abposre]-[A-Za-z0-9-]{10,}"),
    ("sk_api_key", r"\bsk-[A-Za-z0-9_-]{20,}"),
    (
        "url_password",
        r"(?i)\b[a-z][a-z0-9+.-]*://[^/\s:@]+:(?P<secret>[^/\s@]+)@",
    ),
];

/// User settings for redaction, as read from the config file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedactionConfig {
    /// More key names treated as secrets (compared normalized, as substrings).
    pub extra_keys: Vec<String>,
    /// More regular expressions whose matches inside strings are replaced.
    pub extra_patterns: Vec<String>,
    /// Replacement text; `[redacted]` when unset.
    pub replacement: Option<String>,
}

/// A compiled redaction rule set. Cheap to share (`Arc`) and to apply.
#[derive(Debug, Clone)]
pub struct Redactor {
    extra_keys: Vec<String>,
    patterns: Vec<Regex>,
    any_pattern: RegexSet,
    replacement: String,
}

impl Redactor {
    /// Compiles the defaults plus `config`. A bad extra pattern is an error naming it.
    pub fn new(config: &RedactionConfig) -> Result<Self> {
        let mut sources: Vec<String> = VALUE_PATTERNS
            .iter()
            .map(|(_, p)| (*p).to_owned())
            .collect();
        for pattern in &config.extra_patterns {
            Regex::new(pattern).map_err(|e| StoreError::BadPattern {
                pattern: pattern.clone(),
                detail: first_line(&e.to_string()),
            })?;
            sources.push(pattern.clone());
        }
        let patterns = sources
            .iter()
            .map(|p| Regex::new(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::BadPattern {
                pattern: String::new(),
                detail: e.to_string(),
            })?;
        let any_pattern = RegexSet::new(&sources).map_err(|e| StoreError::BadPattern {
            pattern: String::new(),
            detail: e.to_string(),
        })?;
        Ok(Self {
            extra_keys: config.extra_keys.iter().map(|k| normalize_key(k)).collect(),
            patterns,
            any_pattern,
            replacement: config
                .replacement
                .clone()
                .unwrap_or_else(|| REDACTED.to_owned()),
        })
    }

    /// Whether a member with this name has its value replaced.
    pub fn is_secret_key(&self, key: &str) -> bool {
        let k = normalize_key(key);
        if KEY_EXACT.contains(&k.as_str()) {
            return true;
        }
        if self
            .extra_keys
            .iter()
            .any(|needle| !needle.is_empty() && k.contains(needle.as_str()))
        {
            return true;
        }
        if KEY_NOT_SECRET.iter().any(|w| k.contains(w)) {
            return false;
        }
        // Plural counting names: max_tokens, total_tokens, input_tokens.
        if k.ends_with("tokens") && !k.contains("tokenss") && k != "tokens" && k.len() > 6 {
            let stem = &k[..k.len() - 6];
            if [
                "max",
                "total",
                "input",
                "output",
                "num",
                "prompt",
                "completion",
                "context",
            ]
            .iter()
            .any(|w| stem.ends_with(w))
            {
                return false;
            }
        }
        KEY_SUBSTRINGS.iter().any(|needle| k.contains(needle))
    }

    /// Replaces secret-looking parts of a string; borrows when nothing matches (the usual case).
    pub fn redact_str<'a>(&self, s: &'a str) -> std::borrow::Cow<'a, str> {
        if !self.any_pattern.is_match(s) {
            return std::borrow::Cow::Borrowed(s);
        }
        let mut out = s.to_owned();
        for re in &self.patterns {
            if !re.is_match(&out) {
                continue;
            }
            // A pattern with a `secret` group replaces only that group (`Bearer [redacted]`).
            out = re
                .replace_all(&out, |caps: &regex::Captures<'_>| {
                    match (caps.get(0), caps.name("secret")) {
                        (Some(all), Some(secret)) => {
                            let start = secret.start() - all.start();
                            let end = secret.end() - all.start();
                            let whole = all.as_str();
                            format!("{}{}{}", &whole[..start], self.replacement, &whole[end..])
                        }
                        _ => self.replacement.clone(),
                    }
                })
                .into_owned();
        }
        std::borrow::Cow::Owned(out)
    }

    /// The redacted JSON text of `value`, written without copying the value first.
    pub fn redact_to_string(&self, value: &Value) -> String {
        // Serializing a `serde_json::Value` view cannot fail: all keys are strings.
        serde_json::to_string(&View {
            value,
            redactor: self,
        })
        .unwrap_or_else(|_| "null".into())
    }

    /// A redacted copy of `value`.
    pub fn redact_value(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.redact_str(s).into_owned()),
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.redact_value(v)).collect())
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let v = if self.is_secret_key(k) {
                            Value::String(self.replacement.clone())
                        } else {
                            self.redact_value(v)
                        };
                        (k.clone(), v)
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// The replacement text.
    pub fn replacement(&self) -> &str {
        &self.replacement
    }
}

impl Default for Redactor {
    fn default() -> Self {
        // The built-in patterns are fixed and tested; compiling them cannot fail.
        match Self::new(&RedactionConfig::default()) {
            Ok(r) => r,
            Err(e) => unreachable_redactor(&e),
        }
    }
}

#[expect(
    clippy::panic,
    reason = "the built-in patterns are constants covered by tests"
)]
fn unreachable_redactor(e: &StoreError) -> Redactor {
    panic!("built-in redaction patterns do not compile: {e}")
}

/// A `Serialize` view that writes `value` with secrets replaced.
struct View<'a> {
    value: &'a Value,
    redactor: &'a Redactor,
}

impl Serialize for View<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> std::result::Result<S::Ok, S::Error> {
        match self.value {
            Value::String(s) => ser.serialize_str(&self.redactor.redact_str(s)),
            Value::Array(items) => {
                let mut seq = ser.serialize_seq(Some(items.len()))?;
                for v in items {
                    seq.serialize_element(&View {
                        value: v,
                        redactor: self.redactor,
                    })?;
                }
                seq.end()
            }
            Value::Object(obj) => {
                let mut map = ser.serialize_map(Some(obj.len()))?;
                for (k, v) in obj {
                    if self.redactor.is_secret_key(k) {
                        map.serialize_entry(k, &self.redactor.replacement)?;
                    } else {
                        map.serialize_entry(
                            k,
                            &View {
                                value: v,
                                redactor: self.redactor,
                            },
                        )?;
                    }
                }
                map.end()
            }
            other => other.serialize(ser),
        }
    }
}

fn normalize_key(key: &str) -> String {
    key.chars()
        .filter(|c| !matches!(c, '-' | '_' | '.' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

fn first_line(s: &str) -> String {
    s.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(s)
        .trim()
        .to_owned()
}

impl fmt::Display for RedactionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} extra keys, {} extra patterns",
            self.extra_keys.len(),
            self.extra_patterns.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r() -> Redactor {
        Redactor::default()
    }

    fn redacted(v: &Value) -> Value {
        serde_json::from_str(&r().redact_to_string(v)).unwrap()
    }

    #[test]
    fn secret_keys_are_replaced_at_any_depth_and_in_arrays() {
        let v = json!({
            "user": "ann",
            "password": "hunter2",
            "nested": {"Api-Key": "k1", "deeper": [{"github_token": "t"}, {"ok": 1}]},
            "list": [{"Authorization": "Basic x"}, "plain"],
            "credentials": {"user": "a", "pass": "b"},
        });
        let out = redacted(&v);
        assert_eq!(
            out,
            json!({
                "user": "ann",
                "password": "[redacted]",
                "nested": {"Api-Key": "[redacted]", "deeper": [{"github_token": "[redacted]"}, {"ok": 1}]},
                "list": [{"Authorization": "[redacted]"}, "plain"],
                "credentials": "[redacted]",
            })
        );
        // The view and the copying form agree.
        assert_eq!(out, r().redact_value(&v));
    }

    #[test]
    fn key_matching_is_case_insensitive_and_not_absurd() {
        let r = r();
        for k in [
            "token",
            "TOKEN",
            "accessToken",
            "refresh_token",
            "db_password",
            "PASSWD",
            "client_secret",
            "apiKey",
            "X-API-KEY",
            "authorization",
            "Cookie",
            "set-cookie",
            "private_key",
            "aws_access_key_id",
            "credential",
            "credentials",
            "session",
            "session_id",
            "auth",
            "pwd",
        ] {
            assert!(r.is_secret_key(k), "{k} should be secret");
        }
        for k in [
            "author",
            "authority",
            "sessions_count",
            "max_tokens",
            "total_tokens",
            "token_count",
            "tokenizer",
            "keyboard",
            "monkey",
            "keys",
            "channel",
            "user_id",
            "passage",
            "description",
        ] {
            assert!(!r.is_secret_key(k), "{k} should not be secret");
        }
    }

    #[test]
    fn each_value_pattern_is_redacted_inside_strings() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        let pem =
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\nabc\n-----END RSA PRIVATE KEY-----";
        let cases = [
            (
                "curl -H 'Authorization: Bearer abc.def-123'",
                "curl -H 'Authorization: Bearer [redacted]'",
            ),
            ("bearer abcdefghijklmnopqrstuvwxyz", "bearer [redacted]"),
            ("Basic dXNlcjpwYXNzd29yZA==", "Basic [redacted]"),
            (
                &format!("token is {jwt} ok") as &str,
                "token is [redacted] ok",
            ),
            (
                &format!("key:\n{pem}\nafter") as &str,
                "key:\n[redacted]\nafter",
            ),
            ("-----BEGIN PRIVATE KEY-----\nMIIE cut off", "[redacted]"),
            ("id AKIAIOSFODNN7EXAMPLE here", "id [redacted] here"),
            ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "[redacted]"),
            (
                "github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
                "[redacted]",
            ),
            ("xoxb-1234567890-abcdefghij", "[redacted]"),
            ("sk-proj-abcdefghijklmnopqrstuvwx", "[redacted]"),
            ("sk-ant-api03-abcdefghijklmnopqrstuvwx", "[redacted]"),
            (
                "postgres://admin:s3cret@db:5432/x",
                "postgres://admin:[redacted]@db:5432/x",
            ),
        ];
        for (input, want) in cases {
            let out = redacted(&json!({"text": input, "in_array": [input]}));
            assert_eq!(out["text"], want, "input {input:?}");
            assert_eq!(out["in_array"][0], want, "input {input:?} in an array");
        }
    }

    #[test]
    fn harmless_strings_are_untouched() {
        let v = json!({"channel": "private-admin-x", "event": "sk-short", "n": 5, "b": true, "x": null,
            "text": "a basic question about bearer bonds"});
        assert_eq!(redacted(&v), v);
        assert!(matches!(
            r().redact_str("hello"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn config_adds_keys_patterns_and_replacement() {
        let r = Redactor::new(&RedactionConfig {
            extra_keys: vec!["Customer-Email".into()],
            extra_patterns: vec![r"\bACME-[0-9]{4}\b".into()],
            replacement: Some("***".into()),
        })
        .unwrap();
        let v = json!({"customer_email": "a@b.c", "note": "code ACME-1234 used", "password": 1});
        let out: Value = serde_json::from_str(&r.redact_to_string(&v)).unwrap();
        assert_eq!(
            out,
            json!({"customer_email": "***", "note": "code *** used", "password": "***"})
        );
    }

    #[test]
    fn a_bad_pattern_is_named_in_the_error() {
        let err = Redactor::new(&RedactionConfig {
            extra_patterns: vec!["(unclosed".into()],
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid redaction pattern `(unclosed`: "),
            "{err}"
        );
    }
}
