//! Spot prices and ECB rates in the store (SPEC §13).
//!
//! | item | pk | sk | doc |
//! |---|---|---|---|
//! | price of one quarter-hour | `SPOT#PRICE#<AREA>` | `<UTC start, yyyy-MM-ddTHH:mmZ>` | `{eurMwh, resolution, document, created, importedAt}` |
//! | ECB rate | `SPOT#RATE#<CUR>` | `<yyyy-MM-dd>` | `{rate}` |
//!
//! One scope (`SPOT`), so each write is one transaction of at most 100 items: a delivery
//! day of one area (≤ 100 quarters) is written atomically, never half. Keys are UTC and
//! fixed-width, so ascending order is time order. A re-import overwrites the same keys.

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
use crate::store::{
    query_all, Condition, Item, Key, Query, SkRange, Store, StoreError, WriteOp,
    MAX_TRANSACTION_OPS,
};

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

/// Stores every interval of a parsed document: one transaction per (area, delivery day).
pub async fn put_document(
    store: &dyn Store,
    doc: &SpotDocument,
    now: DateTime<Utc>,
) -> Result<ImportSummary, StoreError> {
    let mut groups: BTreeMap<(Area, NaiveDate), Vec<WriteOp>> = BTreeMap::new();
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
            .push(WriteOp::Put {
                item: Item::new(
                    Key::new(price_pk(i.area), quarter_sk(i.start)),
                    json(&item)?,
                    1,
                ),
                condition: Condition::Always,
            });
    }
    let mut summary = ImportSummary::default();
    for (k, ops) in groups {
        summary.days.insert(k, ops.len());
        // A delivery day has at most 100 quarters, so this is one transaction per day.
        let mut ops = ops;
        while !ops.is_empty() {
            let rest = ops.split_off(ops.len().min(MAX_TRANSACTION_OPS));
            store.transact(ops).await?;
            ops = rest;
        }
    }
    Ok(summary)
}

/// Stores ECB rates (100 per transaction).
pub async fn put_rates(store: &dyn Store, rates: &[EcbRate]) -> Result<usize, StoreError> {
    let mut ops = Vec::with_capacity(rates.len());
    for r in rates {
        ops.push(WriteOp::Put {
            item: Item::new(
                Key::new(rate_pk(&r.currency), r.date.format("%Y-%m-%d").to_string()),
                json(&StoredRate { rate: r.rate })?,
                1,
            ),
            condition: Condition::Always,
        });
    }
    let n = ops.len();
    while !ops.is_empty() {
        let rest = ops.split_off(ops.len().min(MAX_TRANSACTION_OPS));
        store.transact(ops).await?;
        ops = rest;
    }
    Ok(n)
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
    let last = to - TimeDelta::seconds(1);
    let q = Query {
        pk: price_pk(area),
        range: SkRange::Between(quarter_sk(from), quarter_sk(last)),
        limit: 200,
        cursor: None,
    };
    let mut out = Vec::new();
    for item in query_all(store, q).await? {
        let Some(t) = super::entsoe::parse_utc(&item.key.sk) else {
            continue;
        };
        if t < from || t >= to {
            continue;
        }
        if let Ok(p) = serde_json::from_str::<StoredPrice>(&item.doc) {
            out.push((t, p));
        }
    }
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
    let q = Query {
        pk: rate_pk(currency),
        range: SkRange::Between(
            first.format("%Y-%m-%d").to_string(),
            last.format("%Y-%m-%d").to_string(),
        ),
        limit: 100,
        cursor: None,
    };
    let items = query_all(store, q).await?;
    Ok(items.iter().rev().find_map(|i| {
        let d = NaiveDate::from_str(&i.key.sk).ok()?;
        let r: StoredRate = serde_json::from_str(&i.doc).ok()?;
        (d < day).then_some((d, r.rate))
    }))
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
