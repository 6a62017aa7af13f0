//! Which member names hold secrets.
//!
//! A name is first normalized into lower-case ASCII words: separators (`_`, `-`, `.`, space, any
//! other punctuation) and camelCase humps split words (`apiKey`, `API_KEY`, `api-key` and
//! `Api Key` are all `api` `key`); letters and digits split (`pw2` is `pw` `2`). Characters
//! outside ASCII go through the Unicode confusable skeleton (UTS #39, `unicode-security`), so a
//! Cyrillic `а` in `pаssword` or full-width `ｐａｓｓｗｏｒｄ` read as `password`, and invisible
//! characters (zero-width space, soft hyphen) vanish. Then:
//!
//! - **Strong words** match anywhere in the words run together (`dbPassword`, `x-auth-token`,
//!   `GITHUB_TOKEN`, `aws_secret_access_key`): the member is a [`KeyClass::Secret`].
//! - **Short words** (`pw`, `pin`, `auth`, `session`, `otp`, ...) match only as a whole word, so
//!   `author`, `pinned`, `spinner` and `sessions` are not secrets while `auth_header`, `new_pw`
//!   and `user_session` are.
//! - **Not the secret itself.** A name whose last word says it describes the secret rather than
//!   holding it (`session_count`, `token_type`, `password_length`, `private_key_path`,
//!   `secret_name`, `auth_url`), or whose first word makes it a yes/no (`has_password`,
//!   `is_authenticated`, `no_auth`), is plain. Tokens as counted units or cursors (`max_tokens`,
//!   `prompt_tokens`, `pageToken`, `progressToken`) and `tokenizer`, `secretary` are plain too.
//! - **Weak words** (`key`, `sig`, `signature`, `code` as the last word) hold secrets only
//!   sometimes (`sort_key`, `country_code`): [`KeyClass::Weak`], whose string value is replaced
//!   only when it looks random (see `entropy`).
//!
//! A name of more than six words with spaces in it is data (a sentence used as a key, as in a
//! translation table), not a field name, and is plain.

use aho_corasick::AhoCorasick;

/// How a member name is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyClass {
    /// Not a secret: the value is redacted only where its own content says so.
    Plain,
    /// Sometimes a secret (`key`, `signature`, `code`): a string value is replaced when it looks
    /// random.
    Weak,
    /// A secret: the whole value is replaced, whatever its type.
    Secret,
}

/// Matched anywhere in the words run together.
pub(super) const STRONG: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "passcode",
    "secret",
    "token",
    "apikey",
    "authorization",
    "authheader",
    "authcode",
    "cookie",
    "privatekey",
    "privkey",
    "accesskey",
    "signingkey",
    "encryptionkey",
    "masterkey",
    "licensekey",
    "accountkey",
    "credential",
    "creds",
    "sessionid",
    "sessid",
    "sessionkey",
    "connectionstring",
    "mnemonic",
    "seedphrase",
    "recoveryphrase",
    "mfacode",
    "verificationcode",
    "securitycode",
    "recoverycode",
    "backupcode",
];

/// Matched only as a whole word.
const SHORT: &[&str] = &[
    "pw", "pwd", "pass", "pin", "otp", "totp", "hotp", "mfa", "cvv", "cvc", "ssn", "auth",
    "session", "jwt", "bearer", "csrf", "xsrf",
];

/// A last word that makes a secret-looking name describe the secret instead of holding it.
const DESCRIBES: &[&str] = &[
    "count",
    "counts",
    "rate",
    "ratio",
    "length",
    "len",
    "size",
    "type",
    "kind",
    "format",
    "mode",
    "method",
    "methods",
    "scheme",
    "style",
    "algorithm",
    "alg",
    "enabled",
    "disabled",
    "required",
    "optional",
    "expires",
    "expiry",
    "expiration",
    "expired",
    "ttl",
    "timeout",
    "lifetime",
    "duration",
    "age",
    "at",
    "time",
    "timestamp",
    "date",
    "created",
    "updated",
    "changed",
    "rotated",
    "url",
    "uri",
    "urls",
    "endpoint",
    "host",
    "domain",
    "path",
    "file",
    "filename",
    "dir",
    "location",
    "name",
    "names",
    "label",
    "placeholder",
    "prompt",
    "policy",
    "consent",
    "rule",
    "rules",
    "strength",
    "complexity",
    "min",
    "max",
    "limit",
    "limits",
    "budget",
    "usage",
    "used",
    "status",
    "state",
    "version",
    "field",
    "fields",
    "param",
    "params",
    "provider",
    "providers",
    "server",
    "service",
    "realm",
    "scope",
    "scopes",
    "user",
    "username",
    "email",
    "env",
    "var",
    "ref",
    "arn",
    "source",
    "config",
    "settings",
    "options",
    "flow",
    "error",
    "errors",
    "message",
    "description",
    "attempts",
    "retries",
    "index",
    "level",
];

/// A first word that makes the name a yes/no about the secret (`has_password`).
const ASKS: &[&str] = &[
    "has", "is", "use", "uses", "requires", "require", "needs", "enable", "disable", "allow",
    "show", "hide", "no", "without", "should", "can", "must", "supports", "skip",
];

/// Words that, right before `token`/`tokens`, make them counted units or cursors.
const TOKEN_NOT_SECRET_BEFORE: &[&str] = &[
    "max",
    "min",
    "total",
    "num",
    "number",
    "count",
    "input",
    "output",
    "prompt",
    "completion",
    "context",
    "cached",
    "cache",
    "reasoning",
    "remaining",
    "used",
    "page",
    "next",
    "prev",
    "previous",
    "continuation",
    "sync",
    "resume",
    "progress",
    "cancellation",
    "stop",
    "eos",
    "bos",
    "pad",
    "special",
];

/// Last words that may hold a secret: the value decides.
const WEAK: &[&str] = &["key", "sig", "signature", "code"];

/// Words before a weak last word that make the value an identifier (`public_key`, `sort_key`).
const WEAK_NOT_SECRET_BEFORE: &[&str] = &[
    "public",
    "primary",
    "foreign",
    "sort",
    "partition",
    "range",
    "hash",
    "cache",
    "idempotency",
    "dedup",
    "dedupe",
    "object",
    "hot",
    "shortcut",
    "lookup",
    "group",
    "routing",
    "row",
    "unique",
    "index",
    "shard",
    "item",
    "record",
    "country",
    "language",
    "lang",
    "locale",
    "currency",
    "zip",
    "postal",
    "area",
    "status",
    "error",
    "exit",
    "return",
    "response",
    "source",
    "color",
    "colour",
];

/// A name with more words than this, and spaces, is data rather than a field name.
const MAX_NAME_WORDS: usize = 6;

/// The compiled needle set for [`STRONG`].
#[derive(Debug, Clone)]
pub(super) struct KeyRules {
    strong: AhoCorasick,
    /// User-configured names, normalized and run together; matched anywhere.
    extra: Vec<String>,
}

impl KeyRules {
    pub(super) fn new(extra: &[String]) -> Result<Self, aho_corasick::BuildError> {
        Ok(Self {
            strong: AhoCorasick::new(STRONG)?,
            extra: extra
                .iter()
                .map(|k| Words::of(k).joined)
                .filter(|k| !k.is_empty())
                .collect(),
        })
    }

    pub(super) fn classify(&self, key: &str) -> KeyClass {
        self.classify_words(&Words::of(key), key)
    }

    /// [`Self::classify`] for a name already split into words.
    pub(super) fn classify_words(&self, words: &Words, key: &str) -> KeyClass {
        if words.joined.is_empty() {
            return KeyClass::Plain;
        }
        if self.extra.iter().any(|e| words.joined.contains(e.as_str())) {
            return KeyClass::Secret;
        }
        if words.count() > MAX_NAME_WORDS && key.contains(char::is_whitespace) {
            return KeyClass::Plain;
        }
        let last = words.count() - 1;
        if words.count() > 1 && ASKS.contains(&words.word(0)) {
            return KeyClass::Plain;
        }
        // Where the last word starts, if it only describes what comes before it.
        let describes_from =
            (last > 0 && DESCRIBES.contains(&words.word(last))).then(|| words.start(last));
        let holds = |end: usize| describes_from.is_none_or(|from| end > from);
        for m in self.strong.find_overlapping_iter(&words.joined) {
            let needle = STRONG[m.pattern().as_usize()];
            if holds(m.end()) && !words.excused(needle, m.start(), m.end()) {
                return KeyClass::Secret;
            }
        }
        for i in 0..words.count() {
            if SHORT.contains(&words.word(i)) && holds(words.end(i)) {
                return KeyClass::Secret;
            }
        }
        if WEAK.contains(&words.word(last))
            && (last == 0 || !WEAK_NOT_SECRET_BEFORE.contains(&words.word(last - 1)))
        {
            return KeyClass::Weak;
        }
        KeyClass::Plain
    }
}

/// A name as lower-case ASCII words, run together in `joined`, each starting at `starts[i]`.
#[derive(Debug, Default)]
pub(super) struct Words {
    pub(super) joined: String,
    starts: Vec<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Lower,
    Upper,
    Digit,
    /// Ends a word.
    Separator,
}

impl Words {
    pub(super) fn of(name: &str) -> Self {
        let mut words = Self {
            joined: String::with_capacity(name.len()),
            starts: Vec::with_capacity(4),
        };
        let mut prev = Kind::Separator;
        // The upper-case letter just pushed, while it may still start a word (`APIKey`: `K`).
        let mut last_upper_at: Option<usize> = None;
        for c in name.chars() {
            if c.is_ascii() {
                let kind = ascii_kind(c);
                words.push(c.to_ascii_lowercase(), kind, &mut prev, &mut last_upper_at);
            } else {
                let upper = c.is_uppercase();
                let kind = if upper { Kind::Upper } else { Kind::Lower };
                let mut buf = [0u8; 4];
                for s in unicode_security::skeleton(c.encode_utf8(&mut buf)) {
                    if s.is_ascii_alphanumeric() {
                        // The skeleton's prototype for capital-I shapes is `l`.
                        let s = if upper && s == 'l' { 'i' } else { s };
                        let k = if s.is_ascii_digit() {
                            Kind::Digit
                        } else {
                            kind
                        };
                        words.push(s.to_ascii_lowercase(), k, &mut prev, &mut last_upper_at);
                    } else if !is_mark(s) {
                        words.push(' ', Kind::Separator, &mut prev, &mut last_upper_at);
                    }
                }
            }
        }
        words
    }

    fn push(&mut self, c: char, kind: Kind, prev: &mut Kind, last_upper_at: &mut Option<usize>) {
        if kind == Kind::Separator {
            *prev = Kind::Separator;
            *last_upper_at = None;
            return;
        }
        let boundary = match (*prev, kind) {
            (Kind::Separator, _) => true,
            (Kind::Lower, Kind::Upper) => true,
            (Kind::Digit, Kind::Lower | Kind::Upper) | (Kind::Lower | Kind::Upper, Kind::Digit) => {
                true
            }
            // `APIKey`: the `K` before a lower-case letter starts the next word.
            (Kind::Upper, Kind::Lower) => {
                if let Some(at) = *last_upper_at
                    && self.starts.last().is_some_and(|&s| s < at)
                {
                    self.starts.push(at);
                }
                false
            }
            _ => false,
        };
        if boundary {
            self.starts.push(self.joined.len());
        }
        *last_upper_at = (kind == Kind::Upper).then_some(self.joined.len());
        self.joined.push(c);
        *prev = kind;
    }

    fn count(&self) -> usize {
        self.starts.len()
    }

    fn start(&self, i: usize) -> usize {
        self.starts.get(i).copied().unwrap_or(self.joined.len())
    }

    fn end(&self, i: usize) -> usize {
        self.start(i + 1)
    }

    pub(super) fn word(&self, i: usize) -> &str {
        self.joined.get(self.start(i)..self.end(i)).unwrap_or("")
    }

    /// Whether this occurrence of a strong needle is a known non-secret use of it.
    fn excused(&self, needle: &str, start: usize, end: usize) -> bool {
        let before = &self.joined[..start];
        let after = &self.joined[end..];
        match needle {
            "token" => {
                after.starts_with("iz")
                    || TOKEN_NOT_SECRET_BEFORE.iter().any(|w| before.ends_with(w))
            }
            "secret" => after.starts_with("ar"),
            "password" => after.starts_with("less"),
            _ => false,
        }
    }
}

fn ascii_kind(c: char) -> Kind {
    if c.is_ascii_lowercase() {
        Kind::Lower
    } else if c.is_ascii_uppercase() {
        Kind::Upper
    } else if c.is_ascii_digit() {
        Kind::Digit
    } else {
        Kind::Separator
    }
}

/// Combining marks left by the skeleton's decomposition (`ä` is `a` and U+0308).
fn is_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}' | '\u{20D0}'..='\u{20FF}' | '\u{FE20}'..='\u{FE2F}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(name: &str) -> Vec<String> {
        let w = Words::of(name);
        (0..w.count()).map(|i| w.word(i).to_owned()).collect()
    }

    #[test]
    fn names_split_into_words_by_separators_humps_and_digits() {
        assert_eq!(words("apiKey"), ["api", "key"]);
        assert_eq!(words("APIKey"), ["api", "key"]);
        assert_eq!(words("X-API-KEY"), ["x", "api", "key"]);
        assert_eq!(
            words("aws_secret_access_key"),
            ["aws", "secret", "access", "key"]
        );
        assert_eq!(words("Auth Header"), ["auth", "header"]);
        assert_eq!(words("pw2"), ["pw", "2"]);
        assert_eq!(words("oauth2Token"), ["oauth", "2", "token"]);
        assert_eq!(words("__pin__"), ["pin"]);
        assert_eq!(words(""), Vec::<String>::new());
    }

    #[test]
    fn confusable_and_invisible_characters_read_as_their_ascii_look_alikes() {
        assert_eq!(Words::of("pаssword").joined, "password"); // Cyrillic а
        assert_eq!(Words::of("PАSSWORD").joined, "password"); // Cyrillic А
        assert_eq!(Words::of("ｐａｓｓｗｏｒｄ").joined, "password");
        assert_eq!(Words::of("pass\u{200b}word").joined, "password");
        assert_eq!(Words::of("pässwörd").joined, "password");
        assert_eq!(Words::of("ΡΙΝ").joined, "pin"); // Greek capitals
    }
}
