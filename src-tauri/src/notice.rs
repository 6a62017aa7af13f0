//! What the native notification says, decided without D-Bus: the [`Board`] of pending requests.
//!
//! Kept pure so the rules are unit-tested: one notification for a single pending request (with
//! Approve, Deny and "Allow 10 min"), one coalesced notification with a count for a burst (it only
//! opens the window: a button that approves "one of several" would approve something the person
//! has not read), a reminder shortly before a request expires, and nothing at all for calls the
//! policy decided by itself (those never become approval requests). The D-Bus side lives in
//! `notifier`.

use std::collections::HashSet;

use airlock_gate::{Approval, ApprovalStatus};
use serde_json::Value;

/// What "Allow 10 min" covers, said in the body next to the button: the gate remembers it for
/// this agent (grant, or a tokenless agent's declared client name), this tool and these
/// arguments only (`airlock_gate::scope`).
const ALLOW_TEN_SCOPE: &str = "Allow 10 min = this agent, this tool, these arguments.";

/// Action key for a click on the notification's body (the spec's default action).
pub const DEFAULT_ACTION: &str = "default";
/// Longest argument value shown in a body, in characters.
const VALUE_CHARS: usize = 40;
/// Most arguments shown in a body.
const MAX_ARGS: usize = 4;
/// Most requests listed in a coalesced body.
const MAX_LISTED: usize = 3;
/// A reminder comes this long before expiry (or a quarter of the timeout, when that is shorter).
const REMIND_BEFORE_MS: u64 = 30_000;
/// No reminder when the whole timeout is shorter than this: the first notification is enough.
const MIN_TIMEOUT_FOR_REMINDER_MS: u64 = 8_000;

/// What a notification button does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Approve(String),
    Deny(String),
    /// Approve, and approve identical calls for the next 10 minutes.
    AllowTenMinutes(String),
    /// Open the Approvals window (on this request, when there is one).
    Open(Option<String>),
}

impl Action {
    /// The key sent to the notification server. Keys carry the request id, so a click always
    /// decides the request that was on screen, even if the notification changed meanwhile.
    pub fn key(&self) -> String {
        match self {
            Action::Approve(id) => format!("approve:{id}"),
            Action::Deny(id) => format!("deny:{id}"),
            Action::AllowTenMinutes(id) => format!("allow10:{id}"),
            Action::Open(Some(id)) => format!("open:{id}"),
            Action::Open(None) => "open".to_string(),
        }
    }

    /// Reads a key back. `default` (a click on the body) opens `target`.
    pub fn parse(key: &str, target: Option<&str>) -> Option<Action> {
        if key == DEFAULT_ACTION || key == "open" {
            return Some(Action::Open(target.map(str::to_string)));
        }
        let (verb, id) = key.split_once(':')?;
        if id.is_empty() {
            return None;
        }
        let id = id.to_string();
        Some(match verb {
            "approve" => Action::Approve(id),
            "deny" => Action::Deny(id),
            "allow10" => Action::AllowTenMinutes(id),
            "open" => Action::Open(Some(id)),
            _ => return None,
        })
    }
}

/// One notification's text and buttons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    pub summary: String,
    pub body: String,
    /// `(key, label)` pairs, the default action first.
    pub actions: Vec<(String, String)>,
    /// The request a click on the body opens; `None` for a coalesced notification.
    pub target: Option<String>,
    /// A reminder: shown with critical urgency.
    pub urgent: bool,
}

/// What the notifier should do after a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Show this content; replace the visible notification if there is one.
    Show(Content),
    /// Change the visible notification, if one is visible; do not pop a new one up.
    Refresh(Content),
    /// Nothing is pending any more: close the visible notification.
    Close,
    Nothing,
}

#[derive(Debug, Clone)]
struct Entry {
    id: String,
    agent: String,
    tool: String,
    server: String,
    args: String,
    expires_ms: u64,
    remind_at_ms: Option<u64>,
}

/// The pending requests the notification speaks for, oldest first.
#[derive(Debug, Default)]
pub struct Board {
    entries: Vec<Entry>,
    reminded: HashSet<String>,
}

impl Board {
    pub fn new() -> Board {
        Board::default()
    }

    /// How many requests are pending.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Takes in a created or changed request and says what the notification should do.
    pub fn update(&mut self, approval: &Approval) -> Change {
        let known = self.entries.iter().position(|e| e.id == approval.id);
        match (approval.status, known) {
            (ApprovalStatus::Pending, None) => {
                self.entries.push(entry(approval));
                Change::Show(self.content(false))
            }
            (ApprovalStatus::Pending, Some(_)) => Change::Nothing,
            (_, None) => Change::Nothing,
            (_, Some(index)) => {
                self.entries.remove(index);
                self.reminded.remove(&approval.id);
                if self.entries.is_empty() {
                    Change::Close
                } else {
                    Change::Refresh(self.content(false))
                }
            }
        }
    }

    /// Replaces the whole board (after missed events): the new requests are announced.
    pub fn reset(&mut self, pending: &[Approval]) -> Change {
        let before: HashSet<String> = self.entries.iter().map(|e| e.id.clone()).collect();
        self.entries = pending
            .iter()
            .filter(|a| a.status == ApprovalStatus::Pending)
            .map(entry)
            .collect();
        self.reminded
            .retain(|id| self.entries.iter().any(|e| &e.id == id));
        if self.entries.is_empty() {
            Change::Close
        } else if self.entries.iter().any(|e| !before.contains(&e.id)) {
            Change::Show(self.content(false))
        } else {
            Change::Refresh(self.content(false))
        }
    }

    /// When the next reminder is due, in ms since the epoch.
    pub fn next_reminder_ms(&self) -> Option<u64> {
        self.entries
            .iter()
            .filter(|e| !self.reminded.contains(&e.id))
            .filter_map(|e| e.remind_at_ms)
            .min()
    }

    /// Shows the reminder for every request whose time has come (once per request).
    pub fn remind(&mut self, now_ms: u64) -> Change {
        let due: Vec<String> = self
            .entries
            .iter()
            .filter(|e| !self.reminded.contains(&e.id))
            .filter(|e| e.remind_at_ms.is_some_and(|at| at <= now_ms))
            .map(|e| e.id.clone())
            .collect();
        if due.is_empty() {
            return Change::Nothing;
        }
        self.reminded.extend(due);
        let mut content = self.content(true);
        if let Some(soonest) = self.entries.iter().map(|e| e.expires_ms).min() {
            let secs = soonest.saturating_sub(now_ms).div_ceil(1000);
            content.body.push_str(&format!("\nExpires in {secs} s."));
        }
        Change::Show(content)
    }

    fn content(&self, reminder: bool) -> Content {
        let prefix = if reminder { "Expiring soon: " } else { "" };
        match self.entries.as_slice() {
            [one] => Content {
                summary: format!("{prefix}{} wants {}", one.agent, one.tool),
                body: if one.args.is_empty() {
                    format!("on {}\n{ALLOW_TEN_SCOPE}", one.server)
                } else {
                    format!("on {}: {}\n{ALLOW_TEN_SCOPE}", one.server, one.args)
                },
                actions: vec![
                    (DEFAULT_ACTION.to_string(), "Open".to_string()),
                    (Action::Approve(one.id.clone()).key(), "Approve".to_string()),
                    (Action::Deny(one.id.clone()).key(), "Deny".to_string()),
                    (
                        Action::AllowTenMinutes(one.id.clone()).key(),
                        "Allow 10 min".to_string(),
                    ),
                ],
                target: Some(one.id.clone()),
                urgent: reminder,
            },
            many => {
                let mut lines: Vec<String> = many
                    .iter()
                    .rev()
                    .take(MAX_LISTED)
                    .map(|e| format!("{} wants {} on {}", e.agent, e.tool, e.server))
                    .collect();
                if many.len() > MAX_LISTED {
                    lines.push(format!("and {} more", many.len() - MAX_LISTED));
                }
                Content {
                    summary: format!("{prefix}{} requests wait for approval", many.len()),
                    body: lines.join("\n"),
                    actions: vec![
                        (DEFAULT_ACTION.to_string(), "Open".to_string()),
                        (Action::Open(None).key(), "Open Approvals".to_string()),
                    ],
                    target: None,
                    urgent: reminder,
                }
            }
        }
    }
}

fn entry(approval: &Approval) -> Entry {
    let request = &approval.request;
    let agent = request.agent_label();
    let timeout = approval.expires_ms.saturating_sub(approval.created_ms);
    let remind_at_ms = (timeout >= MIN_TIMEOUT_FOR_REMINDER_MS)
        .then(|| approval.expires_ms - REMIND_BEFORE_MS.min(timeout / 4));
    Entry {
        id: approval.id.clone(),
        agent: shorten(&agent, VALUE_CHARS),
        tool: shorten(&request.tool, VALUE_CHARS),
        server: shorten(&request.server, VALUE_CHARS),
        args: key_arguments(&request.arguments),
        expires_ms: approval.expires_ms,
        remind_at_ms,
    }
}

/// `key=value` pairs of the top-level arguments, shortened. The gate has already redacted them.
pub fn key_arguments(arguments: &Value) -> String {
    let Value::Object(map) = arguments else {
        return match arguments {
            Value::Null => String::new(),
            other => shorten(&other.to_string(), VALUE_CHARS),
        };
    };
    let mut parts: Vec<String> = map
        .iter()
        .take(MAX_ARGS)
        .map(|(key, value)| {
            let shown = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            format!(
                "{}={}",
                shorten(key, VALUE_CHARS),
                shorten(&shown, VALUE_CHARS)
            )
        })
        .collect();
    if map.len() > MAX_ARGS {
        parts.push(format!("+{} more", map.len() - MAX_ARGS));
    }
    parts.join(", ")
}

/// At most `max` characters, control characters as spaces, `…` where it was cut.
pub fn shorten(text: &str, max: usize) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.chars().count() <= max {
        clean
    } else {
        let mut cut: String = clean.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// Escapes the few characters notification servers read as markup in a body.
pub fn escape_markup(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_gate::ApprovalRequest;
    use airlock_gate::identity::ClientInfo;
    use serde_json::json;

    fn approval(id: &str, user: &str, status: ApprovalStatus) -> Approval {
        Approval {
            id: id.to_string(),
            created_ms: 1_000_000,
            expires_ms: 1_000_000 + 600_000,
            status,
            request: ApprovalRequest {
                grant: "default".into(),
                server: "pusher".into(),
                tool: "terminate_user_connections".into(),
                session_id: "s1".into(),
                client: Some(ClientInfo {
                    name: "claude-code".into(),
                    version: Some("2.1.0".into()),
                }),
                arguments: json!({ "userId": user }),
                args_hash: format!("hash-{user}"),
                rule: "/tools/terminate_user_connections".into(),
                reason: None,
                timeout_ms: 600_000,
                passphrase: false,
            },
            waiting: 1,
            decided_ms: None,
            decided_by: None,
            note: None,
            remembered: None,
        }
    }

    fn shown(change: Change) -> Content {
        match change {
            Change::Show(c) | Change::Refresh(c) => c,
            other => panic!("expected content, got {other:?}"),
        }
    }

    #[test]
    fn one_request_gets_its_own_buttons_and_key_arguments() {
        let mut board = Board::new();
        let c = shown(board.update(&approval("a1", "u-42", ApprovalStatus::Pending)));
        assert_eq!(
            c.summary,
            "claude-code (no token) wants terminate_user_connections"
        );
        assert_eq!(
            c.body,
            "on pusher: userId=u-42\nAllow 10 min = this agent, this tool, these arguments."
        );
        let keys: Vec<&str> = c.actions.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["default", "approve:a1", "deny:a1", "allow10:a1"]);
        assert_eq!(c.actions[3].1, "Allow 10 min");
        assert_eq!(c.target.as_deref(), Some("a1"));
    }

    #[test]
    fn a_burst_coalesces_into_a_count_without_decision_buttons() {
        let mut board = Board::new();
        board.update(&approval("a1", "u-1", ApprovalStatus::Pending));
        let c = shown(board.update(&approval("a2", "u-2", ApprovalStatus::Pending)));
        assert_eq!(c.summary, "2 requests wait for approval");
        assert!(c.actions.iter().all(|(k, _)| !k.starts_with("approve:")));
        assert_eq!(c.target, None);
        for n in 3..=6 {
            board.update(&approval(&format!("a{n}"), "u", ApprovalStatus::Pending));
        }
        let c = shown(board.update(&approval("a7", "u-7", ApprovalStatus::Pending)));
        assert_eq!(c.summary, "7 requests wait for approval");
        assert!(c.body.ends_with("and 4 more"), "{}", c.body);
    }

    #[test]
    fn a_decision_elsewhere_refreshes_then_closes() {
        let mut board = Board::new();
        board.update(&approval("a1", "u-1", ApprovalStatus::Pending));
        board.update(&approval("a2", "u-2", ApprovalStatus::Pending));
        let c = match board.update(&approval("a1", "u-1", ApprovalStatus::Approved)) {
            Change::Refresh(c) => c,
            other => panic!("expected a refresh, got {other:?}"),
        };
        assert_eq!(
            c.target.as_deref(),
            Some("a2"),
            "back to the one request, with its buttons"
        );
        assert_eq!(
            board.update(&approval("a2", "u-2", ApprovalStatus::Expired)),
            Change::Close
        );
        assert!(board.is_empty());
    }

    #[test]
    fn a_request_announced_again_or_unknown_changes_nothing() {
        let mut board = Board::new();
        board.update(&approval("a1", "u-1", ApprovalStatus::Pending));
        // An identical call joining the request: no second notification.
        assert_eq!(
            board.update(&approval("a1", "u-1", ApprovalStatus::Pending)),
            Change::Nothing
        );
        assert_eq!(
            board.update(&approval("zz", "u", ApprovalStatus::Denied)),
            Change::Nothing
        );
        assert_eq!(board.len(), 1);
    }

    #[test]
    fn a_reminder_comes_once_shortly_before_expiry() {
        let mut board = Board::new();
        let a = approval("a1", "u-1", ApprovalStatus::Pending);
        board.update(&a);
        let at = board.next_reminder_ms().unwrap();
        assert_eq!(at, a.expires_ms - 30_000);
        assert_eq!(board.remind(at - 1), Change::Nothing);
        let c = shown(board.remind(at));
        assert!(c.urgent);
        assert!(c.summary.starts_with("Expiring soon: "), "{}", c.summary);
        assert!(c.body.ends_with("Expires in 30 s."), "{}", c.body);
        assert_eq!(board.next_reminder_ms(), None);
        assert_eq!(board.remind(at + 1), Change::Nothing);
    }

    #[test]
    fn short_timeouts_get_no_reminder() {
        let mut board = Board::new();
        let mut a = approval("a1", "u-1", ApprovalStatus::Pending);
        a.expires_ms = a.created_ms + 5_000;
        board.update(&a);
        assert_eq!(board.next_reminder_ms(), None);
    }

    #[test]
    fn reset_announces_only_new_requests() {
        let mut board = Board::new();
        let a1 = approval("a1", "u-1", ApprovalStatus::Pending);
        board.update(&a1);
        assert!(matches!(
            board.reset(std::slice::from_ref(&a1)),
            Change::Refresh(_)
        ));
        let a2 = approval("a2", "u-2", ApprovalStatus::Pending);
        assert!(matches!(board.reset(&[a1, a2]), Change::Show(_)));
        assert_eq!(board.reset(&[]), Change::Close);
    }

    #[test]
    fn action_keys_round_trip_and_the_body_click_opens_the_target() {
        for action in [
            Action::Approve("x1".into()),
            Action::Deny("x1".into()),
            Action::AllowTenMinutes("x1".into()),
            Action::Open(Some("x1".into())),
            Action::Open(None),
        ] {
            assert_eq!(Action::parse(&action.key(), None), Some(action));
        }
        assert_eq!(
            Action::parse("default", Some("x9")),
            Some(Action::Open(Some("x9".into())))
        );
        assert_eq!(Action::parse("approve:", None), None);
        assert_eq!(Action::parse("launch:x1", None), None);
        assert_eq!(Action::parse("__closed", None), None);
    }

    #[test]
    fn arguments_are_shortened_and_counted() {
        let long = "x".repeat(100);
        let text = key_arguments(&json!({
            "a": long, "b": 2, "c": {"d": [1, 2]}, "e": true, "f": null, "g": "more"
        }));
        assert!(
            text.starts_with(&format!("a={}…, b=2", "x".repeat(39))),
            "{text}"
        );
        assert!(text.contains("c={\"d\":[1,2]}"), "{text}");
        assert!(text.ends_with("+2 more"), "{text}");
        assert_eq!(key_arguments(&Value::Null), "");
        assert_eq!(shorten("a\nb", 10), "a b");
    }

    #[test]
    fn markup_in_a_body_is_escaped() {
        assert_eq!(escape_markup("<b>&</b>"), "&lt;b&gt;&amp;&lt;/b&gt;");
    }

    #[test]
    fn the_agent_is_the_grant_when_the_client_has_no_name() {
        let mut board = Board::new();
        let mut a = approval("a1", "u-1", ApprovalStatus::Pending);
        a.request.client = None;
        a.request.grant = "cli".into();
        let c = shown(board.update(&a));
        assert_eq!(c.summary, "cli wants terminate_user_connections");
    }
}
