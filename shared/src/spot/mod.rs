//! Spot-price tariffs (SPEC §13): Nordic day-ahead prices and ECB euro reference rates.
//!
//! - `area.rs`: bidding zones and their EIC codes.
//! - `entsoe.rs`, `ecb.rs`: the two XML formats, parsed all-or-nothing (errors name the element).
//! - `store.rs`: prices and rates in the store (UTC-keyed quarter-hours, ISO dates), and the
//!   pre-fetch of everything one session needs.
//! - this file: [`SpotPrices`], the pure lookup the pricing engine is given, and the
//!   CET/CEST delivery-day rules.

pub mod area;
pub mod ecb;
pub mod entsoe;
pub mod fetch;
pub mod store;

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Datelike, Days, NaiveDate, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;

pub use area::Area;
pub use entsoe::{parse_a44, SpotDocument, SpotInterval, XmlError, QUARTER_SECS};

/// The market's delivery day is the CET/CEST calendar day.
pub const MARKET_ZONE: Tz = chrono_tz::Europe::Brussels;

/// The currency whose rate is 1 (prices are published in it).
pub const EUR: &str = "EUR";

/// The start of the quarter-hour containing `t` (UTC; quarters are aligned to the hour).
pub fn quarter_of(t: DateTime<Utc>) -> DateTime<Utc> {
    let s = t.timestamp();
    Utc.timestamp_opt(s - s.rem_euclid(QUARTER_SECS), 0)
        .single()
        .unwrap_or(t)
}

/// The CET/CEST delivery day containing `t`.
pub fn delivery_day(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&MARKET_ZONE).date_naive()
}

/// Delivery days the connector serves: the day-ahead market and today's time-zone rules
/// (before 1900 the zone database gives local mean time, whose days are not 92, 96 or 100
/// quarters long).
pub const FIRST_YEAR: i32 = 2000;
pub const LAST_YEAR: i32 = 2099;

/// A delivery day as given by an operator or a caller (`YYYY-MM-DD`, 2000–2099).
pub fn parse_delivery_day(raw: &str) -> Result<NaiveDate, String> {
    let day = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| format!("{raw:?} is not a date YYYY-MM-DD"))?;
    if !(FIRST_YEAR..=LAST_YEAR).contains(&day.year()) {
        return Err(format!(
            "{raw:?} is outside the delivery days served ({FIRST_YEAR}-01-01 to {LAST_YEAR}-12-31)"
        ));
    }
    Ok(day)
}

/// `[start, end)` of a delivery day in UTC: 24 h, or 23/25 h on DST days.
pub fn day_bounds(day: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let midnight = |d: NaiveDate| {
        MARKET_ZONE
            .from_local_datetime(&d.and_time(chrono::NaiveTime::MIN))
            .earliest()
            .map_or_else(
                || d.and_time(chrono::NaiveTime::MIN).and_utc(),
                |t| t.with_timezone(&Utc),
            )
    };
    let next = day.checked_add_days(Days::new(1)).unwrap_or(day);
    (midnight(day), midnight(next))
}

/// The quarter-hour starts of a delivery day (92, 96 or 100).
pub fn day_quarters(day: NaiveDate) -> Vec<DateTime<Utc>> {
    let (start, end) = day_bounds(day);
    quarters_between(start, end)
}

/// The starts of every quarter-hour overlapping `[from, to)` (at least the one containing
/// `from`, so a zero-length session still has its interval).
pub fn quarters_between(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut out = vec![quarter_of(from)];
    let step = TimeDelta::seconds(QUARTER_SECS);
    while let Some(next) = out.last().map(|t| *t + step) {
        if next >= to {
            break;
        }
        out.push(next);
    }
    out
}

/// What a session priced with a spot component needs from the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpotNeed {
    pub area: Area,
    /// The tariff's currency: the ECB rate converts EUR into it.
    pub currency: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// The first thing a session's pricing lacks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpotMissing {
    Price { area: Area, start: DateTime<Utc> },
    Rate { currency: String, day: NaiveDate },
}

impl fmt::Display for SpotMissing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpotMissing::Price { area, start } => write!(
                f,
                "no spot price for {area} interval {} (import the day-ahead document of delivery day {})",
                start.format("%Y-%m-%dT%H:%MZ"),
                delivery_day(*start)
            ),
            SpotMissing::Rate { currency, day } => write!(
                f,
                "no ECB EUR→{currency} rate dated before delivery day {day} (import the ECB reference rates)"
            ),
        }
    }
}

/// One interval's price as pricing uses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpotQuote {
    pub interval_start: DateTime<Utc>,
    pub eur_mwh: Decimal,
    /// EUR → tariff currency; 1 for EUR.
    pub rate: Decimal,
    /// Per kWh in the tariff's currency: `eur_mwh × rate ÷ 1000`, exact.
    pub per_kwh: Decimal,
}

/// Pre-fetched prices and rates: the pure input of spot pricing. Built by
/// `store::fetch` from the store, or by hand in tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpotPrices {
    /// (area, quarter start) → EUR/MWh.
    pub prices: BTreeMap<(Area, DateTime<Utc>), Decimal>,
    /// (currency, delivery day) → the rate that applies to that day.
    pub rates: BTreeMap<(String, NaiveDate), Decimal>,
}

impl SpotPrices {
    /// The price of the quarter containing `t`, converted into `currency`.
    pub fn quote(
        &self,
        area: Area,
        currency: &str,
        t: DateTime<Utc>,
    ) -> Result<SpotQuote, SpotMissing> {
        let start = quarter_of(t);
        let eur_mwh = *self
            .prices
            .get(&(area, start))
            .ok_or(SpotMissing::Price { area, start })?;
        let day = delivery_day(start);
        let rate = if currency == EUR {
            Decimal::ONE
        } else {
            *self
                .rates
                .get(&(currency.to_owned(), day))
                .ok_or_else(|| SpotMissing::Rate {
                    currency: currency.to_owned(),
                    day,
                })?
        };
        Ok(SpotQuote {
            interval_start: start,
            eur_mwh,
            rate,
            per_kwh: per_kwh(eur_mwh, rate),
        })
    }

    /// The first quarter of `need` without a price or rate, if any.
    pub fn first_missing(&self, need: &SpotNeed) -> Option<SpotMissing> {
        quarters_between(need.from, need.to)
            .into_iter()
            .find_map(|q| self.quote(need.area, &need.currency, q).err())
    }
}

/// EUR/MWh × rate ÷ 1000 = currency per kWh. Exact: dividing by 1000 only moves the point.
pub fn per_kwh(eur_mwh: Decimal, rate: Decimal) -> Decimal {
    eur_mwh * rate / Decimal::ONE_THOUSAND
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_day_served_has_92_96_or_100_quarters_and_others_are_refused() {
        let mut day = NaiveDate::from_ymd_opt(FIRST_YEAR, 1, 1).unwrap();
        let last = NaiveDate::from_ymd_opt(LAST_YEAR, 12, 31).unwrap();
        while day <= last {
            let n = day_quarters(day).len();
            assert!(matches!(n, 92 | 96 | 100), "{day}: {n} quarters");
            assert_eq!(parse_delivery_day(&day.to_string()), Ok(day));
            day = day.succ_opt().unwrap();
        }
        // Schemathesis found 0752-09-14: 97 quarters of local mean time.
        assert!(parse_delivery_day("0752-09-14")
            .unwrap_err()
            .contains("outside"));
        assert!(parse_delivery_day("2100-01-01").is_err());
        assert!(parse_delivery_day("2026-13-01")
            .unwrap_err()
            .contains("YYYY-MM-DD"));
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    #[test]
    fn delivery_days_have_92_96_or_100_quarters() {
        assert_eq!(day_quarters(day("2026-03-29")).len(), 92);
        assert_eq!(day_quarters(day("2026-06-01")).len(), 96);
        assert_eq!(day_quarters(day("2026-10-25")).len(), 100);
        let (s, e) = day_bounds(day("2026-10-25"));
        assert_eq!(s.to_rfc3339(), "2026-10-24T22:00:00+00:00");
        assert_eq!(e.to_rfc3339(), "2026-10-25T23:00:00+00:00");
    }

    #[test]
    fn the_delivery_day_is_cet() {
        let t = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .map(|d| d.with_timezone(&Utc))
                .unwrap_or_default()
        };
        assert_eq!(delivery_day(t("2026-10-24T22:00:00Z")), day("2026-10-25"));
        assert_eq!(delivery_day(t("2026-10-24T21:59:59Z")), day("2026-10-24"));
        assert_eq!(delivery_day(t("2026-12-31T23:00:00Z")), day("2027-01-01"));
    }
}
