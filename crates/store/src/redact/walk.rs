//! JSON values: members by name, strings by content, at any depth.
//!
//! Two forms of the same walk: [`View`] writes the redacted JSON text straight from the caller's
//! value (the store's per-call path, no second copy of the arguments), and
//! [`Redactor::in_place`] edits an owned value (decoded JSON text, [`Redactor::redact_value`]).
//! Besides a member's own name, a `{"name": "DB_PASSWORD", "value": "..."}` pair (also with
//! `key`, `header` or `field` for the name), as in Kubernetes environments and HAR headers,
//! gives its `value` the class of the name it carries.

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use super::Redactor;
use super::entropy::looks_random;
use super::keys::KeyClass;
use super::text::Level;

/// Members that carry the name of a sibling `value`.
const PAIR_NAMES: &[&str] = &["name", "key", "header", "field"];

impl Redactor {
    /// Redacts `value` in place; whether anything changed.
    pub(super) fn in_place(&self, value: &mut Value, level: Level) -> bool {
        match value {
            Value::String(s) => match self.text(s, level) {
                std::borrow::Cow::Borrowed(_) => false,
                std::borrow::Cow::Owned(redacted) => {
                    *s = redacted;
                    true
                }
            },
            Value::Array(_) | Value::Object(_) if level.too_deep() => {
                *value = Value::String(self.replacement.clone());
                true
            }
            Value::Array(items) => items.iter_mut().fold(false, |changed, item| {
                self.in_place(item, level.deeper()) | changed
            }),
            Value::Object(map) => {
                let pair = self.pair_class(map);
                let mut changed = false;
                for (k, v) in map.iter_mut() {
                    if self.replaces(self.member_class(k, pair), v) {
                        if v.as_str() != Some(self.replacement.as_str()) {
                            *v = Value::String(self.replacement.clone());
                            changed = true;
                        }
                    } else {
                        changed |= self.in_place(v, level.deeper());
                    }
                }
                changed
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => false,
        }
    }

    /// The class a pair's name gives its `value` member, if the object is such a pair.
    fn pair_class(&self, map: &Map<String, Value>) -> Option<KeyClass> {
        if !map.contains_key("value") {
            return None;
        }
        PAIR_NAMES
            .iter()
            .filter_map(|n| map.get(*n).and_then(Value::as_str))
            .map(|name| self.keys.classify(name))
            .find(|c| *c != KeyClass::Plain)
    }

    fn member_class(&self, key: &str, pair: Option<KeyClass>) -> KeyClass {
        match pair {
            Some(class) if key == "value" => class,
            _ => self.keys.classify(key),
        }
    }

    /// Whether a member of this class has its whole value replaced.
    fn replaces(&self, class: KeyClass, value: &Value) -> bool {
        match class {
            KeyClass::Secret => true,
            KeyClass::Weak => value.as_str().is_some_and(looks_random),
            KeyClass::Plain => false,
        }
    }
}

/// A `Serialize` view that writes `value` with secrets replaced.
pub(super) struct View<'a> {
    pub(super) value: &'a Value,
    pub(super) redactor: &'a Redactor,
    pub(super) level: Level,
}

impl View<'_> {
    fn child<'b>(&'b self, value: &'b Value) -> View<'b> {
        View {
            value,
            redactor: self.redactor,
            level: self.level.deeper(),
        }
    }
}

impl Serialize for View<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let r = self.redactor;
        match self.value {
            Value::String(s) => ser.serialize_str(&r.text(s, self.level)),
            Value::Array(_) | Value::Object(_) if self.level.too_deep() => {
                ser.serialize_str(&r.replacement)
            }
            Value::Array(items) => {
                let mut seq = ser.serialize_seq(Some(items.len()))?;
                for v in items {
                    seq.serialize_element(&self.child(v))?;
                }
                seq.end()
            }
            Value::Object(obj) => {
                let pair = r.pair_class(obj);
                let mut map = ser.serialize_map(Some(obj.len()))?;
                for (k, v) in obj {
                    if r.replaces(r.member_class(k, pair), v) {
                        map.serialize_entry(k, &r.replacement)?;
                    } else {
                        map.serialize_entry(k, &self.child(v))?;
                    }
                }
                map.end()
            }
            other => other.serialize(ser),
        }
    }
}
