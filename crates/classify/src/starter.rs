//! A starter policy for a server, proposed from its tools' classes.
//!
//! | class | proposed rule |
//! |---|---|
//! | `read` | allowed, at most [`READ_PER_MINUTE`] a minute per agent (counter `reads`) |
//! | `write` | allowed, at most [`WRITE_PER_MINUTE`] a minute and [`WRITE_PER_HOUR`] an hour (`writes`, `writes_hour`) |
//! | `communication` | allowed, at most [`MESSAGE_PER_MINUTE`] a minute and [`MESSAGE_PER_HOUR`] an hour (`messages`, `messages_hour`) |
//! | `execute`, `destructive` | a human approves each call |
//! | `credential` | a human approves each call, with the user's passphrase (`"approval": "passphrase"`) |
//! | `financial` | a human approves each call, with the user's passphrase; with a required number field `amount` (or `amount_cents`, …), also a spend limit of [`SPEND_PER_DAY`] a day across all agents |
//! | `unknown` | a human approves each call |
//! | any class with `low` confidence | a human approves each call (too little evidence to allow calls unseen) |
//!
//! Every call also counts against `all_calls` ([`ALL_PER_MINUTE`] a minute per agent), and a tool
//! the server adds later falls to `default: require_approval`. Each rule's `reason` names the
//! class, the confidence and the evidence, so the person reviewing the file sees why. Money and
//! secrets get passphrase approvals because an agent running as the same user can reach the
//! local API's token; only the passphrase keeps it from approving its own call
//! (`docs/security.md`).
//!
//! The proposal is JSON in the policy language (`docs/policy.md`); this crate does not parse
//! policies, so callers validate it (`airlock policy init` runs it through `airlock check`'s
//! parser before printing or writing it).

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::{Class, Classification, Confidence, classify};

pub const ALL_PER_MINUTE: u64 = 120;
pub const READ_PER_MINUTE: u64 = 60;
pub const WRITE_PER_MINUTE: u64 = 20;
pub const WRITE_PER_HOUR: u64 = 200;
pub const MESSAGE_PER_MINUTE: u64 = 5;
pub const MESSAGE_PER_HOUR: u64 = 50;
/// In the amount field's own unit (Stripe counts cents): a starting cap to edit, not advice.
pub const SPEND_PER_DAY: u64 = 1000;

/// Number fields a spend limit can sum, by exact name: the money a call moves. A price's
/// `unit_amount` or a coupon's `amount_off` set what is charged later; summing them would cap
/// how many prices can be created, not what is spent.
const AMOUNT_FIELDS: &[&str] = &["amount", "amount_cents", "amount_in_cents"];

/// What the proposal does with a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Allowed under the class's rate limits.
    Limit,
    /// Every call waits for a human.
    Ask,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Limit => "limit",
            Action::Ask => "ask",
        }
    }
}

/// What a person reviewing the proposal may choose for a tool instead (the window's columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    /// Allowed, with no limit of its own (the `all_calls` limit still counts it).
    Allow,
    /// Allowed under rate limits: the class's own, or a write's for classes that have none.
    Limit,
    /// Every call waits for a human.
    Ask,
    /// Refused, with the reason.
    Deny,
    /// Removed from `tools/list` (and refused if called anyway): listed under `hide`.
    Hide,
}

/// The rule each [`Choice`] but `Hide` puts under `tools.<name>` (hiding lists the name under
/// `hide` and drops the rule), so a surface can switch a row without knowing the policy language.
#[derive(Debug, Clone, Serialize)]
pub struct Options {
    pub allow: Value,
    pub limit: Value,
    pub ask: Value,
    pub deny: Value,
}

/// One tool of the proposal, for the summary table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub tool: String,
    pub class: Class,
    pub confidence: Confidence,
    pub action: Action,
    /// The limits in words (`60/min`, `spend 1000/day of args.amount`), empty when none.
    pub limits: String,
    /// The rule's `reason`, as written into the policy.
    pub reason: String,
    /// The rule for each choice; the proposal uses `limit` or `ask` (as `action`).
    pub options: Options,
    #[serde(skip)]
    pub classification: Classification,
}

/// A proposed policy and its rows (in the order the server listed the tools).
#[derive(Debug, Clone, Serialize)]
pub struct Proposal {
    pub policy: Value,
    pub rows: Vec<Row>,
}

impl Proposal {
    /// The policy as a file: two-space indentation, with each flat object (a limit, a condition)
    /// on one line, so a tool's rule reads at a glance.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        render(&self.policy, 0, &mut out);
        out.push('\n');
        out
    }
}

fn render(value: &Value, indent: usize, out: &mut String) {
    let flat = |v: &Value| !matches!(v, Value::Object(_) | Value::Array(_));
    match value {
        Value::Object(map) if map.values().all(flat) && !map.is_empty() => {
            let fields: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", Value::String(k.clone()), v))
                .collect();
            out.push_str(&format!("{{ {} }}", fields.join(", ")));
        }
        Value::Object(map) if !map.is_empty() => {
            out.push_str("{\n");
            for (i, (key, v)) in map.iter().enumerate() {
                out.push_str(&" ".repeat(indent + 2));
                out.push_str(&format!("{}: ", Value::String(key.clone())));
                render(v, indent + 2, out);
                out.push_str(if i + 1 < map.len() { ",\n" } else { "\n" });
            }
            out.push_str(&" ".repeat(indent));
            out.push('}');
        }
        Value::Array(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (i, v) in items.iter().enumerate() {
                out.push_str(&" ".repeat(indent + 2));
                render(v, indent + 2, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&" ".repeat(indent));
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn limit(counter: &str, window: &str, max: u64) -> Value {
    json!({"counter": counter, "window": window, "max": max, "scope": "grant"})
}

/// Proposes a policy for these tools (as `tools/list` returned them). Tools without a name are
/// skipped; a name listed twice keeps its first definition.
pub fn propose(tools: &[Value]) -> Proposal {
    let mut rules = Map::new();
    let mut rows = Vec::new();
    for tool in tools {
        let Some(name) = tool.get("name").and_then(Value::as_str) else {
            continue;
        };
        if rules.contains_key(name) {
            continue;
        }
        let classification = classify(tool);
        let (rule, row) = rule_for(name, tool, classification);
        rules.insert(name.to_string(), rule);
        rows.push(row);
    }
    let policy = json!({
        "version": "1",
        "default": "require_approval",
        "all_tools": {"limits": [limit("all_calls", "minute", ALL_PER_MINUTE)]},
        "tools": Value::Object(rules),
    });
    Proposal { policy, rows }
}

fn rule_for(name: &str, tool: &Value, classification: Classification) -> (Value, Row) {
    let class = classification.class;
    let mut reason = format!(
        "{class} ({} confidence): {}",
        classification.confidence.as_str(),
        classification.summary()
    );
    let mut rule = Map::new();
    let (mut action, mut limits, mut words) = match class {
        Class::Read => (
            Action::Limit,
            vec![limit("reads", "minute", READ_PER_MINUTE)],
            format!("{READ_PER_MINUTE}/min"),
        ),
        Class::Write => (
            Action::Limit,
            vec![
                limit("writes", "minute", WRITE_PER_MINUTE),
                limit("writes_hour", "hour", WRITE_PER_HOUR),
            ],
            format!("{WRITE_PER_MINUTE}/min, {WRITE_PER_HOUR}/h"),
        ),
        Class::Communication => (
            Action::Limit,
            vec![
                limit("messages", "minute", MESSAGE_PER_MINUTE),
                limit("messages_hour", "hour", MESSAGE_PER_HOUR),
            ],
            format!("{MESSAGE_PER_MINUTE}/min, {MESSAGE_PER_HOUR}/h"),
        ),
        Class::Financial => match amount_field(tool) {
            Some(field) => (
                Action::Ask,
                vec![json!({
                    "counter": format!("{name}_spend"),
                    "window": "day",
                    "max": SPEND_PER_DAY,
                    "scope": "server",
                    "increment_from": format!("args.{field}"),
                })],
                format!("spend {SPEND_PER_DAY}/day of args.{field}"),
            ),
            None => (Action::Ask, Vec::new(), String::new()),
        },
        Class::Execute | Class::Destructive | Class::Credential | Class::Unknown => {
            (Action::Ask, Vec::new(), String::new())
        }
    };
    if class == Class::Unknown {
        reason = "unknown: no rule matched, so a human decides each call".to_string();
    } else if action == Action::Limit && classification.confidence == Confidence::Low {
        // Too little evidence to let calls through unseen (e.g. only `readOnlyHint: false`).
        action = Action::Ask;
        limits.clear();
        words.clear();
        reason.push_str("; too little evidence to allow it unseen, so a human decides");
    }
    if action == Action::Ask {
        rule.insert("action".into(), json!("require_approval"));
        if matches!(class, Class::Financial | Class::Credential) {
            rule.insert("approval".into(), json!("passphrase"));
        }
    }
    rule.insert("reason".into(), json!(reason));
    if !limits.is_empty() {
        rule.insert("limits".into(), Value::Array(limits));
    }
    let options = options(class, &reason, &rule);
    let row = Row {
        tool: name.to_string(),
        class,
        confidence: classification.confidence,
        action,
        limits: words,
        reason,
        options,
        classification,
    };
    (Value::Object(rule), row)
}

/// The rule for every choice. `proposed` is the proposal's own, reused for its choice.
fn options(class: Class, reason: &str, proposed: &Map<String, Value>) -> Options {
    let mut limits = match class {
        Class::Read => vec![limit("reads", "minute", READ_PER_MINUTE)],
        Class::Communication => vec![
            limit("messages", "minute", MESSAGE_PER_MINUTE),
            limit("messages_hour", "hour", MESSAGE_PER_HOUR),
        ],
        _ => vec![
            limit("writes", "minute", WRITE_PER_MINUTE),
            limit("writes_hour", "hour", WRITE_PER_HOUR),
        ],
    };
    // A spend limit stays whatever the choice, when the proposal has one.
    let spend: Vec<Value> = proposed
        .get("limits")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter(|l| l.get("increment_from").is_some())
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    limits.extend(spend.iter().cloned());
    let with = |action: Option<&str>, limits: &[Value]| {
        let mut rule = Map::new();
        if let Some(action) = action {
            rule.insert("action".into(), json!(action));
        }
        rule.insert("reason".into(), json!(reason));
        if !limits.is_empty() {
            rule.insert("limits".into(), Value::Array(limits.to_vec()));
        }
        Value::Object(rule)
    };
    let is_ask = proposed.get("action").is_some();
    Options {
        allow: with(None, &spend),
        limit: if is_ask {
            with(None, &limits)
        } else {
            Value::Object(proposed.clone())
        },
        ask: if is_ask {
            Value::Object(proposed.clone())
        } else {
            with(Some("require_approval"), &spend)
        },
        deny: with(Some("deny"), &[]),
    }
}

/// A required, numeric top-level field a spend limit can sum (a missing amount would deny the
/// call under a spend limit, so an optional one is not used).
fn amount_field(tool: &Value) -> Option<String> {
    let schema = tool.get("inputSchema")?;
    let properties = schema.get("properties")?.as_object()?;
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    properties
        .iter()
        .find(|(field, spec)| {
            AMOUNT_FIELDS.contains(&field.to_lowercase().as_str())
                && required.contains(&field.as_str())
                && matches!(
                    spec.get("type").and_then(Value::as_str),
                    Some("number" | "integer")
                )
        })
        .map(|(field, _)| field.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_class_gets_its_rule_and_a_reason() {
        let tools = vec![
            json!({"name": "list_items"}),
            json!({"name": "create_item"}),
            json!({"name": "send_message"}),
            json!({"name": "delete_item"}),
            json!({"name": "sequentialthinking"}),
        ];
        let proposal = propose(&tools);
        let t = &proposal.policy["tools"];
        assert_eq!(proposal.policy["default"], "require_approval");
        assert!(t["list_items"].get("action").is_none());
        assert_eq!(t["list_items"]["limits"][0]["counter"], "reads");
        assert_eq!(t["create_item"]["limits"][1]["window"], "hour");
        assert_eq!(t["send_message"]["limits"][0]["counter"], "messages");
        assert_eq!(t["delete_item"]["action"], "require_approval");
        assert!(
            t["delete_item"]["reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("destructive") && r.contains("\"delete\""))
        );
        assert_eq!(t["sequentialthinking"]["action"], "require_approval");
        assert!(
            t["sequentialthinking"]["reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("unknown"))
        );
        assert_eq!(proposal.rows.len(), 5);
        assert_eq!(proposal.rows[3].action, Action::Ask);
    }

    #[test]
    fn a_required_amount_gets_a_spend_limit_and_an_optional_one_does_not() {
        let required = json!({"name": "create_refund", "inputSchema": {
            "type": "object",
            "properties": {"payment_intent": {"type": "string"}, "amount": {"type": "integer"}},
            "required": ["payment_intent", "amount"]}});
        let optional = json!({"name": "create_payout", "inputSchema": {
            "type": "object", "properties": {"amount": {"type": "number"}}}});
        let price = json!({"name": "create_price", "inputSchema": {
            "type": "object",
            "properties": {"unit_amount": {"type": "integer"}, "currency": {"type": "string"}},
            "required": ["unit_amount", "currency"]}});
        let proposal = propose(&[required, optional, price]);
        let t = &proposal.policy["tools"];
        assert_eq!(t["create_refund"]["action"], "require_approval");
        assert_eq!(
            t["create_refund"]["limits"][0]["increment_from"],
            "args.amount"
        );
        assert_eq!(t["create_refund"]["limits"][0]["scope"], "server");
        assert!(t["create_payout"].get("limits").is_none());
        // A price sets what is charged later: no spend limit that would cap prices created.
        assert_eq!(t["create_price"]["action"], "require_approval");
        assert!(t["create_price"].get("limits").is_none());
        assert_eq!(t["create_payout"]["action"], "require_approval");
        for tool in ["create_refund", "create_payout", "create_price"] {
            assert_eq!(t[tool]["approval"], "passphrase", "{tool}");
        }
    }

    #[test]
    fn credentials_need_the_passphrase_and_other_asked_tools_do_not() {
        let proposal = propose(&[
            json!({"name": "get_api_key", "description": "Returns the API key for the account"}),
            json!({"name": "delete_file", "annotations": {"destructiveHint": true}}),
        ]);
        assert_eq!(proposal.rows[0].class, Class::Credential);
        let t = &proposal.policy["tools"];
        assert_eq!(t["get_api_key"]["action"], "require_approval");
        assert_eq!(t["get_api_key"]["approval"], "passphrase");
        assert_eq!(t["delete_file"]["action"], "require_approval");
        assert!(t["delete_file"].get("approval").is_none());
    }

    #[test]
    fn the_text_is_the_policy_with_flat_objects_on_one_line() {
        let proposal = propose(&[json!({"name": "list_items"}), json!({"name": "drop_table"})]);
        let text = proposal.to_text();
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, proposal.policy);
        assert!(text.contains(
            r#"{ "counter": "reads", "window": "minute", "max": 60, "scope": "grant" }"#
        ));
        assert!(text.starts_with("{\n  \"version\": \"1\",\n"), "{text}");
        assert!(text.ends_with("}\n"));
    }

    #[test]
    fn too_little_evidence_asks_a_human_whatever_the_class() {
        let proposal =
            propose(&[json!({"name": "widget", "annotations": {"readOnlyHint": false}})]);
        let row = &proposal.rows[0];
        assert_eq!((row.class, row.confidence), (Class::Write, Confidence::Low));
        assert_eq!(row.action, Action::Ask);
        let rule = &proposal.policy["tools"]["widget"];
        assert_eq!(rule["action"], "require_approval");
        assert!(rule.get("limits").is_none());
        assert!(
            rule["reason"]
                .as_str()
                .is_some_and(|r| r.contains("too little evidence"))
        );
    }

    #[test]
    fn every_choice_has_its_rule_and_the_proposed_one_is_the_proposal() {
        let proposal = propose(&[
            json!({"name": "list_items"}),
            json!({"name": "delete_item"}),
            json!({"name": "create_refund", "inputSchema": {"type": "object",
                "properties": {"amount": {"type": "integer"}}, "required": ["amount"]}}),
        ]);
        let [read, delete, refund] = &proposal.rows[..] else {
            panic!("three rows expected");
        };
        let tools = &proposal.policy["tools"];
        assert_eq!(read.options.limit, tools["list_items"]);
        assert_eq!(delete.options.ask, tools["delete_item"]);
        assert!(read.options.allow.get("limits").is_none());
        assert_eq!(read.options.ask["action"], "require_approval");
        assert_eq!(delete.options.deny["action"], "deny");
        assert_eq!(delete.options.limit["limits"][0]["counter"], "writes");
        assert!(delete.options.limit.get("action").is_none());
        // The spend limit stays whatever is chosen, so allowing a refund never lifts the cap.
        for rule in [
            &refund.options.allow,
            &refund.options.limit,
            &refund.options.ask,
        ] {
            let limits = rule["limits"].as_array().cloned().unwrap_or_default();
            assert!(
                limits.iter().any(|l| l["increment_from"] == "args.amount"),
                "{rule}"
            );
        }
    }

    #[test]
    fn a_tool_listed_twice_keeps_its_first_definition() {
        let proposal = propose(&[
            json!({"name": "x", "annotations": {"readOnlyHint": true}}),
            json!({"name": "x", "annotations": {"destructiveHint": true}}),
            json!({"description": "no name"}),
        ]);
        assert_eq!(proposal.rows.len(), 1);
        assert_eq!(proposal.rows[0].class, Class::Read);
    }
}
