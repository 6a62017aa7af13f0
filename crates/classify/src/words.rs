//! The word tables the rules match against: the rule table of `docs/classify.md`, in code.
//!
//! Every word here is a general English (or HTTP, or shell) word for what a tool does or acts on;
//! none is a particular server's tool name. A test checks that `docs/classify.md` lists each one.

use crate::Class;

/// Verbs in a tool's name (weight 3 each) and as the first verb of its description (weight 2).
#[rustfmt::skip]
pub const VERBS: &[(Class, &[&str])] = &[
    (Class::Read, &[
        "get", "list", "read", "search", "find", "fetch", "query", "show", "describe", "view",
        "inspect", "lookup", "count", "check", "diff", "log", "logs", "explain", "browse",
        "retrieve", "preview", "echo", "validate", "verify", "compare", "calculate", "compute",
        "convert", "resolve", "snapshot", "screenshot", "capture", "print", "return", "wait",
        "ping", "analyze", "summarize", "download", "extract", "parse", "render", "scrape", "crawl",
        "navigate", "visit", "geocode", "translate", "estimate", "discover", "poll",
    ]),
    (Class::Write, &[
        "create", "add", "update", "edit", "write", "set", "insert", "upsert", "append", "modify",
        "rename", "move", "copy", "save", "upload", "import", "commit", "push", "merge", "fork",
        "tag", "label", "assign", "replace", "apply", "enable", "disable", "toggle", "start",
        "stop", "restart", "scale", "install", "upgrade", "deploy", "configure", "register", "mark",
        "close", "reopen", "approve", "reject", "star", "follow", "checkout", "stage", "unstage",
        "init", "fill", "type", "click", "select", "hover", "drag", "press", "submit", "schedule",
        "archive", "restore", "sync", "rotate", "scroll", "handle", "emulate", "generate",
        "compress", "gzip", "zip", "make", "build", "change", "attach", "link", "rollout",
        "forward", "resize", "switch", "duplicate", "complete", "store", "remember", "record",
        "new", "interact", "connect", "invite", "confirm", "deny", "lock", "unlock", "pin",
    ]),
    (Class::Destructive, &[
        "delete", "remove", "drop", "destroy", "purge", "erase", "wipe", "truncate", "terminate",
        "kill", "uninstall", "prune", "clear", "discard", "cancel", "unpublish", "evict", "drain",
        "cordon", "reset", "revoke", "overwrite", "cleanup", "rm", "rmdir", "unlink", "shred",
        "nuke", "deprovision", "decommission", "ban", "block", "forget",
    ]),
    (Class::Execute, &[
        "run", "exec", "execute", "eval", "evaluate", "invoke", "spawn", "launch", "shell", "bash",
        "sh", "powershell", "cmd", "sudo", "terminal", "repl",
    ]),
    (Class::Financial, &[
        "pay", "charge", "refund", "transfer", "payout", "purchase", "buy", "sell", "withdraw",
        "deposit", "bill", "invoice", "order", "donate",
    ]),
    (Class::Credential, &[
        "authorize", "authenticate", "login", "impersonate",
    ]),
    (Class::Communication, &[
        "send", "reply", "publish", "broadcast", "notify", "email", "mail", "message", "tweet",
        "trigger", "announce", "dm", "sms", "share", "react", "comment",
    ]),
];

/// HTTP methods used as verbs (`API-post-search`, `patch_page`): weaker than a real verb (weight
/// 2), so `post` + `search` reads as a search.
pub const HTTP_VERBS: &[(Class, &str)] = &[
    (Class::Write, "post"),
    (Class::Write, "put"),
    (Class::Write, "patch"),
];

/// Nouns in a name that say the tool only reports something (weight 2).
#[rustfmt::skip]
pub const READ_NOUNS: &[&str] = &[
    "status", "info", "information", "history", "tree", "stats", "statistics", "summary", "health",
    "details", "metadata", "usage", "version", "schema", "docs", "documentation", "help", "whoami",
];

/// Objects that change what a state-changing verb means (weight 6, only with a verb that is not
/// a read and is less risky than the object): `create_refund` moves money, `send`-less `add_comment` still talks to people,
/// `start_process` runs a program.
#[rustfmt::skip]
pub const OBJECTS: &[(Class, &[&str])] = &[
    (Class::Financial, &[
        "payment", "payments", "refund", "refunds", "invoice", "invoices", "charge", "charges",
        "payout", "payouts", "subscription", "subscriptions", "transfer", "transfers", "order",
        "orders", "purchase", "checkout", "billing", "wallet", "balance", "money", "funds", "price",
        "prices", "coupon", "coupons", "discount", "discounts", "dispute", "disputes", "credit",
        "credits",
    ]),
    (Class::Communication, &[
        "message", "messages", "email", "emails", "mail", "sms", "notification", "notifications",
        "comment", "comments", "reply", "replies", "tweet", "tweets", "dm", "reaction", "reactions",
        "announcement", "newsletter",
    ]),
    (Class::Execute, &[
        "process", "processes", "command", "commands", "script", "scripts", "shell", "terminal",
        "job", "jobs", "workflow", "workflows", "lambda", "pipeline", "container", "pod", "program",
    ]),
];

/// Words in a name that make the tool touch secrets, with any verb (weight 3): reading a secret
/// is the risk, not only changing it.
#[rustfmt::skip]
pub const CREDENTIAL_WORDS: &[&str] = &[
    "token", "secret", "secrets", "password", "passwords", "credential", "credentials", "apikey",
    "apikeys", "env", "oauth", "passphrase", "certificate", "certificates",
    "cert", "certs", "2fa", "mfa", "otp",
];

/// Words that name a store of secrets (weight 3, any verb): enough to keep a lookup in it from
/// being a plain read, not enough to outweigh a write (`create_folder` "in your vault").
#[rustfmt::skip]
pub const SECRET_STORES: &[&str] = &[
    "vault", "vaults", "keychain", "keyring", "keystore", "keychains", "keyrings",
];

/// Two words in a row that name a secret (`api_key`, `ssh-key`): `key` alone is a record's key.
pub const CREDENTIAL_PAIRS: &[(&str, &str)] = &[
    ("api", "key"),
    ("api", "keys"),
    ("access", "key"),
    ("access", "keys"),
    ("ssh", "key"),
    ("ssh", "keys"),
    ("private", "key"),
    ("secret", "key"),
    ("deploy", "key"),
    ("deploy", "keys"),
    ("signing", "key"),
    ("environment", "variables"),
    ("environment", "variable"),
];

/// Phrases of a description (lowercase, matched on its words) with their class and weight.
pub const PHRASES: &[(Class, u8, &str)] = &[
    (Class::Read, 2, "read-only"),
    (Class::Read, 2, "read only"),
    (Class::Read, 2, "readonly"),
    (Class::Read, 2, "without modifying"),
    (Class::Read, 2, "does not modify"),
    (Class::Read, 2, "no side effects"),
    (Class::Destructive, 2, "permanently"),
    (Class::Destructive, 2, "irreversible"),
    (Class::Destructive, 2, "irreversibly"),
    (Class::Destructive, 2, "cannot be undone"),
    (Class::Destructive, 2, "can't be undone"),
    (Class::Execute, 2, "shell command"),
    (Class::Execute, 2, "shell commands"),
    (Class::Execute, 2, "terminal command"),
    (Class::Execute, 2, "terminal commands"),
    (Class::Execute, 2, "arbitrary code"),
    (Class::Execute, 2, "arbitrary command"),
    (Class::Execute, 2, "arbitrary commands"),
    (Class::Execute, 2, "execute javascript"),
    (Class::Execute, 2, "execute code"),
    (Class::Execute, 2, "execute a command"),
    (Class::Execute, 2, "executes a command"),
    (Class::Execute, 2, "execute commands"),
    (Class::Execute, 2, "run a command"),
    (Class::Execute, 2, "runs a command"),
    (Class::Execute, 2, "run commands"),
    (Class::Execute, 2, "javascript expression"),
    (Class::Credential, 1, "environment variables"),
    (Class::Credential, 1, "api key"),
    (Class::Credential, 1, "access token"),
    (Class::Credential, 1, "password"),
    (Class::Credential, 1, "credentials"),
    (Class::Credential, 1, "private key"),
    (Class::Credential, 1, "authorization token"),
    (Class::Credential, 1, "auth token"),
    (Class::Financial, 1, "payment"),
    (Class::Financial, 1, "refund"),
    (Class::Financial, 1, "invoice"),
    (Class::Financial, 1, "payout"),
    (Class::Financial, 1, "money"),
    (Class::Communication, 1, "send a message"),
    (Class::Communication, 1, "sends a message"),
    (Class::Communication, 1, "post a message"),
    (Class::Communication, 1, "send an email"),
    (Class::Communication, 1, "sends an email"),
];

/// Words skipped before the first verb of a description ("Use this tool to delete …").
#[rustfmt::skip]
pub const FILLER: &[&str] = &[
    "use", "used", "uses", "this", "tool", "to", "a", "an", "the", "will", "can", "allows", "allow",
    "you", "lets", "let", "us", "me", "please", "we", "it", "that", "which", "for", "quickly",
    "simply", "easily", "directly", "also", "just",
];

/// Top-level input fields (their exact, lowercased names) with their class and weight.
#[rustfmt::skip]
pub const FIELDS: &[(Class, u8, &[&str])] = &[
    (Class::Execute, 2, &[
        "command", "cmd", "script", "code", "shell", "commands", "javascript", "js",
    ]),
    (Class::Financial, 2, &[
        "amount", "currency", "unit_amount", "amount_cents", "amount_in_cents",
    ]),
    (Class::Credential, 1, &[
        "password", "secret", "api_key", "apikey", "private_key", "client_secret", "secret_key",
    ]),
    (Class::Communication, 1, &[
        "recipient", "recipients", "cc", "bcc",
    ]),
];

/// Words that are verbs in the tables above but usually nouns at the head of a name
/// (`order_get`, `message_send`, `log_search`): a later verb that is not one of these is the
/// name's verb.
#[rustfmt::skip]
pub const NOUN_LIKE_VERBS: &[&str] = &[
    "order", "bill", "invoice", "charge", "transfer", "refund", "payout", "deposit", "purchase",
    "log", "logs", "count", "check", "record", "store", "link", "tag", "label", "email", "mail",
    "message", "comment", "block", "lock", "pin", "type", "query", "view", "snapshot", "screenshot",
    "schedule", "archive", "build", "commit", "change", "stage", "tweet", "sms", "dm", "trigger",
    "diff", "text", "set", "print", "return", "star", "capture", "alert",
];

/// Verbs that begin what the next verb says (`start_search` is a search): when one is followed
/// by another verb, that one is the name's verb.
pub const ASPECT_VERBS: &[&str] = &["start", "begin"];

/// Words that join two verbs of one name (`create_or_update_file`, `search_and_replace`).
pub const JOINERS: &[&str] = &["and", "or", "then"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_classify_md_lists_every_word() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/classify.md");
        let docs = std::fs::read_to_string(path).unwrap();
        let mut missing = Vec::new();
        let mut check = |word: &str| {
            if !docs.contains(&format!("`{word}`")) {
                missing.push(word.to_string());
            }
        };
        let lists = VERBS
            .iter()
            .chain(OBJECTS)
            .flat_map(|(_, words)| words.iter())
            .chain(FIELDS.iter().flat_map(|(_, _, words)| words.iter()))
            .chain(CREDENTIAL_WORDS)
            .chain(SECRET_STORES)
            .chain(READ_NOUNS)
            .chain(NOUN_LIKE_VERBS)
            .chain(ASPECT_VERBS)
            .chain(JOINERS)
            .chain(FILLER)
            .chain(HTTP_VERBS.iter().map(|(_, verb)| verb));
        for word in lists {
            check(word);
        }
        for (a, b) in CREDENTIAL_PAIRS {
            check(&format!("{a} {b}"));
        }
        for (_, _, phrase) in PHRASES {
            if !docs.contains(&format!("\"{phrase}\"")) {
                missing.push(phrase.to_string());
            }
        }
        assert!(
            missing.is_empty(),
            "docs/classify.md does not list {missing:?}"
        );
    }

    #[test]
    fn no_word_is_in_two_classes_of_one_table() {
        let mut seen = std::collections::HashMap::new();
        for (class, words) in VERBS {
            for word in *words {
                if let Some(other) = seen.insert(*word, *class) {
                    panic!("verb `{word}` is both {other} and {class}");
                }
            }
        }
    }
}
