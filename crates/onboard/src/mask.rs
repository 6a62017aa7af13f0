//! What is a secret in a server entry, so diffs and listings never show one.
//!
//! - every value of an `env` or `headers` object;
//! - in `args`: the value of a flag whose name says secret (`--token=…`, `--api-key …`,
//!   `-p …` is not guessed at), and an argument that is itself a URL with credentials;
//! - in `args`, `url` and `serverUrl`: a URL's password (`https://user:…@host`) and the values
//!   of query parameters whose names say secret (`?api_key=…`);
//! - anywhere in `args`: a value with the prefix of a well-known token format (`ghp_`,
//!   `sk_live_`, `xoxb-`, …), whatever flag carries it.
//!
//! A flag's name says secret when one of its words (split at `-`, `_`, `.`) is a secret word
//! (`token`, `key`, `password`, …) or it is a run-together one (`apikey`, `authtoken`). Masking
//! too much only hides a harmless value from a diff; masking too little shows a secret, so the
//! words are broad.

use jsonc_parser::cst::{CstInputValue, CstObject};

/// What a masked secret shows as.
pub const MASK: &str = "********";

const SECRET_WORDS: &[&str] = &[
    "token",
    "secret",
    "password",
    "passwd",
    "pwd",
    "pass",
    "key",
    "apikey",
    "auth",
    "authorization",
    "credential",
    "credentials",
    "bearer",
    "pat",
    "authtoken",
    "accesstoken",
    "privatekey",
    "clientsecret",
    "cookie",
    "session",
];

/// Prefixes of token formats that are secrets wherever they appear.
const TOKEN_PREFIXES: &[&str] = &[
    "ghp_",
    "gho_",
    "ghs_",
    "github_pat_",
    "glpat-",
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "sk-",
    "xoxb-",
    "xoxp-",
    "xapp-",
    "AKIA",
    "Bearer ",
];

/// Whether a flag or parameter name says its value is a secret.
pub fn is_secret_name(name: &str) -> bool {
    let name = name.trim_start_matches('-').to_ascii_lowercase();
    name.split(['-', '_', '.'])
        .any(|word| SECRET_WORDS.contains(&word))
}

fn looks_like_token(value: &str) -> bool {
    TOKEN_PREFIXES
        .iter()
        .any(|p| value.starts_with(p) && value.len() > p.len() + 3)
}

/// `url` with its password and secret query values masked; `None` when nothing is secret in it
/// (or it is not a URL).
pub fn mask_url(text: &str) -> Option<String> {
    let mut url = url::Url::parse(text).ok()?;
    if url.cannot_be_a_base() {
        return None;
    }
    let mut changed = false;
    if url.password().is_some() {
        changed |= url.set_password(Some(MASK)).is_ok();
    }
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if pairs.iter().any(|(k, _)| is_secret_name(k)) {
            changed = true;
            let mut query = url.query_pairs_mut();
            query.clear();
            for (k, v) in &pairs {
                let shown = if is_secret_name(k) { MASK } else { v.as_str() };
                query.append_pair(k, shown);
            }
        }
    }
    // The `url` crate escapes the mask's `*` in neither place, so the text reads as written.
    changed.then(|| url.to_string())
}

/// `args` with every secret masked (the module's rules). Returns the same length.
pub fn mask_args(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut next_is_secret = false;
    for arg in args {
        if next_is_secret && !arg.starts_with('-') {
            out.push(MASK.to_string());
            next_is_secret = false;
            continue;
        }
        next_is_secret = false;
        if arg.starts_with('-') {
            match arg.split_once('=') {
                Some((flag, value)) if is_secret_name(flag) && !value.is_empty() => {
                    out.push(format!("{flag}={MASK}"));
                }
                Some((flag, value)) => match mask_url(value) {
                    Some(masked) => out.push(format!("{flag}={masked}")),
                    None if looks_like_token(value) => out.push(format!("{flag}={MASK}")),
                    None => out.push(arg.clone()),
                },
                None => {
                    next_is_secret = arg.starts_with("--") && is_secret_name(arg);
                    out.push(arg.clone());
                }
            }
            continue;
        }
        if let Some(masked) = mask_url(arg) {
            out.push(masked);
        } else if looks_like_token(arg) {
            out.push(MASK.to_string());
        } else if let Some((name, _)) = arg
            .split_once(':')
            .filter(|(n, v)| !v.trim().is_empty() && is_secret_name(n.trim()))
        {
            // `Authorization: Bearer …`, `X-API-Key: …` (a header given as an argument).
            out.push(format!("{name}: {MASK}"));
        } else if let Some((name, _)) = arg.split_once('=').filter(|(n, v)| {
            // `API_KEY=…` as an argument (`env API_KEY=… server`).
            !n.contains('/') && !v.is_empty() && is_secret_name(n)
        }) {
            out.push(format!("{name}={MASK}"));
        } else {
            out.push(arg.clone());
        }
    }
    out
}

/// Masks, in place, every secret under `object` (recursively): `env` and `headers` values,
/// secrets in `args`, `url` and `serverUrl`.
pub fn mask_object(object: &CstObject) {
    for prop in object.properties() {
        let key = prop.name().and_then(|n| n.decoded_value().ok());
        match key.as_deref() {
            Some("env" | "headers") => {
                if let Some(child) = prop.object_value() {
                    for secret in child.properties() {
                        secret.set_value(CstInputValue::String(MASK.into()));
                    }
                }
            }
            Some("args") => {
                let Some(array) = prop.array_value() else {
                    continue;
                };
                let elements = array.elements();
                let texts: Vec<Option<String>> = elements
                    .iter()
                    .map(|e| e.as_string_lit().and_then(|s| s.decoded_value().ok()))
                    .collect();
                let plain: Vec<String> = texts
                    .iter()
                    .map(|t| t.clone().unwrap_or_default())
                    .collect();
                let masked = mask_args(&plain);
                for ((element, text), shown) in elements.into_iter().zip(&texts).zip(masked) {
                    if text.as_ref().is_some_and(|t| *t != shown)
                        && let Some(lit) = element.as_string_lit()
                    {
                        lit.replace_with(CstInputValue::String(shown));
                    }
                }
            }
            Some("url" | "serverUrl") => {
                let text = prop
                    .value()
                    .and_then(|v| v.as_string_lit())
                    .and_then(|s| s.decoded_value().ok());
                if let Some(masked) = text.as_deref().and_then(mask_url) {
                    prop.set_value(CstInputValue::String(masked));
                }
            }
            _ => {
                if let Some(child) = prop.object_value() {
                    mask_object(&child);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        mask_args(&list.iter().map(|s| (*s).to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn flags_that_name_a_secret_have_their_values_masked() {
        assert_eq!(
            args(&[
                "-y",
                "server",
                "--token=abc123",
                "--api-key",
                "k-9",
                "--port",
                "80"
            ]),
            [
                "-y",
                "server",
                "--token=********",
                "--api-key",
                "********",
                "--port",
                "80"
            ]
        );
        assert_eq!(
            args(&[
                "--access_token",
                "t",
                "--client-secret=s",
                "--db-password",
                "p"
            ]),
            [
                "--access_token",
                "********",
                "--client-secret=********",
                "--db-password",
                "********"
            ]
        );
        // A flag naming a secret followed by another flag carries no value.
        assert_eq!(args(&["--auth", "--verbose"]), ["--auth", "--verbose"]);
        assert_eq!(args(&["GITHUB_TOKEN=ghx"]), ["GITHUB_TOKEN=********"]);
    }

    #[test]
    fn urls_lose_their_passwords_and_secret_query_values() {
        assert_eq!(
            args(&["postgresql://app:hunter2@db.local:5432/shop"]),
            ["postgresql://app:********@db.local:5432/shop"]
        );
        assert_eq!(
            args(&["--url=https://h.example/mcp?api_key=s3&region=eu"]),
            ["--url=https://h.example/mcp?api_key=********&region=eu"]
        );
        assert_eq!(mask_url("https://h.example/mcp?region=eu"), None);
        assert_eq!(mask_url("not a url"), None);
    }

    #[test]
    fn well_known_token_formats_are_masked_wherever_they_are() {
        assert_eq!(
            args(&["--header", "ghp_abcdefghijkl", "-H=sk_live_123456"]),
            ["--header", "********", "-H=********"]
        );
        assert_eq!(
            args(&["--header", "Authorization: Bearer abc", "X-Api-Key:k"]),
            ["--header", "Authorization: ********", "X-Api-Key: ********"]
        );
    }

    #[test]
    fn ordinary_arguments_are_left_alone() {
        let plain = [
            "-y",
            "@modelcontextprotocol/server-filesystem",
            "/home/me/src",
            "--port=8080",
            "./server.js",
            "mcp-server-git",
            "--repository",
            "/src/app",
        ];
        assert_eq!(args(&plain), plain);
    }
}
