//! Spot prices and ECB rates in the store (SPEC §13).
//!
//! | item | pk | sk | doc |
//! |---|---|---|---|
//! | one area's delivery day | `SPOT#PRICE#<AREA>` | `<CET/CEST delivery day yyyy-MM-dd>` | `{intervals: {<UTC quarter start yyyy-MM-ddTHH:mmZ>: {eurMwh, resolution, document, created, importedAt}}}` |
//! | ECB rate | `SPOT#RATE#<CUR>` | `<yyyy-MM-dd>` | `{rate}` |
//!
//! A day of one area is one item (≤ 100 quarters, a few KiB), so it is written and read
//! atomically: a session is never priced from half an import. Intervals inside are keyed by
//! their UTC start, never a local time. A re-import merges into the day (conditional on the
//! item's version, retried on a race), replacing the intervals it carries.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::ecb::EcbRate;
use super::{
    day_bounds, delivery_day, quarters_between, Area, SpotDocument, SpotNeed, SpotPrices, EUR,
    QUARTER_SECS,
};
use crate::store::{query_all, Condition, Item, Key, Query, SkRange, Store, StoreError};

/// How far back the rate of a day is searched: the ECB skips weekends and TARGET holidays
/// (at most four days in a row, at Easter); two weeks leaves room for a late import.
pub const RATE_LOOKBACK_DAYS: u64 = 14;

pub fn price_pk(area: Area) -> String {
    format!("SPOT#PRICE#{}", area.name())
}

pub fn rate_pk(currency: &str) -> String {
    format!("SPOT#RATE#{currency}")
}

pub fn quarter_sk(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%MZ").to_string()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredPrice {
    #[serde(with = "rust_decimal::serde::str")]
    pub eur_mwh: Decimal,
    pub resolution: String,
    /// The `mRID` of the document it came from.
    pub document: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    pub imported_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct StoredRate {
    #[serde(with = "rust_decimal::serde::str")]
    rate: Decimal,
}

fn json<T: Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Invalid(e.to_string()))
}

/// What an import wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// (area, delivery day) → quarters written.
    pub days: BTreeMap<(Area, NaiveDate), usize>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct StoredDay {
    intervals: BTreeMap<String, StoredPrice>,
}

pub fn day_key(area: Area, day: NaiveDate) -> Key {
    Key::new(price_pk(area), day.format("%Y-%m-%d").to_string())
}

async fn read_day(
    store: &dyn Store,
    area: Area,
    day: NaiveDate,
) -> Result<Option<(StoredDay, u64)>, StoreError> {
    match store.get(&day_key(area, day)).await? {
        None => Ok(None),
        Some(item) => {
            let d: StoredDay = serde_json::from_str(&item.doc).map_err(|e| {
                StoreError::Invalid(format!("spot prices {area} {day} unreadable: {e}"))
            })?;
            Ok(Some((d, item.version)))
        }
    }
}

/// Stores every interval of a parsed document: one conditional write per (area, delivery day).
pub async fn put_document(
    store: &dyn Store,
    doc: &SpotDocument,
    now: DateTime<Utc>,
) -> Result<ImportSummary, StoreError> {
    let mut groups: BTreeMap<(Area, NaiveDate), BTreeMap<String, StoredPrice>> = BTreeMap::new();
    for i in &doc.intervals {
        let item = StoredPrice {
            eur_mwh: i.eur_mwh,
            resolution: i.resolution.to_owned(),
            document: doc.mrid.chars().take(128).collect(),
            created: doc.created.as_ref().map(|c| c.chars().take(64).collect()),
            imported_at: now,
        };
        groups
            .entry((i.area, delivery_day(i.start)))
            .or_default()
            .insert(quarter_sk(i.start), item);
    }
    let mut summary = ImportSummary::default();
    for ((area, day), intervals) in groups {
        summary.days.insert((area, day), intervals.len());
        // Read, merge, write on the version read; a concurrent import makes us read again.
        let mut tries = 0;
        loop {
            tries += 1;
            let (mut stored, condition, version) = match read_day(store, area, day).await? {
                Some((d, v)) => (d, Condition::Version(v), v + 1),
                None => (StoredDay::default(), Condition::NotExists, 1),
            };
            stored.intervals.extend(intervals.clone());
            let item = Item::new(day_key(area, day), json(&stored)?, version);
            match store.put(item, condition).await {
                Ok(()) => break,
                Err(e) if e.is_condition_failure() && tries < 5 => continue,
                Err(e) => return Err(e),
            }
        }
    }
    Ok(summary)
}

/// Stores ECB rates, one item per currency and date (a re-import overwrites).
pub async fn put_rates(store: &dyn Store, rates: &[EcbRate]) -> Result<usize, StoreError> {
    for r in rates {
        let item = Item::new(
            Key::new(rate_pk(&r.currency), r.date.format("%Y-%m-%d").to_string()),
            json(&StoredRate { rate: r.rate })?,
            1,
        );
        store.put(item, Condition::Always).await?;
    }
    Ok(rates.len())
}

/// Stored quarters of `area` whose start lies in `[from, to)`, ascending.
pub async fn prices_between(
    store: &dyn Store,
    area: Area,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(DateTime<Utc>, StoredPrice)>, StoreError> {
    if to <= from {
        return Ok(Vec::new());
    }
    let days = days_between(
        price_pk(area),
        delivery_day(from),
        delivery_day(to - TimeDelta::seconds(1)),
    );
    let mut out = Vec::new();
    for item in query_all(store, days).await? {
        let day: StoredDay = serde_json::from_str(&item.doc).map_err(|e| {
            StoreError::Invalid(format!(
                "spot prices {area} {} unreadable: {e}",
                item.key.sk
            ))
        })?;
        for (sk, p) in day.intervals {
            let Some(t) = super::entsoe::parse_utc(&sk) else {
                continue;
            };
            if t >= from && t < to {
                out.push((t, p));
            }
        }
    }
    out.sort_by_key(|(t, _)| *t);
    Ok(out)
}

/// The rate that applies to `day`: the ECB rate of the latest date strictly before it (1 for EUR).
pub async fn rate_for_day(
    store: &dyn Store,
    currency: &str,
    day: NaiveDate,
) -> Result<Option<(NaiveDate, Decimal)>, StoreError> {
    if currency == EUR {
        return Ok(Some((day, Decimal::ONE)));
    }
    let (Some(last), Some(first)) = (
        day.checked_sub_days(Days::new(1)),
        day.checked_sub_days(Days::new(RATE_LOOKBACK_DAYS)),
    ) else {
        return Ok(None);
    };
    let items = query_all(store, days_between(rate_pk(currency), first, last)).await?;
    // The newest stored date; an unreadable one is an error, never a fall back to the day
    // before (that would price a whole delivery day at the wrong rate).
    let Some(newest) = items.last() else {
        return Ok(None);
    };
    let unreadable = |e: &dyn std::fmt::Display| {
        StoreError::Invalid(format!(
            "ECB rate {currency} {} unreadable: {e}",
            newest.key.sk
        ))
    };
    let date = NaiveDate::from_str(&newest.key.sk).map_err(|e| unreadable(&e))?;
    let stored: StoredRate = serde_json::from_str(&newest.doc).map_err(|e| unreadable(&e))?;
    Ok(Some((date, stored.rate)))
}

/// The items of partition `pk` keyed by the days `first..=last` (`YYYY-MM-DD` sort keys).
fn days_between(pk: String, first: NaiveDate, last: NaiveDate) -> Query {
    Query {
        pk,
        range: SkRange::Between(
            first.format("%Y-%m-%d").to_string(),
            last.format("%Y-%m-%d").to_string(),
        ),
        limit: 100,
        cursor: None,
    }
}

/// Everything `need` asks for, as far as it is stored. Missing entries stay missing: the
/// pricing then names the first one.
pub async fn fetch(store: &dyn Store, need: &SpotNeed) -> Result<SpotPrices, StoreError> {
    let mut out = SpotPrices::default();
    let quarters = quarters_between(need.from, need.to);
    let (Some(first), Some(last)) = (quarters.first(), quarters.last()) else {
        return Ok(out);
    };
    let end = *last + TimeDelta::seconds(QUARTER_SECS);
    for (t, p) in prices_between(store, need.area, *first, end).await? {
        out.prices.insert((need.area, t), p.eur_mwh);
    }
    let days: BTreeSet<NaiveDate> = quarters.iter().map(|q| delivery_day(*q)).collect();
    for day in days {
        if let Some((_, rate)) = rate_for_day(store, &need.currency, day).await? {
            out.rates.insert((need.currency.clone(), day), rate);
        }
    }
    Ok(out)
}

/// One delivery day of one area as `ucc spot show` and `GET /api/spot/{area}/{day}` report it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DayReport {
    pub area: String,
    pub day: String,
    /// UTC bounds of the CET/CEST delivery day.
    pub start: String,
    pub end: String,
    /// 92, 96 or 100.
    pub expected_intervals: usize,
    pub stored_intervals: usize,
    pub complete: bool,
    pub intervals: Vec<DayInterval>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DayInterval {
    pub start: String,
    pub end: String,
    /// EUR/MWh as a decimal string, exact.
    pub eur_mwh: String,
    pub resolution: String,
    pub document: String,
}

pub async fn day_report(
    store: &dyn Store,
    area: Area,
    day: NaiveDate,
) -> Result<DayReport, StoreError> {
    let (start, end) = day_bounds(day);
    let expected = super::day_quarters(day).len();
    let rows = prices_between(store, area, start, end).await?;
    let utc = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let intervals: Vec<DayInterval> = rows
        .into_iter()
        .map(|(t, p)| DayInterval {
            start: utc(t),
            end: utc(t + TimeDelta::seconds(QUARTER_SECS)),
            eur_mwh: p.eur_mwh.to_string(),
            resolution: p.resolution,
            document: p.document,
        })
        .collect();
    Ok(DayReport {
        area: area.name().to_owned(),
        day: day.format("%Y-%m-%d").to_string(),
        start: utc(start),
        end: utc(end),
        expected_intervals: expected,
        stored_intervals: intervals.len(),
        complete: intervals.len() == expected,
        intervals,
    })
}
