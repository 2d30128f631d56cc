//! Shared by the pricing property suites.

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;

/// A minute-resolution instant within `span_minutes` after the given UTC start.
pub fn minutes_after(
    (y, mo, d, h): (i32, u32, u32, u32),
    span_minutes: i64,
) -> impl Strategy<Value = DateTime<Utc>> {
    let start = Utc
        .with_ymd_and_hms(y, mo, d, h, 0, 0)
        .single()
        .unwrap_or_default();
    (0..span_minutes).prop_map(move |m| start + Duration::minutes(m))
}
