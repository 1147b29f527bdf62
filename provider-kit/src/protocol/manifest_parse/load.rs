//! First step of manifest parsing: YAML or JSON text → a bounded `serde_yaml::Value` tree.
//!
//! `serde_yaml::from_str::<Value>` expands every alias, so 30 KiB of `*a` references to one large anchor
//! build hundreds of millions of nodes (a "billion laughs"). This loader counts every node it builds, aliases
//! included, and stops at a budget. Nesting is bounded by the parsers themselves (128 levels for both
//! serde_yaml and serde_json), so nothing here can blow the stack. It also refuses duplicate keys and YAML
//! tags, which a manifest never needs and which would otherwise be silently resolved one way or another.

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Visitor};
use serde_yaml::{Mapping, Number, Value};
use std::cell::Cell;
use std::fmt;

/// At most this many values (scalars, sequences, mappings; an alias counts each time it is used).
/// A document of `MAX_MANIFEST_BYTES` without aliases cannot reach it: every value takes at least one byte.
pub(super) const MAX_NODES: usize = super::MAX_MANIFEST_BYTES;

/// Parses YAML (1.2 core schema, one document) into a tree. An empty document is `Value::Null`.
pub(super) fn yaml(text: &str) -> Result<Value, String> {
    let budget = Cell::new(MAX_NODES);
    Node(&budget)
        .deserialize(serde_yaml::Deserializer::from_str(text))
        .map_err(|e| e.to_string())
}

/// Parses JSON into the same tree as [`yaml`]. Whitespace alone is an empty document, as in YAML.
pub(super) fn json(text: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    let budget = Cell::new(MAX_NODES);
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Node(&budget)
        .deserialize(&mut de)
        .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(value)
}

/// Builds one value, taking one unit of the shared budget per node.
#[derive(Clone, Copy)]
struct Node<'b>(&'b Cell<usize>);

impl Node<'_> {
    fn take<E: de::Error>(self) -> Result<(), E> {
        match self.0.get().checked_sub(1) {
            Some(left) => {
                self.0.set(left);
                Ok(())
            }
            None => Err(E::custom(format_args!(
                "the document has more than {MAX_NODES} values (an alias counts each time it is used)"
            ))),
        }
    }

    fn leaf<E: de::Error>(self, value: Value) -> Result<Value, E> {
        self.take()?;
        Ok(value)
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML or JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.leaf(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.leaf(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.leaf(Value::Number(v.into()))
    }

    // Integers beyond 64 bits keep their magnitude as a float, as serde_json does without
    // `arbitrary_precision`; no manifest field is a number, so only the type matters.
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        self.leaf(Value::Number(Number::from(v as f64)))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        self.leaf(Value::Number(Number::from(v as f64)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.leaf(Value::Number(v.into()))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.leaf(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.leaf(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.leaf(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.leaf(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.take()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Sequence(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.take()?;
        let mut mapping = Mapping::new();
        while let Some(key) = map.next_key_seed(self)? {
            if mapping.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "duplicate key {}",
                    super::describe(&key)
                )));
            }
            let value = map.next_value_seed(self)?;
            mapping.insert(key, value);
        }
        Ok(Value::Mapping(mapping))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, _data: A) -> Result<Value, A::Error> {
        Err(de::Error::custom(
            "YAML tags (such as !custom) are not supported in a manifest",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::MAX_MANIFEST_BYTES;

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let flow = "[".repeat(MAX_MANIFEST_BYTES);
        assert!(
            yaml(&flow)
                .unwrap_err()
                .contains("recursion limit exceeded")
        );
        let object = "{\"a\":".repeat(MAX_MANIFEST_BYTES / 5);
        assert!(
            json(&object)
                .unwrap_err()
                .contains("recursion limit exceeded")
        );
        let block: String = (0..300)
            .map(|depth| format!("{}a:\n", " ".repeat(depth)))
            .collect();
        assert!(
            yaml(&block)
                .unwrap_err()
                .contains("recursion limit exceeded")
        );
        let fine: String = (0..100)
            .map(|depth| format!("{}a:\n", " ".repeat(depth)))
            .collect();
        assert!(yaml(&fine).is_ok(), "100 levels are within the limit");
    }

    #[test]
    fn aliases_cannot_multiply_a_small_document() {
        let anchor = "1,".repeat(8000);
        let aliases = "*a,".repeat(5000);
        let laughs = format!("x: &a [{anchor}1]\ny: [{aliases}*a]\n");
        assert!(laughs.len() < MAX_MANIFEST_BYTES);
        let error = yaml(&laughs).unwrap_err();
        assert!(
            error.contains("the document has more than 65536 values"),
            "{error}"
        );
        let reuse = yaml("x: &t [true, false]\ny: *t").unwrap();
        assert_eq!(reuse["y"], reuse["x"], "a few aliases are fine");
    }

    #[test]
    fn duplicate_keys_and_tags_are_refused() {
        assert!(
            yaml("a: 1\na: 2")
                .unwrap_err()
                .starts_with("duplicate key \"a\"")
        );
        assert!(
            json(r#"{"a": 1, "a": 2}"#)
                .unwrap_err()
                .starts_with("duplicate key \"a\"")
        );
        assert!(yaml("a: !custom 1").unwrap_err().contains("tags"));
        assert_eq!(
            yaml("a: !!bool true").unwrap()["a"],
            Value::Bool(true),
            "core tags resolve"
        );
    }

    #[test]
    fn json_and_yaml_build_the_same_tree() {
        let text =
            r#"{"a": [1, -2, 2.5, 123456789012345678901234567890, "x", null, true], "b": {}}"#;
        assert_eq!(yaml(text).unwrap(), json(text).unwrap());
        assert_eq!(json("  ").unwrap(), Value::Null);
        assert_eq!(yaml("").unwrap(), Value::Null);
    }
}
