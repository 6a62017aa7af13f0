//! The canonical argument hash: what identical calls share.
//!
//! [`canonical_args_hash`] is computed over the *unredacted* arguments: two calls with different
//! secrets are different calls. Canonical form: object keys sorted by their UTF-8 bytes, no
//! whitespace, strings and numbers as `serde_json` writes them (so `1` and `1.0` differ).

use serde_json::Value;
use sha2::{Digest, Sha256};

/// sha256 (lower-case hex) of the canonical JSON of `args` (sorted keys, no whitespace).
/// The gate uses this same function for approval fingerprints and remembered decisions.
pub fn canonical_args_hash(args: &Value) -> String {
    let mut hasher = HashWriter(Sha256::new());
    write_canonical(&mut hasher, args);
    hex::encode(hasher.0.finalize())
}

/// The canonical JSON text of `value` (sorted keys, no whitespace).
pub fn canonical_json(value: &Value) -> String {
    let mut out = Vec::new();
    write_canonical(&mut out, value);
    String::from_utf8(out).unwrap_or_default()
}

struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn write_canonical<W: std::io::Write>(w: &mut W, value: &Value) {
    // Writes into a hasher or a Vec cannot fail.
    let _ = write_canonical_inner(w, value);
}

fn write_canonical_inner<W: std::io::Write>(w: &mut W, value: &Value) -> std::io::Result<()> {
    match value {
        Value::Array(items) => {
            w.write_all(b"[")?;
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    w.write_all(b",")?;
                }
                write_canonical_inner(w, v)?;
            }
            w.write_all(b"]")
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            w.write_all(b"{")?;
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    w.write_all(b",")?;
                }
                serde_json::to_writer(&mut *w, k)?;
                w.write_all(b":")?;
                write_canonical_inner(w, v)?;
            }
            w.write_all(b"}")
        }
        scalar => serde_json::to_writer(&mut *w, scalar).map_err(std::io::Error::other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_hash_ignores_key_order_and_sees_secrets() {
        let a = json!({"b": 1, "a": {"y": [1, 2], "x": "s"}});
        let b = json!({"a": {"x": "s", "y": [1, 2]}, "b": 1});
        assert_eq!(canonical_args_hash(&a), canonical_args_hash(&b));
        assert_eq!(canonical_json(&a), r#"{"a":{"x":"s","y":[1,2]},"b":1}"#);
        assert_ne!(
            canonical_args_hash(&json!({"password": "x"})),
            canonical_args_hash(&json!({"password": "y"}))
        );
        assert_ne!(
            canonical_args_hash(&json!([1, 2])),
            canonical_args_hash(&json!([2, 1]))
        );
        assert_eq!(canonical_args_hash(&a).len(), 64);
    }
}
