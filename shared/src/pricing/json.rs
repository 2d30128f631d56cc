//! Small helpers for reading JSON by hand with a path, so every refusal can say *where*.
//!
//! We read tariffs and CDRs from `serde_json::Value` instead of deriving `Deserialize`
//! because serde's messages name a line and column, while a tenant administrator editing a
//! tariff needs `elements[1].restrictions.start_time`. Decimals are read from the number's
//! source text (serde_json's `arbitrary_precision`), never through `f64`.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::doc::Doc;

/// A JSON path such as `elements[1].restrictions.start_time`. Segments borrow their parent,
/// so building a path costs nothing; it is rendered to text only when an error is reported
/// (parsing sits on the per-session hot path).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonPath<'a> {
    Root,
    Key(&'a JsonPath<'a>, &'a str),
    Index(&'a JsonPath<'a>, usize),
}

impl<'a> JsonPath<'a> {
    pub const fn root() -> JsonPath<'static> {
        JsonPath::Root
    }

    pub fn key<'b>(&'b self, key: &'b str) -> JsonPath<'b> {
        JsonPath::Key(self, key)
    }

    pub fn index(&self, i: usize) -> JsonPath<'_> {
        JsonPath::Index(self, i)
    }

    fn render(&self, out: &mut String) {
        match self {
            JsonPath::Root => {}
            JsonPath::Key(parent, key) => {
                parent.render(out);
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            JsonPath::Index(parent, i) => {
                parent.render(out);
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
}

impl fmt::Display for JsonPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.render(&mut s);
        if s.is_empty() {
            f.write_str("(root)")
        } else {
            f.write_str(&s)
        }
    }
}

/// What is wrong at a path; callers wrap it into their own error type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Rendered path, `(root)` for the document itself.
    pub path: String,
    pub message: String,
}

impl FieldError {
    pub fn new(path: &JsonPath<'_>, message: impl Into<String>) -> Self {
        Self {
            path: path.to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for FieldError {}

pub type FieldResult<T> = Result<T, FieldError>;

/// Short rendering of a value for messages; long values are cut so one line stays one line.
pub fn show(v: &Value) -> String {
    cut(v.to_string())
}

fn cut(s: String) -> String {
    if s.chars().count() > 60 {
        let cut: String = s.chars().take(57).collect();
        format!("{cut}...")
    } else {
        s
    }
}

pub fn as_object<'a>(v: &'a Value, path: &JsonPath) -> FieldResult<&'a Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| FieldError::new(path, format!("expected an object, got {}", show(v))))
}

pub fn as_array<'a>(v: &'a Value, path: &JsonPath) -> FieldResult<&'a Vec<Value>> {
    v.as_array()
        .ok_or_else(|| FieldError::new(path, format!("expected an array, got {}", show(v))))
}

/// Present and not `null`.
pub fn field<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

pub fn required<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    path: &JsonPath,
) -> FieldResult<&'a Value> {
    field(obj, key).ok_or_else(|| FieldError::new(&path.key(key), "is required"))
}

pub fn as_str<'a>(v: &'a Value, path: &JsonPath) -> FieldResult<&'a str> {
    v.as_str()
        .ok_or_else(|| FieldError::new(path, format!("expected a string, got {}", show(v))))
}

/// Parses a decimal from a JSON number (its exact source text) or a numeric string.
/// Exact decimal from a JSON number or numeric string (the crate-wide reader).
pub use crate::decimal::from_json as decimal_of;

/// Largest magnitude accepted for any number we compute with. Far above any real price,
/// meter register or volume, and low enough that products and sums of such numbers stay
/// inside `Decimal`'s range, so arithmetic on input-derived values can never overflow.
pub const MAX_MAGNITUDE: Decimal = Decimal::from_parts(3_567_587_328, 232, 0, false, 0); // 1e12

pub fn as_decimal(v: &Value, path: &JsonPath) -> FieldResult<Decimal> {
    Doc::view(v).decimal(path)
}

pub fn as_non_negative_decimal(v: &Value, path: &JsonPath) -> FieldResult<Decimal> {
    Doc::view(v).non_negative_decimal(path)
}

/// A whole number ≥ 0. OCPI declares `step_size` and durations as `int`; `300.0` is accepted
/// because some producers serialise all numbers with a fraction, `300.5` is not.
pub fn as_non_negative_int(v: &Value, path: &JsonPath) -> FieldResult<u64> {
    let d = as_decimal(v, path)?;
    if d.is_sign_negative() && !d.is_zero() {
        return Err(FieldError::new(path, format!("{d} is negative")));
    }
    if d.fract() != Decimal::ZERO {
        return Err(FieldError::new(path, format!("{d} is not a whole number")));
    }
    u64::try_from(d.trunc()).map_err(|_| FieldError::new(path, format!("{d} is too large")))
}

/// RFC 3339 with offset; OCPI also allows a timestamp without zone designator, meaning UTC.
pub fn as_datetime(v: &Value, path: &JsonPath) -> FieldResult<DateTime<Utc>> {
    Doc::view(v).datetime(path)
}

/// The same readers over a borrowed [`Doc`] (the per-event path); the `Value` readers above
/// go through these.
impl<'a> Doc<'a> {
    pub fn object(&self, path: &JsonPath) -> FieldResult<&Self> {
        if self.is_object() {
            Ok(self)
        } else {
            Err(FieldError::new(
                path,
                format!("expected an object, got {}", self.show()),
            ))
        }
    }

    pub fn array(&self, path: &JsonPath) -> FieldResult<&[Doc<'a>]> {
        self.as_array()
            .ok_or_else(|| FieldError::new(path, format!("expected an array, got {}", self.show())))
    }

    /// Present and not `null`.
    pub fn field(&self, key: &str) -> Option<&Doc<'a>> {
        self.get(key).filter(|v| !v.is_null())
    }

    pub fn required(&self, key: &str, path: &JsonPath) -> FieldResult<&Doc<'a>> {
        self.field(key)
            .ok_or_else(|| FieldError::new(&path.key(key), "is required"))
    }

    pub fn string(&self, path: &JsonPath) -> FieldResult<&str> {
        self.as_str()
            .ok_or_else(|| FieldError::new(path, format!("expected a string, got {}", self.show())))
    }

    /// Short rendering for messages, as [`show`] renders a `Value`.
    pub fn show(&self) -> String {
        cut(self.to_string())
    }

    /// An exact decimal from a number or numeric string, within [`MAX_MAGNITUDE`].
    pub fn decimal(&self, path: &JsonPath) -> FieldResult<Decimal> {
        let d = match self {
            Doc::Number(n) => crate::decimal::from_text(n),
            Doc::String(s) => crate::decimal::from_text(s.trim()),
            _ => None,
        }
        .ok_or_else(|| FieldError::new(path, format!("{} is not a number", self.show())))?;
        if d.abs() > MAX_MAGNITUDE {
            return Err(FieldError::new(path, format!("{d} is too large")));
        }
        Ok(d)
    }

    pub fn non_negative_decimal(&self, path: &JsonPath) -> FieldResult<Decimal> {
        let d = self.decimal(path)?;
        if d.is_sign_negative() && !d.is_zero() {
            return Err(FieldError::new(path, format!("{d} is negative")));
        }
        Ok(d)
    }

    /// RFC 3339 with offset, or without zone designator meaning UTC (OCPI).
    pub fn datetime(&self, path: &JsonPath) -> FieldResult<DateTime<Utc>> {
        let s = self.string(path)?;
        parse_datetime(s)
            .ok_or_else(|| FieldError::new(path, format!("\"{s}\" is not an RFC 3339 date-time")))
    }
}

pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc())
}

/// Refuses keys outside `known`, suggesting the intended key for near misses such as
/// `dayOfWeek` or `step-size`: a silently ignored restriction would price every session wrong.
pub fn reject_unknown_keys(
    obj: &Map<String, Value>,
    known: &[&str],
    path: &JsonPath,
) -> FieldResult<()> {
    for key in obj.keys() {
        if known.contains(&key.as_str()) {
            continue;
        }
        let wanted = normalise_key(key);
        let hint = known
            .iter()
            .find(|k| normalise_key(k) == wanted)
            .map(|k| format!(" (did you mean \"{k}\"?)"))
            .unwrap_or_default();
        return Err(FieldError::new(
            &path.key(key),
            format!("unknown field{hint}"),
        ));
    }
    Ok(())
}

fn normalise_key(k: &str) -> String {
    k.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magnitude_bound_is_1e12() {
        assert_eq!(MAX_MAGNITUDE, Decimal::from(1_000_000_000_000i64));
        let root = JsonPath::root();
        assert!(as_decimal(&Value::from(1_000_000_000_000i64), &root).is_ok());
        assert!(as_decimal(&Value::String("1e13".into()), &root).is_err());
    }

    #[test]
    fn paths_render_like_jq() {
        let root = JsonPath::root();
        let e = root.key("elements");
        let i = e.index(1);
        assert_eq!(
            i.key("restrictions").to_string(),
            "elements[1].restrictions"
        );
        assert_eq!(JsonPath::root().to_string(), "(root)");
    }

    #[test]
    fn misspelled_keys_get_a_hint() -> Result<(), serde_json::Error> {
        let v: Value = serde_json::from_str(r#"{"dayOfWeek": []}"#)?;
        let obj = v.as_object().cloned().unwrap_or_default();
        let root = JsonPath::root();
        let err = reject_unknown_keys(&obj, &["day_of_week"], &root.key("r"));
        assert_eq!(
            err.map_err(|e| e.to_string()),
            Err("r.dayOfWeek: unknown field (did you mean \"day_of_week\"?)".to_owned())
        );
        Ok(())
    }

    #[test]
    fn datetimes_accept_offsets_and_bare_utc() {
        assert_eq!(
            parse_datetime("2022-01-13T16:55:00+01:00").map(|d| d.to_rfc3339()),
            Some("2022-01-13T15:55:00+00:00".to_owned())
        );
        assert!(parse_datetime("2022-01-13T16:55:00").is_some());
        assert!(parse_datetime("13/01/2022").is_none());
    }
}
