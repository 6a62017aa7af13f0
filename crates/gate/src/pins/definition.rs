//! What of a listed tool is pinned, and its hash.
//!
//! The pinned definition is what an agent's model reads and what shapes its calls: `name`,
//! `title`, `description`, `inputSchema`, `outputSchema` and `annotations`. Everything else a
//! listing carries (`_meta`, `icons`, `execution`, which the relay itself may add for tasks) is
//! left out, so a server that reorders keys, or the relay's own additions, change nothing.
//! The hash is the gate's argument hash ([`airlock_store::canonical_args_hash`]: sha-256 over
//! JSON with sorted keys and no whitespace) of that object.

use serde_json::{Map, Value};

/// The fields of a tool that are pinned.
const PINNED_FIELDS: &[&str] = &[
    "name",
    "title",
    "description",
    "inputSchema",
    "outputSchema",
    "annotations",
];

/// A tool's pinned definition and its hash.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Definition {
    pub(crate) hash: String,
    /// The pinned fields, keys sorted at every level.
    pub(crate) value: Value,
}

impl Definition {
    /// The definition of one tool of a `tools/list` result; `None` without a string `name`.
    pub(crate) fn of(tool: &Value) -> Option<(String, Definition)> {
        let name = tool.get("name")?.as_str()?.to_owned();
        let mut picked = Map::new();
        for field in PINNED_FIELDS {
            if let Some(value) = tool.get(*field) {
                picked.insert((*field).to_owned(), value.clone());
            }
        }
        let picked = Value::Object(picked);
        Some((name, Definition::from_value(&picked)))
    }

    /// A definition from its stored (or listed) JSON: sorted again, hashed again.
    pub(crate) fn from_value(value: &Value) -> Definition {
        Definition {
            hash: airlock_store::canonical_args_hash(value),
            value: sorted(value),
        }
    }
}

/// `value` with the keys of every object sorted (the order `canonical_json` writes).
pub(crate) fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), sorted(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        scalar => scalar.clone(),
    }
}

/// The first 12 hex digits of a hash, as the CLI and the window show it.
pub fn short_hash(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_and_unpinned_fields_do_not_change_the_hash() {
        let a = json!({"name": "read", "description": "Reads", "inputSchema": {"type": "object", "properties": {"b": {}, "a": {}}}});
        let b = json!({"inputSchema": {"properties": {"a": {}, "b": {}}, "type": "object"}, "description": "Reads", "name": "read", "_meta": {"x": 1}, "execution": {"taskSupport": "optional"}});
        let (name, da) = Definition::of(&a).unwrap();
        let (_, db) = Definition::of(&b).unwrap();
        assert_eq!(name, "read");
        assert_eq!(da, db);
        assert_eq!(da.hash.len(), 64);
        assert_eq!(Definition::from_value(&da.value), da);
    }

    #[test]
    fn every_pinned_field_changes_the_hash() {
        let base = json!({"name": "t", "title": "T", "description": "d", "inputSchema": {}, "outputSchema": {}, "annotations": {}});
        let (_, pinned) = Definition::of(&base).unwrap();
        for field in PINNED_FIELDS.iter().filter(|f| **f != "name") {
            let mut changed = base.clone();
            changed[*field] = json!("other");
            let (_, other) = Definition::of(&changed).unwrap();
            assert_ne!(other.hash, pinned.hash, "{field}");
        }
        assert!(Definition::of(&json!({"description": "no name"})).is_none());
    }
}
