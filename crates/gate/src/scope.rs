//! What a remembered decision covers, and how that is said in words.
//!
//! A human who answers "yes, for 10 minutes" answers for one agent, one server, one tool and,
//! unless they widen it, the same arguments:
//!
//! - **who**: the grant when the agent sent a token. A tokenless agent has no identity Airlock
//!   can check, so "for this session" is scoped to its session and timed or "always" decisions to
//!   the client name it declared (`clientInfo.name`), never to every tokenless agent.
//! - **which arguments**: [`ArgsChoice::Same`] by default, matched by the canonical argument hash
//!   the approval request already carries (`airlock_store::canonical_args_hash`); the human may
//!   widen to [`ArgsChoice::Any`] or to a path argument under a directory ([`ArgsChoice::Under`]).
//!
//! A path pattern is matched on lexically normalized absolute paths (`.` and `..` resolved,
//! repeated separators folded, case folded where the host ignores case): `/work/a/../secret` is
//! not under `/work/a`. A relative path or one that cannot be normalized never matches, so such a
//! call asks again (fail closed).

use airlock_policy::PathContext;
use serde::Serialize;
use serde_json::{Value, json};

pub use crate::error::ScopeError;
use crate::identity::{UNNAMED_CLIENT, agent_label, is_tokenless};

/// How long a human decision holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "minutes")]
pub enum Remember {
    /// This request only.
    Once,
    /// Identical-scope calls for the next N minutes.
    Minutes(u32),
    /// Calls from the same agent session.
    Session,
    /// Until revoked.
    Always,
}

/// Which arguments a human's remembered answer covers, as they chose it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ArgsChoice {
    /// Exactly the arguments of the call on screen (the default).
    #[default]
    Same,
    /// Any arguments: chosen explicitly, never implied.
    Any,
    /// Calls whose string argument `argument` is a path at or below `path`.
    Under { argument: String, path: String },
}

/// Which arguments a remembered rule matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ArgMatch {
    /// Calls whose canonical argument hash is this one.
    Exact {
        args_hash: String,
    },
    Any,
    /// `path` is stored normalized.
    Under {
        argument: String,
        path: String,
    },
}

/// Lexical normalization for argument patterns: no bases (relative paths fail), no resolver.
fn normalize(raw: &str) -> Result<String, String> {
    let paths = PathContext::builder().build().map_err(|e| e.to_string())?;
    let mut forms = paths.normalize(raw).map_err(|e| e.to_string())?;
    match (forms.pop(), forms.is_empty()) {
        (Some(one), true) => Ok(one),
        _ => Err("it has more than one normal form".to_owned()),
    }
}

fn is_under(path: &str, dir: &str) -> bool {
    path == dir
        || dir == "/"
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

impl ArgMatch {
    /// The match for `choice`, checked against the call it is made from (`arguments` as the
    /// agent sent them, `args_hash` their canonical hash): a pattern must cover that call.
    pub fn from_choice(
        choice: &ArgsChoice,
        arguments: &Value,
        args_hash: &str,
    ) -> Result<Self, ScopeError> {
        Ok(match choice {
            ArgsChoice::Same => ArgMatch::Exact {
                args_hash: args_hash.to_owned(),
            },
            ArgsChoice::Any => ArgMatch::Any,
            ArgsChoice::Under { argument, path } => {
                let dir = normalize(path).map_err(|detail| ScopeError::BadPath {
                    path: path.clone(),
                    detail,
                })?;
                let value = arguments
                    .get(argument)
                    .and_then(Value::as_str)
                    .ok_or_else(|| ScopeError::NoArgument(argument.clone()))?;
                let covered = normalize(value).is_ok_and(|v| is_under(&v, &dir));
                if !covered {
                    return Err(ScopeError::NotCovered {
                        argument: argument.clone(),
                        value: value.to_owned(),
                        path: path.clone(),
                    });
                }
                ArgMatch::Under {
                    argument: argument.clone(),
                    path: dir,
                }
            }
        })
    }

    pub fn matches(&self, arguments: &Value, args_hash: &str) -> bool {
        match self {
            ArgMatch::Exact { args_hash: h } => h == args_hash,
            ArgMatch::Any => true,
            ArgMatch::Under { argument, path } => arguments
                .get(argument)
                .and_then(Value::as_str)
                .and_then(|v| normalize(v).ok())
                .is_some_and(|v| is_under(&v, path)),
        }
    }

    /// "with these arguments", "with any arguments", "with `path` under `/work`".
    pub fn describe(&self) -> String {
        match self {
            ArgMatch::Exact { .. } => "with these arguments only".to_owned(),
            ArgMatch::Any => "with any arguments".to_owned(),
            ArgMatch::Under { argument, path } => format!("with `{argument}` under `{path}`"),
        }
    }

    /// The stored form (`remembered.arg_match`); `None` is "any arguments".
    pub fn to_store(&self) -> Option<Value> {
        match self {
            ArgMatch::Exact { args_hash } => Some(json!({ "argsHash": args_hash })),
            ArgMatch::Any => None,
            ArgMatch::Under { argument, path } => {
                Some(json!({ "under": { "argument": argument, "path": path } }))
            }
        }
    }

    /// Reads the stored form back; `None` for a shape this build does not know (the rule is then
    /// not applied: an unknown scope must not become "any arguments").
    pub fn from_store(stored: Option<&Value>) -> Option<Self> {
        let Some(stored) = stored else {
            return Some(ArgMatch::Any);
        };
        if let Some(hash) = stored.get("argsHash").and_then(Value::as_str) {
            return Some(ArgMatch::Exact {
                args_hash: hash.to_owned(),
            });
        }
        let under = stored.get("under")?;
        Some(ArgMatch::Under {
            argument: under.get("argument")?.as_str()?.to_owned(),
            path: under.get("path")?.as_str()?.to_owned(),
        })
    }
}

/// Who a remembered decision covers, in words: `grant `ci``, `the client `claude-code` without a
/// token`, `this session of claude-code (no token)`.
pub fn describe_who(grant: &str, client: Option<&str>, session_only: bool) -> String {
    let label = agent_label(grant, client);
    if session_only {
        return format!("this session of {label}");
    }
    if is_tokenless(grant) {
        let name = client.filter(|c| !c.trim().is_empty());
        format!(
            "any tokenless agent that says it is `{}`",
            name.unwrap_or(UNNAMED_CLIENT)
        )
    } else {
        format!("grant `{grant}`")
    }
}

/// How long, in words.
pub fn describe_duration(remember: Remember) -> String {
    match remember {
        Remember::Once => "this request only".to_owned(),
        Remember::Minutes(m) => format!("for {m} min"),
        Remember::Session => "until the session ends".to_owned(),
        Remember::Always => "until revoked".to_owned(),
    }
}

/// The whole scope in one sentence, e.g. "approve `delete_entities` on `memory` for any
/// tokenless agent that says it is `claude-code`, with these arguments only, for 10 min".
pub fn describe(
    approve: bool,
    who: &str,
    server: &str,
    tool: &str,
    args: &ArgMatch,
    duration: &str,
) -> String {
    let verb = if approve { "approve" } else { "deny" };
    format!(
        "{verb} `{tool}` on `{server}` for {who}, {}, {duration}",
        args.describe()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_arguments_are_the_default_and_match_by_hash() {
        let args = json!({"names": ["Ada"]});
        let m = ArgMatch::from_choice(&ArgsChoice::default(), &args, "h1").unwrap();
        assert!(m.matches(&args, "h1"));
        assert!(!m.matches(&json!({"names": ["Bob"]}), "h2"));
        assert_eq!(ArgMatch::from_store(m.to_store().as_ref()), Some(m));
    }

    #[test]
    fn a_path_pattern_holds_after_normalization_and_fails_closed() {
        let call = json!({"path": "/work/a/notes.txt"});
        let choice = ArgsChoice::Under {
            argument: "path".into(),
            path: "/work/a/".into(),
        };
        let m = ArgMatch::from_choice(&choice, &call, "h").unwrap();
        assert_eq!(m.describe(), "with `path` under `/work/a`");
        assert!(m.matches(&json!({"path": "/work/a/b//c.txt"}), "x"));
        assert!(m.matches(&json!({"path": "/work/a"}), "x"));
        assert!(!m.matches(&json!({"path": "/work/a/../secret/k"}), "x"));
        assert!(!m.matches(&json!({"path": "/work/ab/k"}), "x"));
        assert!(!m.matches(&json!({"path": "a/k"}), "x"), "relative: asks");
        assert!(!m.matches(&json!({"path": 7}), "x"));
        assert!(!m.matches(&json!({}), "x"));
        assert_eq!(ArgMatch::from_store(m.to_store().as_ref()), Some(m));

        let elsewhere = json!({"path": "/etc/passwd"});
        assert!(matches!(
            ArgMatch::from_choice(&choice, &elsewhere, "h"),
            Err(ScopeError::NotCovered { .. })
        ));
        let relative = ArgsChoice::Under {
            argument: "path".into(),
            path: "work".into(),
        };
        assert!(matches!(
            ArgMatch::from_choice(&relative, &call, "h"),
            Err(ScopeError::BadPath { .. })
        ));
    }

    #[test]
    fn an_unknown_stored_shape_is_not_any_arguments() {
        assert_eq!(ArgMatch::from_store(None), Some(ArgMatch::Any));
        assert_eq!(ArgMatch::from_store(Some(&json!({"regex": ".*"}))), None);
    }

    #[test]
    fn scopes_read_as_sentences() {
        let who = describe_who("default", Some("claude-code"), false);
        let text = describe(
            true,
            &who,
            "memory",
            "delete_entities",
            &ArgMatch::Exact {
                args_hash: "h".into(),
            },
            &describe_duration(Remember::Minutes(10)),
        );
        assert_eq!(
            text,
            "approve `delete_entities` on `memory` for any tokenless agent that says it is \
             `claude-code`, with these arguments only, for 10 min"
        );
        assert_eq!(
            describe_who("default", Some("claude-code"), true),
            "this session of claude-code (no token)"
        );
        assert_eq!(describe_who("ci", Some("x"), false), "grant `ci`");
    }
}
