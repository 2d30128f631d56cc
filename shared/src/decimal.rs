//! Exact decimals from JSON: numbers and strings both, never through floating point.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Reads a JSON number or numeric string as an exact decimal. With serde_json's
/// `arbitrary_precision`, a number keeps its source digits, so `0.1` stays `0.1`.
pub fn from_json(v: &Value) -> Option<Decimal> {
    match v {
        Value::Number(n) => from_text(n.as_str()),
        Value::String(s) => from_text(s.trim()),
        _ => None,
    }
}

/// A decimal from a number's text (plain or scientific), exactly.
pub fn from_text(text: &str) -> Option<Decimal> {
    Decimal::from_str(text)
        .or_else(|_| Decimal::from_scientific(text))
        .ok()
}

/// Serde adapter for an exact decimal given as a JSON number or string.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    let v = Value::deserialize(d)?;
    from_json(&v).ok_or_else(|| serde::de::Error::custom(format!("{v} is not a decimal number")))
}

/// Serde adapter for an optional exact decimal.
pub fn deserialize_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(v) => from_json(&v)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("{v} is not a decimal number"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_strings_are_exact() {
        let v: Value =
            serde_json::from_str(r#"[0.1, "25", 12.50, 1e-3, "abc", true]"#).unwrap_or_default();
        let got: Vec<Option<String>> = v
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| from_json(x).map(|d| d.to_string()))
            .collect();
        assert_eq!(
            got,
            vec![
                Some("0.1".into()),
                Some("25".into()),
                Some("12.50".into()),
                Some("0.001".into()),
                None,
                None
            ]
        );
    }
}
