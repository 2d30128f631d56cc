//! ENTSO-E day-ahead price documents (`Publication_MarketDocument`, type `A44`) → quarter-hour
//! prices in EUR/MWh (SPEC §13).
//!
//! Parsing is all-or-nothing: a document is turned into intervals completely, or refused
//! with the path of the element that is wrong, before anything is stored. Every interval is
//! normalised to a UTC quarter-hour (a `PT60M` position becomes four quarters carrying its
//! price), so the store and the pricing lookup have one granularity whatever the source.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use roxmltree::{Document, Node};
use rust_decimal::Decimal;

use super::area::Area;

/// Length of a stored interval: the market time unit since 1 October 2025.
pub const QUARTER_SECS: i64 = 900;

/// One quarter-hour of one area.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpotInterval {
    pub area: Area,
    pub start: DateTime<Utc>,
    /// EUR/MWh, exactly as published.
    pub eur_mwh: Decimal,
    /// The resolution of the Period it came from (`PT15M` or `PT60M`).
    pub resolution: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpotDocument {
    /// The document's `mRID`.
    pub mrid: String,
    pub created: Option<String>,
    /// Sorted by (area, start), one per quarter-hour.
    pub intervals: Vec<SpotInterval>,
}

/// A refusal: the element (as a path from the root) and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{element}: {message}")]
pub struct XmlError {
    pub element: String,
    pub message: String,
}

fn err(element: impl Into<String>, message: impl Into<String>) -> XmlError {
    XmlError {
        element: element.into(),
        message: message.into(),
    }
}

fn children<'a, 'i>(n: Node<'a, 'i>, name: &'a str) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    n.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

fn child<'a, 'i>(n: Node<'a, 'i>, name: &'a str) -> Option<Node<'a, 'i>> {
    children(n, name).next()
}

fn text_of<'a>(n: Node<'a, '_>) -> &'a str {
    n.text().map_or("", str::trim)
}

fn required_text<'a>(n: Node<'a, '_>, name: &str, path: &str) -> Result<&'a str, XmlError> {
    let c = n
        .children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
        .ok_or_else(|| err(format!("{path}/{name}"), "missing"))?;
    let t = c.text().map_or("", str::trim);
    if t.is_empty() {
        return Err(err(format!("{path}/{name}"), "empty"));
    }
    Ok(t)
}

/// `yyyy-MM-ddTHH:mmZ` (ENTSO-E's form), also with seconds.
pub fn parse_utc(s: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%MZ")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%SZ"))
        .ok()
        .map(|n| n.and_utc())
}

/// Parses a whole document; nothing partial is ever returned.
pub fn parse_a44(xml: &str) -> Result<SpotDocument, XmlError> {
    let doc = Document::parse(xml).map_err(|e| err("document", format!("not XML: {e}")))?;
    let root = doc.root_element();
    let root_name = root.tag_name().name();
    if root_name != "Publication_MarketDocument" {
        return Err(err(
            root_name,
            "expected a Publication_MarketDocument (ENTSO-E A44)",
        ));
    }
    let rp = "Publication_MarketDocument";
    let mrid = required_text(root, "mRID", rp)?.to_owned();
    let kind = required_text(root, "type", rp)?;
    if kind != "A44" {
        return Err(err(
            format!("{rp}/type"),
            format!("is {kind:?}, expected \"A44\" (day-ahead prices)"),
        ));
    }
    let created = child(root, "createdDateTime").map(|n| text_of(n).to_owned());
    let mut out: BTreeMap<(Area, DateTime<Utc>), (Decimal, &'static str, String)> = BTreeMap::new();
    let series: Vec<Node> = children(root, "TimeSeries").collect();
    if series.is_empty() {
        return Err(err(format!("{rp}/TimeSeries"), "missing: no prices"));
    }
    for (si, ts) in series.iter().enumerate() {
        let tp = format!("{rp}/TimeSeries[{}]", si + 1);
        let eic = required_text(*ts, "in_Domain.mRID", &tp)?;
        let area = Area::from_eic(eic).ok_or_else(|| {
            err(
                format!("{tp}/in_Domain.mRID"),
                format!("{eic:?} is not a Nordic bidding zone (NO1–NO5, SE1–SE4, DK1, DK2, FI)"),
            )
        })?;
        if let Some(cur) = child(*ts, "currency_Unit.name") {
            if text_of(cur) != "EUR" {
                return Err(err(
                    format!("{tp}/currency_Unit.name"),
                    format!("is {:?}, expected \"EUR\"", text_of(cur)),
                ));
            }
        }
        if let Some(unit) = child(*ts, "price_Measure_Unit.name") {
            if text_of(unit) != "MWH" {
                return Err(err(
                    format!("{tp}/price_Measure_Unit.name"),
                    format!("is {:?}, expected \"MWH\"", text_of(unit)),
                ));
            }
        }
        let a03 = match child(*ts, "curveType").map(text_of) {
            None | Some("A01") => false,
            Some("A03") => true,
            Some(other) => {
                return Err(err(
                    format!("{tp}/curveType"),
                    format!("{other:?} is not supported (A01 or A03)"),
                ))
            }
        };
        let periods: Vec<Node> = children(*ts, "Period").collect();
        if periods.is_empty() {
            return Err(err(format!("{tp}/Period"), "missing"));
        }
        for (pi, period) in periods.iter().enumerate() {
            let pp = format!("{tp}/Period[{}]", pi + 1);
            for (start, eur_mwh, resolution) in expand_period(*period, &pp, a03)? {
                let key = (area, start);
                let ip = pp.clone();
                match out.get(&key) {
                    Some((prev, _, at)) if *prev != eur_mwh => {
                        return Err(err(
                            ip,
                            format!(
                                "{area} {} has price {eur_mwh} here but {prev} in {at}",
                                start.format("%Y-%m-%dT%H:%MZ")
                            ),
                        ));
                    }
                    Some(_) => {}
                    None => {
                        out.insert(key, (eur_mwh, resolution, ip));
                    }
                }
            }
        }
    }
    Ok(SpotDocument {
        mrid,
        created,
        intervals: out
            .into_iter()
            .map(|((area, start), (eur_mwh, resolution, _))| SpotInterval {
                area,
                start,
                eur_mwh,
                resolution,
            })
            .collect(),
    })
}

/// (quarter start, EUR/MWh, the Period's resolution).
type Quarter = (DateTime<Utc>, Decimal, &'static str);

/// One Period → (quarter start, EUR/MWh, resolution) for every quarter of its timeInterval.
fn expand_period(period: Node<'_, '_>, pp: &str, a03: bool) -> Result<Vec<Quarter>, XmlError> {
    let ti = child(period, "timeInterval")
        .ok_or_else(|| err(format!("{pp}/timeInterval"), "missing"))?;
    let tip = format!("{pp}/timeInterval");
    let time = |name: &str| -> Result<DateTime<Utc>, XmlError> {
        let s = required_text(ti, name, &tip)?;
        parse_utc(s).ok_or_else(|| {
            err(
                format!("{tip}/{name}"),
                format!("{s:?} is not a UTC time yyyy-MM-ddTHH:mmZ"),
            )
        })
    };
    let (start, end) = (time("start")?, time("end")?);
    if end <= start {
        return Err(err(format!("{tip}/end"), "is not after start"));
    }
    if start.timestamp().rem_euclid(QUARTER_SECS) != 0 {
        return Err(err(format!("{tip}/start"), "is not on a UTC quarter-hour"));
    }
    if (end - start).num_days() > 2 {
        return Err(err(tip, "is longer than two days"));
    }
    let res_text = required_text(period, "resolution", pp)?;
    let (resolution, step): (&'static str, i64) = match res_text {
        "PT15M" => ("PT15M", 900),
        "PT60M" | "PT1H" => ("PT60M", 3600),
        other => {
            return Err(err(
                format!("{pp}/resolution"),
                format!("{other:?} is not supported (PT15M or PT60M)"),
            ))
        }
    };
    let span = (end - start).num_seconds();
    if span % step != 0 {
        return Err(err(
            tip,
            format!("is not a whole number of {resolution} positions"),
        ));
    }
    let count = span / step;
    let mut prices: Vec<Option<Decimal>> = vec![None; usize::try_from(count).unwrap_or(0)];
    let mut last_pos = 0i64;
    for (ni, point) in children(period, "Point").enumerate() {
        let np = format!("{pp}/Point[{}]", ni + 1);
        let pos_text = required_text(point, "position", &np)?;
        let pos = i64::from_str(pos_text).map_err(|_| {
            err(
                format!("{np}/position"),
                format!("{pos_text:?} is not a whole number"),
            )
        })?;
        if pos < 1 || pos > count {
            return Err(err(
                format!("{np}/position"),
                format!("{pos} is outside 1..={count} (the Period's timeInterval at {resolution})"),
            ));
        }
        if pos <= last_pos {
            return Err(err(
                format!("{np}/position"),
                format!("{pos} does not follow position {last_pos}"),
            ));
        }
        last_pos = pos;
        let amount_text = required_text(point, "price.amount", &np)?;
        let amount = Decimal::from_str(amount_text)
            .ok()
            .filter(|d| d.abs() < Decimal::from(1_000_000))
            .ok_or_else(|| {
                err(
                    format!("{np}/price.amount"),
                    format!("{amount_text:?} is not a price in EUR/MWh"),
                )
            })?;
        if let Some(slot) = usize::try_from(pos - 1)
            .ok()
            .and_then(|i| prices.get_mut(i))
        {
            *slot = Some(amount);
        }
    }
    let mut out =
        Vec::with_capacity(prices.len() * usize::try_from(step / QUARTER_SECS).unwrap_or(1));
    let mut previous: Option<Decimal> = None;
    for (i, p) in prices.iter().enumerate() {
        let price = match (p, previous) {
            (Some(p), _) => *p,
            // A03: an omitted position repeats the previous one's price, also after the last point.
            (None, Some(prev)) if a03 => prev,
            (None, _) => {
                return Err(err(
                    format!("{pp}/Point"),
                    format!(
                        "position {} is missing{}",
                        i + 1,
                        if a03 {
                            " and has no previous position to repeat"
                        } else {
                            " (curveType A01 lists every position)"
                        }
                    ),
                ))
            }
        };
        previous = Some(price);
        let pos_start = start + TimeDelta::seconds(step * i as i64);
        for q in 0..(step / QUARTER_SECS) {
            out.push((
                pos_start + TimeDelta::seconds(q * QUARTER_SECS),
                price,
                resolution,
            ));
        }
    }
    Ok(out)
}
