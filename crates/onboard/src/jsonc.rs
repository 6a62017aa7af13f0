//! Reading and editing agents' config files in place: JSON and JSONC (comments, trailing
//! commas) through `jsonc_parser`'s concrete syntax tree, so everything the edit does not touch
//! (other fields, comments, indentation, key order) stays as the user wrote it.

use std::path::Path;

use jsonc_parser::ParseOptions;
use jsonc_parser::cst::{CstInputValue, CstNode, CstObject, CstRootNode};
use serde_json::{Map, Value};

use crate::{Error, Result, read_error};

/// The file's value, `None` when the file does not exist.
pub fn read_value(path: &Path) -> Result<Option<Value>> {
    match read_text(path)? {
        Some(text) => parse_value(&text, path).map(Some),
        None => Ok(None),
    }
}

/// The file's text, `None` when the file does not exist.
pub fn read_text(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(read_error(path)(e)),
    }
}

pub fn parse_value(text: &str, path: &Path) -> Result<Value> {
    let value: Option<Value> = jsonc_parser::parse_to_serde_value(text, &ParseOptions::default())
        .map_err(|e| Error::NotJson {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok(value.unwrap_or(Value::Object(Map::new())))
}

/// The syntax tree of `text`; an error says why it does not parse.
fn parse(text: &str) -> Result<CstRootNode, String> {
    CstRootNode::parse(text, &ParseOptions::default()).map_err(|e| e.to_string())
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
) -> Result<String, String> {
    let root = parse(text)?;
    let entry = object_at(&root, pointer)
        .and_then(|servers| servers.object_value(name))
        .ok_or_else(|| format!("no server `{name}` in the file any more"))?;
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
pub fn add_servers(text: &str, entries: &[(String, Map<String, Value>)]) -> Result<String, String> {
    let text = if text.trim().is_empty() { "{}\n" } else { text };
    let root = parse(text)?;
    let servers = root.object_value_or_set().object_value_or_set("mcpServers");
    for (name, entry) in entries {
        servers.append(name, input(&Value::Object(entry.clone())));
    }
    Ok(root.to_string())
}

/// `text` (Airlock's config) with the field `key` of the server `name` set to `value`: replaced
/// where it is, or added as the entry's last field; everything else kept as written.
pub fn set_server_field(
    text: &str,
    name: &str,
    key: &str,
    value: &Value,
) -> Result<String, String> {
    let root = parse(text)?;
    let entry = root
        .object_value()
        .and_then(|o| o.object_value("mcpServers"))
        .and_then(|servers| servers.object_value(name))
        .ok_or_else(|| format!("no server `{name}` in `mcpServers`"))?;
    match entry.get(key) {
        Some(prop) => prop.set_value(input(value)),
        None => {
            entry.append(key, input(value));
        }
    }
    Ok(root.to_string())
}

/// `text` with every secret replaced by a mask, for showing ([`crate::mask`] says what a secret
/// is). A text that does not parse is not shown at all.
pub fn mask(text: &str) -> String {
    match parse(text) {
        Ok(root) => {
            if let Some(object) = root.object_value() {
                crate::mask::mask_object(&object);
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
    fn rewrite_keeps_other_fields_comments_and_trailing_commas()
    -> Result<(), Box<dyn std::error::Error>> {
        let fields = vec![
            ("type".to_string(), json!("http")),
            ("url".to_string(), json!("http://127.0.0.1:4141/mcp/fetch")),
        ];
        let out = rewrite_entry(
            VSCODE,
            &["servers".to_string()],
            "fetch",
            |key: &str| matches!(key, "type" | "url" | "command" | "args" | "env" | "headers"),
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
    fn servers_are_added_to_a_new_or_existing_config() -> Result<(), Box<dyn std::error::Error>> {
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
