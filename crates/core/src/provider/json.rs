//! A shallow JSON parse for detection: only the containers and nested members that the
//! rules read are built; everything else is checked for well-formedness and skipped.

use serde_json::{Map, Value};

use super::MAX_PARSE_BYTES;

pub(super) fn parse_json(bytes: &[u8]) -> Option<Value> {
    if bytes.len() > MAX_PARSE_BYTES {
        return None;
    }
    // This runs on every capture, so only what detection reads is built: containers down to
    // JSON_DEPTH levels, and below the top level only the members named in NESTED_KEYS.
    // Everything else is checked for well-formedness and skipped without allocating.
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let root = Shallow {
        levels: JSON_DEPTH,
        nested: false,
    };
    let value = serde::de::DeserializeSeed::deserialize(root, &mut de).ok()?;
    de.end().ok()?;
    Some(value)
}

/// Containers nested deeper than this are replaced by `null` in the parsed body
/// (`_links.self[0].href` of WooCommerce is the deepest path detection reads).
const JSON_DEPTH: usize = 4;

/// The only members kept in objects below the top level: every key that detection reads
/// in a nested object or in the elements of a top-level array (`data.object.id`,
/// `sender.node_id`, `[0].sg_event_id`, …). A rule that reads a new nested key must add it
/// here. The top-level object is kept whole.
const NESTED_KEYS: &[&str] = &[
    "_id",
    "app_id",
    "commit_id",
    "dependency",
    "event",
    "full_name",
    "href",
    "id",
    "login",
    "msg",
    "node_id",
    "object",
    "rule",
    "secret_type",
    "security_advisory",
    "self",
    "sg_event_id",
    "sg_message_id",
    "token",
    "ts",
    "type",
    "uuid",
];

/// Deserializes JSON into a [`Value`] keeping `levels` levels of containers; objects that
/// are `nested` (not the top level) keep only the members named in [`NESTED_KEYS`].
#[derive(Clone, Copy)]
struct Shallow {
    levels: usize,
    nested: bool,
}

impl Shallow {
    fn child(self) -> Shallow {
        Shallow {
            levels: self.levels - 1,
            nested: true,
        }
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Shallow {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Shallow {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        if self.levels == 0 {
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            return Ok(Value::Null);
        }
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(self.child())? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        if self.levels == 0 {
            while map
                .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                .is_some()
            {}
            return Ok(Value::Null);
        }
        let mut out = Map::new();
        while let Some(key) = map.next_key_seed(Key {
            nested: self.nested,
        })? {
            match key {
                Some(k) => {
                    let v = map.next_value_seed(self.child())?;
                    out.insert(k, v);
                }
                None => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// An object member's name: `None` (not allocated) when a nested object's member is not one
/// of [`NESTED_KEYS`].
struct Key {
    nested: bool,
}

impl Key {
    fn keep(&self, k: &str) -> Option<String> {
        (!self.nested || NESTED_KEYS.contains(&k)).then(|| k.to_owned())
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Key {
    type Value = Option<String>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Key {
    type Value = Option<String>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.keep(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_parse_keeps_the_top_level_whole_and_only_the_nested_members_detection_reads() {
        let body = br#"{"id":"evt_1","extra":{"a":[1]},"data":{"object":{"id":"ch_1",
            "amount":100,"metadata":{"k":"v"}},"previous":{"x":1}}}"#;
        let v = parse_json(body).unwrap();
        assert_eq!(v["extra"], serde_json::json!({}));
        assert_eq!(v["data"], serde_json::json!({"object": {"id": "ch_1"}}));
        let batch = parse_json(br#"[{"event":"open","sg_event_id":"e1","email":"a@b"}]"#);
        assert_eq!(
            batch.unwrap(),
            serde_json::json!([{"event": "open", "sg_event_id": "e1"}])
        );
        assert_eq!(
            parse_json(br#"{"a":{"b":1}"#),
            None,
            "malformed JSON is refused"
        );
    }
}
