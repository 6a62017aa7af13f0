//! The tools each server listed in its last `tools/list`, for servers without a policy.
//!
//! A server without a policy asks a human about every call; it must not ask about a tool the
//! server does not have (an agent guessing names, or a prompt-injected call). So such a call is
//! denied unless the tool was in the server's last complete listing, as the gate saw it pass.
//! Pages of a paginated listing (`nextCursor`) are gathered until the last page. Before any
//! listing has passed (a fresh gate, an agent that cached tools from an earlier run), nothing is
//! known to exist, so the call is denied with a message asking the agent to list tools first:
//! a denial costs one round trip, a human asked about a phantom tool costs their attention.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use serde_json::Value;

#[derive(Debug, Default)]
struct Listing {
    /// The last complete listing; `None` until one has passed.
    complete: Option<HashSet<String>>,
    /// Pages of a listing still being paged through.
    pending: HashSet<String>,
}

/// Per server, the tools of its last `tools/list`.
#[derive(Debug, Default)]
pub(crate) struct ListedTools {
    servers: Mutex<HashMap<String, Listing>>,
}

/// Whether a tool was listed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Listed {
    Yes,
    No,
    /// No complete listing of this server has passed the gate yet.
    Unknown,
}

impl ListedTools {
    /// Records one `tools/list` result (before hidden tools are removed).
    pub(crate) fn record(&self, server: &str, result: &Value) {
        let names = result
            .get("tools")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|tool| tool.get("name").and_then(Value::as_str))
            .map(str::to_owned);
        let last_page = result.get("nextCursor").is_none_or(Value::is_null);
        let mut servers = self
            .servers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let listing = servers.entry(server.to_owned()).or_default();
        listing.pending.extend(names);
        if last_page {
            listing.complete = Some(std::mem::take(&mut listing.pending));
        }
    }

    pub(crate) fn contains(&self, server: &str, tool: &str) -> Listed {
        let servers = self
            .servers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match servers.get(server).and_then(|l| l.complete.as_ref()) {
            None => Listed::Unknown,
            Some(tools) if tools.contains(tool) => Listed::Yes,
            Some(_) => Listed::No,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_last_complete_listing_counts_and_pages_are_gathered() {
        let listed = ListedTools::default();
        assert_eq!(listed.contains("s", "a"), Listed::Unknown);
        listed.record("s", &json!({"tools": [{"name": "a"}], "nextCursor": "2"}));
        assert_eq!(listed.contains("s", "a"), Listed::Unknown);
        listed.record("s", &json!({"tools": [{"name": "b"}]}));
        assert_eq!(listed.contains("s", "a"), Listed::Yes);
        assert_eq!(listed.contains("s", "b"), Listed::Yes);
        assert_eq!(listed.contains("s", "c"), Listed::No);
        listed.record("s", &json!({"tools": [{"name": "c"}]}));
        assert_eq!(listed.contains("s", "a"), Listed::No);
        assert_eq!(listed.contains("other", "c"), Listed::Unknown);
    }
}
