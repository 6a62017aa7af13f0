//! Reading and editing agents' config files in place: JSON and JSONC (comments, trailing
//! commas) through `jsonc_parser`'s concrete syntax tree, so everything the edit does not touch
//! (other fields, comments, indentation, key order) stays as the user wrote it.

use std::path::Path;

use anyhow::{Context, anyhow};
use jsonc_parser::ParseOptions;
use jsonc_parser::cst::{CstInputValue, CstNode, CstObject, CstRootNode};
use serde_json::{Map, Value};

/// What a masked secret shows as in a diff.
const MASK: &str = "********";

/// The file's value, `None` when the file does not exist.
pub fn read_value(path: &Path) -> anyhow::Result<Option<Value>> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_value(&text, path).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read `{}`", path.display())),
    }
}

pub fn parse_value(text: &str, path: &Path) -> anyhow::Result<Value> {
    let value: Option<Value> =
        jsonc_parser::parse_to_serde_value(text, &ParseOptions::default())
            .with_context(|| format!("`{}` is not valid JSON", path.display()))?;
    Ok(value.unwrap_or(Value::Object(Map::new())))
}

fn parse(text: &str) -> anyhow::Result<CstRootNode> {
    CstRootNode::parse(text, &ParseOptions::default()).map_err(|e| anyhow!("{e}"))
}

fn input(value: &Value) -> CstInputValue {
    match value {
        Value::Null => CstInputValue::Null,
        Value::Bool(b) => CstInputValue::Bool(*b),
        Value::Number(n) => CstInputValue::Number(n.to_string()),
        Value::String(s) => CstInputValue::String(s.clone()),
        Value::Array(items) => CstInputValue::Array(items.iter().map(input).collect()),
        Value::Object(map) => {
            CstInputValue::Object(map.iter().map(|(k, v)| (k.clone(), input(v))).collect())
        }
    }
}

/// The object at `pointer` (keys from the root), if every step is an object.
fn object_at(root: &CstRootNode, pointer: &[String]) -> Option<CstObject> {
    let mut object = root.object_value()?;
    for key in pointer {
        object = object.object_value(key)?;
    }
    Some(object)
}

/// `text` with the entry `name` of the servers object at `pointer` rewritten: its transport
/// fields (`is_transport`) removed and `fields` put where the first of them was; every other
/// field, and every comment outside the removed fields, kept.
pub fn rewrite_entry(
    text: &str,
    pointer: &[String],
    name: &str,
    is_transport: fn(&str) -> bool,
    fields: &[(String, Value)],
) -> anyhow::Result<String> {
    let root = parse(text)?;
    let entry = object_at(&root, pointer)
        .and_then(|servers| servers.object_value(name))
        .ok_or_else(|| anyhow!("no server `{name}` in the file any more"))?;
    let mut at = None;
    for (index, prop) in entry.properties().into_iter().enumerate() {
        let key = prop.name().and_then(|n| n.decoded_value().ok());
        if key.as_deref().is_some_and(is_transport) {
            at.get_or_insert(index);
            prop.remove();
        }
    }
    for (index, (key, value)) in (at.unwrap_or(0)..).zip(fields) {
        entry.insert(index, key, input(value));
    }
    Ok(root.to_string())
}

/// How many comments `text` has (0 when it does not parse): an edit that lowers the count
/// dropped comments inside the fields it replaced, which the user is told about.
pub fn comments(text: &str) -> usize {
    fn count(node: &CstNode) -> usize {
        usize::from(node.is_comment()) + node.children().iter().map(count).sum::<usize>()
    }
    parse(text).map_or(0, |root| root.children().iter().map(count).sum())
}

/// `text` (Airlock's config, or empty for a new one) with `entries` added to `mcpServers`.
pub fn add_servers(text: &str, entries: &[(String, Map<String, Value>)]) -> anyhow::Result<String> {
    let text = if text.trim().is_empty() { "{}\n" } else { text };
    let root = parse(text)?;
    let servers = root.object_value_or_set().object_value_or_set("mcpServers");
    for (name, entry) in entries {
        servers.append(name, input(&Value::Object(entry.clone())));
    }
    Ok(root.to_string())
}

/// `text` with every value under an `env` or `headers` object replaced by a mask, for showing.
/// A text that does not parse is masked entirely.
pub fn mask(text: &str) -> String {
    fn walk(object: &CstObject) {
        for prop in object.properties() {
            let key = prop.name().and_then(|n| n.decoded_value().ok());
            let Some(child) = prop.object_value() else {
                continue;
            };
            if matches!(key.as_deref(), Some("env" | "headers")) {
                for secret in child.properties() {
                    secret.set_value(CstInputValue::String(MASK.into()));
                }
            } else {
                walk(&child);
            }
        }
    }
    match parse(text) {
        Ok(root) => {
            if let Some(object) = root.object_value() {
                walk(&object);
            }
            root.to_string()
        }
        Err(_) => format!("<{} bytes, not shown>\n", text.len()),
    }
}

/// A unified diff of `before` → `after` with secrets masked, headed by `path`.
pub fn masked_diff(path: &Path, before: Option<&str>, after: &str) -> String {
    let old = before.map(mask).unwrap_or_default();
    let new = mask(after);
    let shown = path.display().to_string();
    let old_header = if before.is_some() {
        shown.clone()
    } else {
        "/dev/null".to_string()
    };
    similar::TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(&old_header, &shown)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const VSCODE: &str = r#"{
  // workspace servers
  "servers": {
    "fetch": {
      "type": "stdio", // launched by VS Code
      "command": "uvx",
      "args": ["mcp-server-fetch",],
      "env": { "TOKEN": "secret-value" },
      "dev": { "watch": "src/**" },
    },
  },
}
"#;

    #[test]
    fn rewrite_keeps_other_fields_comments_and_trailing_commas() -> anyhow::Result<()> {
        let fields = vec![
            ("type".to_string(), json!("http")),
            ("url".to_string(), json!("http://127.0.0.1:4141/mcp/fetch")),
        ];
        let out = rewrite_entry(
            VSCODE,
            &["servers".to_string()],
            "fetch",
            super::super::clients::is_transport,
            &fields,
        )?;
        let value = parse_value(&out, Path::new("mcp.json"))?;
        assert_eq!(
            value["servers"]["fetch"],
            json!({ "type": "http", "url": "http://127.0.0.1:4141/mcp/fetch", "dev": { "watch": "src/**" } })
        );
        assert!(out.contains("// workspace servers"), "{out}");
        assert!(out.contains("\"dev\": { \"watch\": \"src/**\" },"), "{out}");
        assert_eq!(comments(VSCODE), 2);
        assert_eq!(comments(&out), 1, "the comment on `type` goes with it");
        Ok(())
    }

    #[test]
    fn mask_hides_every_env_and_headers_value_and_nothing_else() {
        let masked = mask(VSCODE);
        assert!(!masked.contains("secret-value"), "{masked}");
        assert!(masked.contains("\"TOKEN\": \"********\""), "{masked}");
        assert!(masked.contains("mcp-server-fetch"), "{masked}");
        let headers = mask(r#"{"a": {"headers": {"Authorization": "Bearer x"}, "url": "u"}}"#);
        assert!(
            !headers.contains("Bearer x") && headers.contains("\"u\""),
            "{headers}"
        );
    }

    #[test]
    fn servers_are_added_to_a_new_or_existing_config() -> anyhow::Result<()> {
        let entry = json!({ "command": "npx" });
        let entries = vec![(
            "memory".to_string(),
            entry.as_object().cloned().unwrap_or_default(),
        )];
        let fresh = add_servers("", &entries)?;
        assert_eq!(
            parse_value(&fresh, Path::new("c"))?,
            json!({ "mcpServers": { "memory": { "command": "npx" } } })
        );
        let existing = "{\n  \"gate\": { \"hold_seconds\": 40 }\n}\n";
        let added = add_servers(existing, &entries)?;
        assert_eq!(
            parse_value(&added, Path::new("c"))?,
            json!({ "gate": { "hold_seconds": 40 }, "mcpServers": { "memory": { "command": "npx" } } })
        );
        Ok(())
    }
}
