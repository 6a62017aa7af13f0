//! Value patterns: secrets recognized by their shape, wherever they sit in a string.
//!
//! Written for Airlock from the token formats their issuers document; each pattern anchors on
//! a fixed prefix or a header name, so ordinary text does not match. A pattern with a `secret`
//! group replaces only that group (`Authorization: Bearer [redacted]` keeps its scheme); the
//! others replace the whole match. Word boundaries are ASCII (`(?-u:\b)`) so the matcher stays
//! on its fast path for text in any language.

use std::borrow::Cow;

use base64::Engine as _;
use regex::{Captures, Regex, RegexSet};

/// When a match counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Always.
    Always,
    /// An authorization scheme outside a header (`Bearer x`): see [`scheme_credential`].
    Scheme,
    /// An `Authorization` header: unless its scheme is a known one, lower-case words of prose
    /// after it ("Authorization: required for all endpoints") are not a credential.
    Header,
}

/// Authorization schemes in use (the IANA registry and common vendor ones), lower case.
const AUTH_SCHEMES: &[&str] = &[
    "bearer",
    "basic",
    "token",
    "digest",
    "negotiate",
    "ntlm",
    "apikey",
    "api-key",
    "key",
    "sso-key",
    "ssws",
    "hoba",
    "mutual",
    "vapid",
    "dpop",
    "gnap",
    "privatetoken",
    "oauth",
    "splunk",
    "aws4-hmac-sha256",
];

pub(super) fn is_auth_scheme(word: &str) -> bool {
    AUTH_SCHEMES.iter().any(|s| s.eq_ignore_ascii_case(word))
}

/// A built-in pattern: (name, check, regex).
const BUILT_IN: &[(&str, Check, &str)] = &[
    (
        "pem_private_key",
        Check::Always,
        r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----(?s:.*?)(?:-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|\z)",
    ),
    // Any scheme (Bearer, Basic, Token, Digest, ...) or none, after the header name: the rest of
    // the header value, or Digest's `name="value", ...` list.
    (
        "authorization_header",
        Check::Header,
        r#"(?i:(?-u:\b)(?:proxy-)?authorization)(?:\\*["'])?[ \t]*[:=][ \t]*(?:\\*["'])?(?:(?P<scheme>[A-Za-z][A-Za-z0-9_-]*)[ \t]+)?(?P<secret>(?:[A-Za-z0-9_-]+=(?:"[^"\r\n]*"|[^\s,"]+)(?:,[ \t]*)?){2,}|[^\s"'`\\][^\r\n"'`\\]*)"#,
    ),
    (
        "cookie_header",
        Check::Always,
        r#"(?i:(?-u:\b)(?:set-)?cookie)(?:\\*["'])?[ \t]*:[ \t]*(?:\\*["'])?(?P<secret>[^\s"'`\\][^\r\n"'`\\]*)"#,
    ),
    (
        "authorization_scheme",
        Check::Scheme,
        r"(?P<scheme>(?-u:\b)(?i:bearer|basic|token|api-?key))[ \t]+(?P<secret>[A-Za-z0-9\-._~+/]+=*)",
    ),
    (
        "curl_user_password",
        Check::Always,
        r#"(?:^|[\s"'])(?:-u|--user)[ \t]+(?:\\*["'])?[^\s:"'\\]+:(?P<secret>[^\s"'\\]+)"#,
    ),
    (
        "url_password",
        Check::Always,
        r#"(?i)(?-u:\b)[a-z][a-z0-9+.-]*://[^/\s:@"'<>]+:(?P<secret>[^/\s@"'<>]+)@"#,
    ),
    (
        "jwt",
        Check::Always,
        r"(?-u:\b)eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*",
    ),
    (
        "aws_access_key_id",
        Check::Always,
        r"(?-u:\b)(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)[A-Z0-9]{16}(?-u:\b)",
    ),
    (
        "github_token",
        Check::Always,
        r"(?-u:\b)(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})",
    ),
    (
        "gitlab_token",
        Check::Always,
        r"(?-u:\b)glpat-[A-Za-z0-9_-]{20,}",
    ),
    (
        "slack_token",
        Check::Always,
        r"(?-u:\b)(?:xox[abposre]-[A-Za-z0-9-]{10,}|xapp-[0-9]-[A-Za-z0-9-]{10,})",
    ),
    (
        "slack_webhook",
        Check::Always,
        r"hooks\.slack\.com/services/(?P<secret>[A-Za-z0-9/]{20,})",
    ),
    (
        "stripe_key",
        Check::Always,
        r"(?-u:\b)(?:(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}|whsec_[A-Za-z0-9]{20,})",
    ),
    (
        "google_key",
        Check::Always,
        r"(?-u:\b)(?:AIza[0-9A-Za-z_-]{35}|ya29\.[0-9A-Za-z_-]{20,}|GOCSPX-[0-9A-Za-z_-]{20,})",
    ),
    // OpenAI (`sk-`, `sk-proj-`), Anthropic (`sk-ant-`) and the many APIs that copied the form.
    (
        "sk_api_key",
        Check::Always,
        r"(?-u:\b)sk-[A-Za-z0-9_-]{20,}",
    ),
    (
        "package_registry_token",
        Check::Always,
        r"(?-u:\b)(?:npm_[A-Za-z0-9]{36}|pypi-AgE[A-Za-z0-9_-]{50,})",
    ),
    (
        "huggingface_token",
        Check::Always,
        r"(?-u:\b)hf_[A-Za-z0-9]{30,}",
    ),
    (
        "sendgrid_key",
        Check::Always,
        r"(?-u:\b)SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}",
    ),
    (
        "shopify_token",
        Check::Always,
        r"(?-u:\b)shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}",
    ),
    (
        "digitalocean_token",
        Check::Always,
        r"(?-u:\b)do[opr]_v1_[a-f0-9]{64}",
    ),
    (
        "age_secret_key",
        Check::Always,
        r"AGE-SECRET-KEY-1[0-9A-Z]{58}",
    ),
];

/// Compiled patterns: a set to learn in one pass which ones match, then each one that does.
#[derive(Debug, Clone)]
pub(super) struct Patterns {
    set: RegexSet,
    each: Vec<(Regex, Check)>,
}

impl Patterns {
    /// The built-in patterns and `extra` (each already checked to compile).
    pub(super) fn new(extra: &[String]) -> Result<Self, regex::Error> {
        let mut sources: Vec<&str> = BUILT_IN.iter().map(|(_, _, re)| *re).collect();
        sources.extend(extra.iter().map(String::as_str));
        let each = sources
            .iter()
            .enumerate()
            .map(|(i, re)| {
                let check = BUILT_IN.get(i).map_or(Check::Always, |(_, c, _)| *c);
                Regex::new(re).map(|r| (r, check))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            set: RegexSet::new(&sources)?,
            each,
        })
    }

    /// `s` with every match replaced; borrowed when nothing matched.
    pub(super) fn apply<'a>(&self, s: &'a str, replacement: &str) -> Cow<'a, str> {
        let matched = self.set.matches(s);
        if !matched.matched_any() {
            return Cow::Borrowed(s);
        }
        let mut out = Cow::Borrowed(s);
        for i in matched.iter() {
            let Some((re, check)) = self.each.get(i) else {
                continue;
            };
            let mut changed = false;
            let hay: &str = &out;
            let next = re.replace_all(hay, |caps: &Captures<'_>| {
                let (new, did) = replace_one(hay, caps, *check, replacement);
                changed |= did;
                new
            });
            if let (true, Cow::Owned(next)) = (changed, next) {
                out = Cow::Owned(next);
            }
        }
        out
    }
}

/// The replacement for one match, and whether it differs from the match.
fn replace_one(hay: &str, caps: &Captures<'_>, check: Check, replacement: &str) -> (String, bool) {
    let Some(all) = caps.get(0) else {
        return (String::new(), false);
    };
    let whole = all.as_str();
    let Some(secret) = caps.name("secret") else {
        return (replacement.to_owned(), whole != replacement);
    };
    let counts = match check {
        Check::Always => true,
        Check::Scheme => scheme_credential(hay, caps, secret.as_str()),
        Check::Header => {
            caps.name("scheme")
                .is_none_or(|s| is_auth_scheme(s.as_str()))
                || !super::entropy::reads_as_prose(secret.as_str())
        }
    };
    if secret.as_str().starts_with(replacement) || !counts {
        return (whole.to_owned(), false);
    }
    let start = secret.start() - all.start();
    let end = secret.end() - all.start();
    (
        format!("{}{replacement}{}", &whole[..start], &whole[end..]),
        true,
    )
}

/// Whether `cred` after an authorization scheme outside a header is a credential rather than a
/// word of prose ("Bearer tokens are ..."). Basic credentials are base64 of `user:password`;
/// others need a digit, `+`, `/` or `=`, mixed case, or 20 letters. A value that is nothing but
/// `Bearer <word>` is a header value, whatever the word.
fn scheme_credential(hay: &str, caps: &Captures<'_>, cred: &str) -> bool {
    let (Some(scheme), Some(secret)) = (caps.name("scheme"), caps.name("secret")) else {
        return false;
    };
    let (start, end) = (scheme.start(), secret.end());
    let scheme = scheme.as_str();
    if scheme.eq_ignore_ascii_case("basic") && decodes_to_user_password(cred) {
        return true;
    }
    let b = cred.as_bytes();
    let marked = b
        .iter()
        .any(|c| c.is_ascii_digit() || matches!(c, b'+' | b'/' | b'='));
    let mixed =
        b.iter().skip(1).any(u8::is_ascii_uppercase) && b.iter().any(u8::is_ascii_lowercase);
    if b.len() >= 8 && (marked || mixed) || b.len() >= 20 {
        return true;
    }
    scheme.eq_ignore_ascii_case("bearer") && whole_value(hay, start, end)
}

fn decodes_to_user_password(cred: &str) -> bool {
    base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT
        .decode(cred)
        .is_ok_and(|d| d.len() >= 3 && d.contains(&b':') && d.iter().all(|c| !c.is_ascii_control()))
}

/// Whether `hay[start..end]` is a whole value: the whole string, a whole line, or a whole
/// quoted or assigned value (`"h": "Bearer x"`, `h=Bearer x`).
fn whole_value(hay: &str, start: usize, end: usize) -> bool {
    let before = hay[..start].trim_end_matches([' ', '\t']);
    let after = &hay[end..];
    let opens = before
        .chars()
        .next_back()
        .is_none_or(|c| matches!(c, '"' | '\'' | '`' | ':' | '=' | '\n' | '(' | '[' | '{'));
    let closes = after
        .chars()
        .next()
        .is_none_or(|c| matches!(c, '"' | '\'' | '`' | '\r' | '\n' | ')' | ']' | '}' | '\\'));
    opens && closes
}
