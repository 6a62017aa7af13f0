//! Redaction of secrets before anything is stored, and the canonical argument hash (`canonical`).
//!
//! Applied to every JSON value the store writes for a call or an approval, and by the gate to
//! the arguments it shows a human. What is matched, and why:
//!
//! - **By member name** (`keys`). A member whose name holds a secret (`password`, `token`,
//!   `api_key`, `Authorization`, `cookie`, `private_key`, `pw`, `pin`, `auth_header`, ...) has its
//!   whole value replaced, whatever its type. Names are compared as words, after case,
//!   separators, camelCase and Unicode confusables are normalized (`X-Api-Key`, `apiKey`,
//!   `pаssword` with a Cyrillic `а`); short words match only whole, and names that describe a
//!   secret rather than hold it (`author`, `pinned`, `session_count`, `max_tokens`, `token_type`)
//!   keep their values. A weak name (`key`, `signature`, `code`) has a string value replaced
//!   only when it looks random (`entropy`). A `{"name": "DB_PASSWORD", "value": "..."}` pair
//!   redacts its `value` (`walk`).
//! - **By value pattern** (`patterns`), inside any string: `Authorization` and `Cookie` headers
//!   (any scheme, keeping the scheme), `Bearer`/`Basic`/`Token` credentials outside headers,
//!   JWTs, PEM private keys, AWS access key ids, GitHub, GitLab, Slack, Stripe, Google,
//!   OpenAI/Anthropic-style `sk-`, npm, PyPI, Hugging Face, SendGrid, Shopify, DigitalOcean and
//!   age keys, passwords in URLs and in `curl -u`. Only the secret is replaced, so
//!   `curl -H 'Authorization: Bearer abc' https://x` stays readable.
//! - **By assigned name** (`assign`), inside any string: `a=1&password=x`,
//!   `AWS_SECRET_ACCESS_KEY=...`, `password: x`, `"token": "x"` (also with escaped quotes) and
//!   `--token x`, with names judged as member names are.
//! - **Nested data** (`text`): a string that is JSON text, or holds percent-encoded parts, is
//!   decoded, redacted inside and encoded back the same way, so JSON stays JSON and a URL stays
//!   a URL with only the secret replaced. Depth and size are bounded (see `text`); what is
//!   nested deeper than the bound is replaced whole.
//!
//! Secrets in forms the rules cannot see (base64 of a secret, a password in prose without a
//! name) are not found: redaction keeps the history from holding secrets in the usual shapes;
//! it is not a promise that no secret is ever stored.
//!
//! [`RedactionConfig`] adds names and regular expressions (from the user's config). The
//! replacement text is [`REDACTED`] unless configured.
//!
//! [`Redactor::redact_to_string`] writes the JSON text directly from the caller's value (a
//! `Serialize` view), so the per-call path builds no second copy of the arguments, and strings
//! with nothing to redact are not copied either.
//!
//! [`canonical_args_hash`] is computed over the *unredacted* arguments: two calls with different
//! secrets are different calls.

use std::borrow::Cow;
use std::fmt;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Result, StoreError};

mod assign;
mod canonical;
mod entropy;
mod keys;
mod patterns;
mod text;
mod walk;

pub use canonical::{canonical_args_hash, canonical_json};
pub use keys::KeyClass;
pub use text::{MAX_DECODE_BYTES, MAX_DEPTH, MAX_LAYERS};

/// The default replacement text.
pub const REDACTED: &str = "[redacted]";

/// User settings for redaction, as read from the config file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedactionConfig {
    /// More member names treated as secrets (compared normalized, as substrings).
    pub extra_keys: Vec<String>,
    /// More regular expressions whose matches inside strings are replaced.
    pub extra_patterns: Vec<String>,
    /// Replacement text; `[redacted]` when unset.
    pub replacement: Option<String>,
}

/// A compiled redaction rule set. Cheap to share (`Arc`) and to apply.
#[derive(Debug, Clone)]
pub struct Redactor {
    keys: keys::KeyRules,
    patterns: patterns::Patterns,
    /// Finds `name=value`, `name: value` and `--flag value` candidates (`assign`).
    candidate: Regex,
    /// Finds percent-encoded runs (`text`).
    percent_run: Regex,
    replacement: String,
    /// `replacement` as it is written into form data.
    form_replacement: String,
}

impl Redactor {
    /// Compiles the defaults plus `config`. A bad extra pattern is an error naming it.
    pub fn new(config: &RedactionConfig) -> Result<Self> {
        for pattern in &config.extra_patterns {
            Regex::new(pattern).map_err(|e| StoreError::BadPattern {
                pattern: pattern.clone(),
                detail: first_line(&e.to_string()),
            })?;
        }
        let built_in = |e: &dyn fmt::Display| StoreError::BadPattern {
            pattern: String::new(),
            detail: first_line(&e.to_string()),
        };
        let replacement = config
            .replacement
            .clone()
            .unwrap_or_else(|| REDACTED.to_owned());
        Ok(Self {
            keys: keys::KeyRules::new(&config.extra_keys).map_err(|e| built_in(&e))?,
            patterns: patterns::Patterns::new(&config.extra_patterns).map_err(|e| built_in(&e))?,
            candidate: Regex::new(assign::CANDIDATE).map_err(|e| built_in(&e))?,
            percent_run: Regex::new(text::PERCENT_RUN).map_err(|e| built_in(&e))?,
            form_replacement: text::form_encoded(&replacement),
            replacement,
        })
    }

    /// How a member with this name is treated.
    pub fn key_class(&self, key: &str) -> KeyClass {
        self.keys.classify(key)
    }

    /// Whether a member with this name has its whole value replaced.
    pub fn is_secret_key(&self, key: &str) -> bool {
        self.key_class(key) == KeyClass::Secret
    }

    /// Replaces the secrets in a string, looking inside JSON text and percent-encoded parts;
    /// borrows when nothing matches (the usual case).
    pub fn redact_str<'a>(&self, s: &'a str) -> Cow<'a, str> {
        self.text(s, text::Level::TOP)
    }

    /// The redacted JSON text of `value`, written without copying the value first.
    pub fn redact_to_string(&self, value: &Value) -> String {
        let view = walk::View {
            value,
            redactor: self,
            level: text::Level::TOP,
        };
        // Serializing a `serde_json::Value` view cannot fail (all keys are strings); if it did,
        // nothing of the value is kept.
        serde_json::to_string(&view).unwrap_or_else(|_| {
            serde_json::to_string(&self.replacement).unwrap_or_else(|_| "null".into())
        })
    }

    /// A redacted copy of `value`.
    pub fn redact_value(&self, value: &Value) -> Value {
        let mut copy = value.clone();
        self.in_place(&mut copy, text::Level::TOP);
        copy
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
mod tests;
