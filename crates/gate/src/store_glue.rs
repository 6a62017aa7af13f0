//! Conversions between the broker's remembered rules and the store's.

use airlock_store::{Effect, NewRemembered, Remembered};

use crate::approvals::RememberedRule;
use crate::identity::is_tokenless;
use crate::scope::ArgMatch;

/// A gate time (milliseconds since the epoch) as the store keeps it.
pub(crate) fn ms(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub fn rule_to_store(rule: &RememberedRule) -> NewRemembered {
    NewRemembered {
        grant: Some(rule.grant.clone()),
        session_id: rule.session_id.clone(),
        client_name: rule.client.clone(),
        server: rule.server.clone(),
        tool: rule.tool.clone(),
        arg_match: rule.args.to_store(),
        effect: if rule.approve {
            Effect::Approve
        } else {
            Effect::Deny
        },
        note: rule.note.clone(),
        created_ms: ms(rule.created_ms),
        expires_ms: rule.expires_ms.map(ms),
        approval_id: Some(rule.approval_id.clone()),
    }
}

/// A stored rule as the broker applies it; `None` (logged) for one whose argument match this
/// build cannot read, or a tokenless approval that names no client or session: applying either
/// would approve more than the human chose.
pub fn rule_from_store(stored: Remembered) -> Option<RememberedRule> {
    let rule = stored.rule;
    let approve = rule.effect == Effect::Approve;
    let Some(args) = ArgMatch::from_store(rule.arg_match.as_ref()) else {
        tracing::warn!(
            id = stored.id,
            "remembered decision with an unknown argument match is not applied"
        );
        return None;
    };
    let grant = rule.grant.unwrap_or_default();
    if approve && is_tokenless(&grant) && rule.client_name.is_none() && rule.session_id.is_none() {
        tracing::warn!(
            id = stored.id,
            "remembered approval for every tokenless agent is not applied"
        );
        return None;
    }
    Some(RememberedRule {
        id: stored.id.to_string(),
        grant,
        server: rule.server,
        tool: rule.tool,
        client: rule.client_name,
        args,
        session_id: rule.session_id,
        approve,
        note: rule.note,
        created_ms: u64::try_from(rule.created_ms).unwrap_or(0),
        expires_ms: rule.expires_ms.map(|t| u64::try_from(t).unwrap_or(0)),
        approval_id: rule.approval_id.unwrap_or_default(),
    })
}
