//! A JSON document that borrows from its source text: the per-event input of pricing
//! (session-completed events, CDRs) is read through it instead of a `serde_json::Value`.
//!
//! Why: a `Value` owns every key and string and, with `arbitrary_precision`, every number's
//! digits, in B-tree maps; for a 0.5 KB CDR that is dozens of allocations, most of the time
//! `ucc price --cdrs` spent per CDR. Here keys, strings and numbers stay slices of the input
//! (an escaped string is the only copy), objects are small vectors.
//!
//! It reads exactly as `Value` does, so one set of field readers serves both (a `Value` is
//! seen through [`Doc::view`]): a repeated key's last value wins, a number is its source
//! text (never `f64`), and a value shown in an error message prints as `Value` prints it.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// The key under which `serde_json` (with `arbitrary_precision`) hands a number's source
/// text to a visitor, as a one-entry map. `serde_json::Value` and `rust_decimal` read
/// numbers through the same key.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Doc<'a> {
    Null,
    Bool(bool),
    /// The number's source text, e.g. `12.50` or `1e-3`.
    Number(Cow<'a, str>),
    String(Cow<'a, str>),
    Array(Vec<Doc<'a>>),
    /// In source order, repeated keys included ([`Doc::get`] takes the last).
    Object(Vec<(Cow<'a, str>, Doc<'a>)>),
}

impl<'a> Doc<'a> {
    /// Parses JSON text; the document borrows from `bytes`.
    pub fn parse(bytes: &'a [u8]) -> serde_json::Result<Doc<'a>> {
        serde_json::from_slice(bytes)
    }

    /// A borrowed view of a `Value`, so code reading documents also reads values.
    pub fn view(v: &'a Value) -> Doc<'a> {
        match v {
            Value::Null => Doc::Null,
            Value::Bool(b) => Doc::Bool(*b),
            Value::Number(n) => Doc::Number(Cow::Borrowed(n.as_str())),
            Value::String(s) => Doc::String(Cow::Borrowed(s)),
            Value::Array(items) => Doc::Array(items.iter().map(Doc::view).collect()),
            Value::Object(map) => Doc::Object(
                map.iter()
                    .map(|(k, v)| (Cow::Borrowed(k.as_str()), Doc::view(v)))
                    .collect(),
            ),
        }
    }

    /// The owned `Value` with the same content (keys sorted, a repeated key's last value).
    pub fn to_value(&self) -> Value {
        match self {
            Doc::Null => Value::Null,
            Doc::Bool(b) => Value::Bool(*b),
            Doc::Number(n) => serde_json::from_str::<serde_json::Number>(n)
                .map(Value::Number)
                .unwrap_or_else(|_| Value::String(n.to_string())),
            Doc::String(s) => Value::String(s.to_string()),
            Doc::Array(items) => Value::Array(items.iter().map(Doc::to_value).collect()),
            Doc::Object(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_value()))
                    .collect(),
            ),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Doc::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Doc::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_number_text(&self) -> Option<&str> {
        match self {
            Doc::Number(n) => Some(n),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Doc<'a>]> {
        match self {
            Doc::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn is_object(&self) -> bool {
        matches!(self, Doc::Object(_))
    }

    /// An integer as `serde_json::Number::as_i64` reads it: the number's text, whole.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_number_text().and_then(|n| n.parse().ok())
    }

    pub fn as_u64(&self) -> Option<u64> {
        self.as_number_text().and_then(|n| n.parse().ok())
    }

    /// An object's value for `key`; the last one if the key is repeated (as `Value` keeps).
    pub fn get(&self, key: &str) -> Option<&Doc<'a>> {
        match self {
            Doc::Object(entries) => entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// An object's keys, each once.
    pub fn keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = match self {
            Doc::Object(entries) => entries.iter().map(|(k, _)| k.as_ref()).collect(),
            _ => Vec::new(),
        };
        keys.sort_unstable();
        keys.dedup();
        keys
    }
}

impl fmt::Display for Doc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Error messages only: print as the `Value` would, so both paths say the same.
        fmt::Display::fmt(&self.to_value(), f)
    }
}

impl<'de> Deserialize<'de> for Doc<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DocVisitor)
    }
}

struct DocVisitor;

impl<'de> Visitor<'de> for DocVisitor {
    type Value = Doc<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Doc<'de>, E> {
        Ok(Doc::Null)
    }

    fn visit_none<E>(self) -> Result<Doc<'de>, E> {
        Ok(Doc::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Doc<'de>, E> {
        Ok(Doc::Bool(b))
    }

    // Without `arbitrary_precision` numbers would arrive here; keep their decimal text.
    fn visit_i64<E>(self, n: i64) -> Result<Doc<'de>, E> {
        Ok(Doc::Number(Cow::Owned(n.to_string())))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Doc<'de>, E> {
        Ok(Doc::Number(Cow::Owned(n.to_string())))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Doc<'de>, E> {
        serde_json::Number::from_f64(n)
            .map(|n| Doc::Number(Cow::Owned(n.to_string())))
            .ok_or_else(|| E::custom("not a finite number"))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Doc<'de>, E> {
        Ok(Doc::String(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Doc<'de>, E> {
        Ok(Doc::String(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Doc<'de>, E> {
        Ok(Doc::String(Cow::Owned(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Doc<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Doc::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Doc<'de>, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if entries.is_empty() && key.0 == NUMBER_TOKEN {
                let digits: String = map.next_value()?;
                return Ok(Doc::Number(Cow::Owned(digits)));
            }
            let value: Doc<'de> = map.next_value()?;
            entries.push((key.0, value));
        }
        Ok(Doc::Object(entries))
    }
}

/// An object key, borrowed unless it had escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_source_text_and_strings_borrow() -> serde_json::Result<()> {
        let text = br#"{"a": 12.50, "b": "x", "c": [1e-3, -0, null, true], "d": "\u00e5"}"#;
        let d = Doc::parse(text)?;
        assert_eq!(d.get("a").and_then(Doc::as_number_text), Some("12.50"));
        assert!(matches!(d.get("b"), Some(Doc::String(Cow::Borrowed("x")))));
        assert_eq!(d.get("d").and_then(Doc::as_str), Some("å"));
        let c = d.get("c").and_then(Doc::as_array).unwrap_or_default();
        assert_eq!(c.first().and_then(Doc::as_number_text), Some("1e-3"));
        assert_eq!(c.get(1).and_then(Doc::as_number_text), Some("-0"));
        Ok(())
    }

    #[test]
    fn reads_like_a_value() -> serde_json::Result<()> {
        // Repeated keys: the last wins; display matches `Value`'s text.
        let text = br#"{"z": 1, "a": {"k": "v"}, "z": 2.0}"#;
        let d = Doc::parse(text)?;
        let v: Value = serde_json::from_slice(text)?;
        assert_eq!(d.get("z").and_then(Doc::as_number_text), Some("2.0"));
        assert_eq!(d.to_string(), v.to_string());
        assert_eq!(Doc::view(&v).to_value(), v);
        assert_eq!(d.to_value(), v);
        assert_eq!(d.keys(), vec!["a", "z"]);
        Ok(())
    }

    #[test]
    fn refuses_what_serde_json_refuses() {
        for bad in [&b"{"[..], b"[1,]", b"{\"a\" 1}", b"01", b"\"\\x\"", b"nul"] {
            assert!(Doc::parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
