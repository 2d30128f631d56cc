//! OCPI 2.2.1 Tariff: the model the engine prices with, and a strict parser.
//!
//! The parser refuses rather than guesses: a misspelled restriction key or an impossible time
//! would otherwise be dropped silently and the tariff would charge something nobody agreed to.
//! Everything the engine needs is converted once here (times to `NaiveTime`, weekdays to a bit
//! set, step sizes to integers) so pricing itself never fails on tariff content.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc, Weekday};
use rust_decimal::Decimal;
use serde_json::Value;

use super::json::{
    as_array, as_datetime, as_non_negative_decimal, as_non_negative_int, as_object, as_str, field,
    reject_unknown_keys, required, show, FieldError, JsonPath,
};

/// The four billable dimensions of OCPI 2.2.1 (`TariffDimensionType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    Energy,
    Flat,
    ParkingTime,
    Time,
}

impl Dimension {
    pub const ALL: [Dimension; 4] = [
        Dimension::Energy,
        Dimension::Time,
        Dimension::ParkingTime,
        Dimension::Flat,
    ];

    pub fn ocpi_name(self) -> &'static str {
        match self {
            Dimension::Energy => "ENERGY",
            Dimension::Flat => "FLAT",
            Dimension::ParkingTime => "PARKING_TIME",
            Dimension::Time => "TIME",
        }
    }

    fn from_ocpi(s: &str) -> Option<Self> {
        match s {
            "ENERGY" => Some(Dimension::Energy),
            "FLAT" => Some(Dimension::Flat),
            "PARKING_TIME" => Some(Dimension::ParkingTime),
            "TIME" => Some(Dimension::Time),
            _ => None,
        }
    }

    pub(crate) fn slot(self) -> usize {
        match self {
            Dimension::Energy => 0,
            Dimension::Time => 1,
            Dimension::ParkingTime => 2,
            Dimension::Flat => 3,
        }
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.ocpi_name())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriceComponent {
    pub dimension: Dimension,
    /// Per unit, excl. VAT: per kWh, per hour, or per session for FLAT.
    pub price: Decimal,
    /// Percent. `None` means "no VAT applicable", which OCPI distinguishes from 0 %.
    pub vat: Option<Decimal>,
    /// In Wh (ENERGY) or seconds (TIME, PARKING_TIME); 0 means no rounding.
    pub step_size: u64,
    /// SPEC §13: an ENERGY component indexed to this area's day-ahead price; `price` is then
    /// the markup per kWh added to the spot price of the interval the energy was used in.
    pub spot: Option<crate::spot::Area>,
}

impl PriceComponent {
    /// Price including this component's VAT (equal to `price` when no VAT applies).
    pub fn incl_vat(&self, excl: Decimal) -> Decimal {
        match self.vat {
            Some(vat) => {
                // percent → fraction by moving the decimal point (no division)
                let mut rate = vat;
                match rate.set_scale(vat.scale() + 2) {
                    Ok(()) => excl + excl * rate,
                    Err(_) => excl + excl * vat / Decimal::ONE_HUNDRED,
                }
            }
            None => excl,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reservation {
    Reservation,
    ReservationExpires,
}

/// Set of weekdays as a bit mask (Monday = bit 0): checked once per period, so it is cheap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WeekdaySet(u8);

impl WeekdaySet {
    pub fn insert(&mut self, d: Weekday) {
        self.0 |= 1 << d.num_days_from_monday();
    }

    pub fn contains(self, d: Weekday) -> bool {
        self.0 & (1 << d.num_days_from_monday()) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn days(self) -> impl Iterator<Item = Weekday> {
        [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ]
        .into_iter()
        .filter(move |d| self.contains(*d))
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Restrictions {
    pub start_time: Option<NaiveTime>,
    pub end_time: Option<NaiveTime>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub min_kwh: Option<Decimal>,
    pub max_kwh: Option<Decimal>,
    pub min_current: Option<Decimal>,
    pub max_current: Option<Decimal>,
    pub min_power: Option<Decimal>,
    pub max_power: Option<Decimal>,
    /// Seconds since session start.
    pub min_duration: Option<u64>,
    pub max_duration: Option<u64>,
    /// Empty means every day (OCPI: an empty list restricts nothing).
    pub day_of_week: WeekdaySet,
    pub reservation: Option<Reservation>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TariffElement {
    pub price_components: Vec<PriceComponent>,
    pub restrictions: Restrictions,
}

impl TariffElement {
    /// First component of a dimension: OCPI allows one per dimension per element, we keep the
    /// first if a producer sends more (and warn at parse time).
    pub fn component(&self, d: Dimension) -> Option<&PriceComponent> {
        self.price_components.iter().find(|c| c.dimension == d)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Price {
    pub excl_vat: Decimal,
    pub incl_vat: Option<Decimal>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tariff {
    pub id: String,
    pub currency: String,
    pub country_code: Option<String>,
    pub party_id: Option<String>,
    pub elements: Vec<TariffElement>,
    pub min_price: Option<Price>,
    pub max_price: Option<Price>,
    pub start_date_time: Option<DateTime<Utc>>,
    pub end_date_time: Option<DateTime<Utc>>,
    /// Non-fatal findings (reservation elements, duplicated components...), each naming a path.
    pub warnings: Vec<String>,
}

impl Tariff {
    /// The day-ahead area of the tariff's spot-indexed ENERGY components, if any (one per tariff).
    pub fn spot_area(&self) -> Option<crate::spot::Area> {
        self.elements
            .iter()
            .flat_map(|e| e.price_components.iter())
            .find_map(|c| c.spot)
    }

    /// OCPI: active from `start_date_time` (inclusive) until `end_date_time` (exclusive), UTC.
    pub fn is_active_at(&self, t: DateTime<Utc>) -> bool {
        self.start_date_time.is_none_or(|s| s <= t) && self.end_date_time.is_none_or(|e| t < e)
    }

    /// Distinct local times of day at which some element's time window opens or closes.
    pub(crate) fn time_boundaries(&self) -> Vec<NaiveTime> {
        let mut out: Vec<NaiveTime> = self
            .elements
            .iter()
            .flat_map(|e| [e.restrictions.start_time, e.restrictions.end_time])
            .flatten()
            .collect();
        out.sort();
        out.dedup();
        out
    }

    pub(crate) fn kwh_boundaries(&self) -> Vec<Decimal> {
        let mut out: Vec<Decimal> = self
            .elements
            .iter()
            .flat_map(|e| [e.restrictions.min_kwh, e.restrictions.max_kwh])
            .flatten()
            .collect();
        out.sort();
        out.dedup();
        out
    }

    pub(crate) fn duration_boundaries(&self) -> Vec<u64> {
        let mut out: Vec<u64> = self
            .elements
            .iter()
            .flat_map(|e| [e.restrictions.min_duration, e.restrictions.max_duration])
            .flatten()
            .collect();
        out.sort();
        out.dedup();
        out
    }

    pub(crate) fn has_day_restrictions(&self) -> bool {
        self.elements.iter().any(|e| {
            let r = &e.restrictions;
            r.start_date.is_some() || r.end_date.is_some() || !r.day_of_week.is_empty()
        })
    }
}

/// A tariff refused by [`parse_tariff`]; `Display` starts with the JSON path.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TariffError(pub FieldError);

impl TariffError {
    pub fn path(&self) -> &str {
        self.0.path.as_str()
    }
}

impl From<FieldError> for TariffError {
    fn from(e: FieldError) -> Self {
        Self(e)
    }
}

const TARIFF_KEYS: &[&str] = &[
    "country_code",
    "party_id",
    "id",
    "currency",
    "type",
    "tariff_alt_text",
    "tariff_alt_url",
    "min_price",
    "max_price",
    "elements",
    "start_date_time",
    "end_date_time",
    "energy_mix",
    "last_updated",
];
const ELEMENT_KEYS: &[&str] = &["price_components", "restrictions"];
const COMPONENT_KEYS: &[&str] = &["type", "price", "vat", "step_size", "spot"];
const RESTRICTION_KEYS: &[&str] = &[
    "start_time",
    "end_time",
    "start_date",
    "end_date",
    "min_kwh",
    "max_kwh",
    "min_current",
    "max_current",
    "min_power",
    "max_power",
    "min_duration",
    "max_duration",
    "day_of_week",
    "reservation",
];
const TARIFF_TYPES: &[&str] = &[
    "AD_HOC_PAYMENT",
    "PROFILE_CHEAP",
    "PROFILE_FAST",
    "PROFILE_GREEN",
    "REGULAR",
];

/// Parses and validates an OCPI 2.2.1 Tariff object.
pub fn parse_tariff(v: &Value) -> Result<Tariff, TariffError> {
    parse_at(v, &JsonPath::root())
}

/// As [`parse_tariff`], for a tariff nested in a larger document (a CDR's `tariffs[0]`, a
/// tenant's `tariffs[2]`) so messages carry the full path.
pub fn parse_tariff_at(v: &Value, path: &JsonPath) -> Result<Tariff, TariffError> {
    parse_at(v, path)
}

fn parse_at(v: &Value, path: &JsonPath) -> Result<Tariff, TariffError> {
    let obj = as_object(v, path)?;
    reject_unknown_keys(obj, TARIFF_KEYS, path)?;
    let mut warnings = Vec::new();

    let id = as_str(required(obj, "id", path)?, &path.key("id"))?.to_owned();
    if id.is_empty() {
        return Err(FieldError::new(&path.key("id"), "must not be empty").into());
    }
    let currency = as_str(required(obj, "currency", path)?, &path.key("currency"))?;
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(FieldError::new(
            &path.key("currency"),
            format!("\"{currency}\" is not an ISO 4217 code such as \"NOK\""),
        )
        .into());
    }
    if !currency.chars().all(|c| c.is_ascii_uppercase()) {
        warnings.push(format!(
            "{}: \"{currency}\" read as \"{}\"",
            path.key("currency"),
            currency.to_ascii_uppercase()
        ));
    }
    let currency = currency.to_ascii_uppercase();
    let country_code = opt_string(obj, "country_code", path)?;
    let party_id = opt_string(obj, "party_id", path)?;
    if let Some(t) = field(obj, "type") {
        let p = path.key("type");
        let s = as_str(t, &p)?;
        if !TARIFF_TYPES.contains(&s) {
            return Err(FieldError::new(&p, format!("\"{s}\" is not a TariffType")).into());
        }
    }
    let min_price = opt_price(obj, "min_price", path)?;
    let max_price = opt_price(obj, "max_price", path)?;
    if let (Some(lo), Some(hi)) = (min_price, max_price) {
        if lo.excl_vat > hi.excl_vat {
            return Err(FieldError::new(
                &path.key("min_price"),
                format!(
                    "excl_vat {} is above max_price.excl_vat {}",
                    lo.excl_vat, hi.excl_vat
                ),
            )
            .into());
        }
    }
    let start_date_time = field(obj, "start_date_time")
        .map(|v| as_datetime(v, &path.key("start_date_time")))
        .transpose()?;
    let end_date_time = field(obj, "end_date_time")
        .map(|v| as_datetime(v, &path.key("end_date_time")))
        .transpose()?;
    if let (Some(s), Some(e)) = (start_date_time, end_date_time) {
        if e <= s {
            return Err(FieldError::new(
                &path.key("end_date_time"),
                format!(
                    "{} is not after start_date_time {}",
                    e.to_rfc3339(),
                    s.to_rfc3339()
                ),
            )
            .into());
        }
    }

    let elements_path = path.key("elements");
    let raw_elements = as_array(required(obj, "elements", path)?, &elements_path)?;
    if raw_elements.is_empty() {
        return Err(FieldError::new(&elements_path, "must contain at least one element").into());
    }
    let mut elements = Vec::with_capacity(raw_elements.len());
    let mut spot_area: Option<crate::spot::Area> = None;
    for (i, e) in raw_elements.iter().enumerate() {
        let el = parse_element(e, &elements_path.index(i), &mut warnings)?;
        // One area per tariff: a session is priced against one day-ahead series.
        for (j, c) in el.price_components.iter().enumerate() {
            match (spot_area, c.spot) {
                (Some(a), Some(b)) if a != b => {
                    return Err(FieldError::new(
                        &elements_path
                            .index(i)
                            .key("price_components")
                            .index(j)
                            .key("spot")
                            .key("area"),
                        format!("is {b}, but an earlier component of this tariff uses {a}: one area per tariff"),
                    )
                    .into())
                }
                (None, Some(b)) => spot_area = Some(b),
                _ => {}
            }
        }
        elements.push(el);
    }

    Ok(Tariff {
        id,
        currency,
        country_code,
        party_id,
        elements,
        min_price,
        max_price,
        start_date_time,
        end_date_time,
        warnings,
    })
}

fn opt_string(
    obj: &serde_json::Map<String, Value>,
    key: &str,
    path: &JsonPath,
) -> Result<Option<String>, FieldError> {
    field(obj, key)
        .map(|v| as_str(v, &path.key(key)).map(str::to_owned))
        .transpose()
}

fn opt_price(
    obj: &serde_json::Map<String, Value>,
    key: &str,
    path: &JsonPath,
) -> Result<Option<Price>, FieldError> {
    let Some(v) = field(obj, key) else {
        return Ok(None);
    };
    let p = path.key(key);
    // OCPI 2.1.1 sent a bare number here; accept it as an amount excl. VAT.
    if v.is_number() || v.is_string() {
        let excl_vat = as_non_negative_decimal(v, &p)?;
        return Ok(Some(Price {
            excl_vat,
            incl_vat: None,
        }));
    }
    let o = as_object(v, &p)?;
    reject_unknown_keys(o, &["excl_vat", "incl_vat"], &p)?;
    let excl_vat = as_non_negative_decimal(required(o, "excl_vat", &p)?, &p.key("excl_vat"))?;
    let incl_vat = field(o, "incl_vat")
        .map(|v| as_non_negative_decimal(v, &p.key("incl_vat")))
        .transpose()?;
    if let Some(incl) = incl_vat {
        if incl < excl_vat {
            return Err(FieldError::new(
                &p.key("incl_vat"),
                format!("{incl} is below excl_vat {excl_vat}"),
            ));
        }
    }
    Ok(Some(Price { excl_vat, incl_vat }))
}

fn parse_element(
    v: &Value,
    path: &JsonPath,
    warnings: &mut Vec<String>,
) -> Result<TariffElement, FieldError> {
    let obj = as_object(v, path)?;
    reject_unknown_keys(obj, ELEMENT_KEYS, path)?;
    let pc_path = path.key("price_components");
    let raw = as_array(required(obj, "price_components", path)?, &pc_path)?;
    if raw.is_empty() {
        return Err(FieldError::new(
            &pc_path,
            "must contain at least one price component",
        ));
    }
    let mut price_components: Vec<PriceComponent> = Vec::with_capacity(raw.len());
    for (i, c) in raw.iter().enumerate() {
        let p = pc_path.index(i);
        let c = parse_component(c, &p, warnings)?;
        if price_components.iter().any(|x| x.dimension == c.dimension) {
            warnings.push(format!(
                "{p}: second {} component in one element is ignored (the first one applies)",
                c.dimension
            ));
        }
        price_components.push(c);
    }
    let restrictions = match field(obj, "restrictions") {
        Some(r) => parse_restrictions(r, &path.key("restrictions"))?,
        None => Restrictions::default(),
    };
    if let Some(kind) = restrictions.reservation {
        let what = match kind {
            Reservation::Reservation => "RESERVATION",
            Reservation::ReservationExpires => "RESERVATION_EXPIRES",
        };
        warnings.push(format!(
            "{path}: {what} element describes reservation costs; sessions carry no reservation, so it is never priced"
        ));
    }
    Ok(TariffElement {
        price_components,
        restrictions,
    })
}

fn parse_component(
    v: &Value,
    path: &JsonPath,
    warnings: &mut Vec<String>,
) -> Result<PriceComponent, FieldError> {
    let obj = as_object(v, path)?;
    reject_unknown_keys(obj, COMPONENT_KEYS, path)?;
    let tp = path.key("type");
    let t = as_str(required(obj, "type", path)?, &tp)?;
    let dimension = Dimension::from_ocpi(t).ok_or_else(|| {
        FieldError::new(
            &tp,
            format!("\"{t}\" is not a tariff dimension (ENERGY, FLAT, PARKING_TIME, TIME)"),
        )
    })?;
    let price = as_non_negative_decimal(required(obj, "price", path)?, &path.key("price"))?;
    let vat = field(obj, "vat")
        .map(|v| as_non_negative_decimal(v, &path.key("vat")))
        .transpose()?;
    let step_size = match field(obj, "step_size") {
        Some(s) => as_non_negative_int(s, &path.key("step_size"))?,
        None => {
            if dimension != Dimension::Flat {
                warnings.push(format!(
                    "{}: missing (OCPI requires it); billing without step rounding",
                    path.key("step_size")
                ));
            }
            0
        }
    };
    let spot = field(obj, "spot")
        .map(|v| parse_spot(v, &path.key("spot"), dimension))
        .transpose()?;
    Ok(PriceComponent {
        dimension,
        price,
        vat,
        step_size,
        spot,
    })
}

/// `"spot": {"area": "NO1"}` (SPEC §13), ENERGY only.
fn parse_spot(
    v: &Value,
    path: &JsonPath,
    dimension: Dimension,
) -> Result<crate::spot::Area, FieldError> {
    if dimension != Dimension::Energy {
        return Err(FieldError::new(
            path,
            "only an ENERGY component can be indexed to the spot price",
        ));
    }
    let obj = as_object(v, path)?;
    reject_unknown_keys(obj, &["area"], path)?;
    let ap = path.key("area");
    let area = as_str(required(obj, "area", path)?, &ap)?;
    area.parse()
        .map_err(|e: crate::spot::area::UnknownArea| FieldError::new(&ap, e.to_string()))
}

fn parse_restrictions(v: &Value, path: &JsonPath) -> Result<Restrictions, FieldError> {
    let obj = as_object(v, path)?;
    reject_unknown_keys(obj, RESTRICTION_KEYS, path)?;
    let time = |k: &str| -> Result<Option<NaiveTime>, FieldError> {
        field(obj, k)
            .map(|v| parse_hhmm(v, &path.key(k)))
            .transpose()
    };
    let date = |k: &str| -> Result<Option<NaiveDate>, FieldError> {
        field(obj, k)
            .map(|v| parse_date(v, &path.key(k)))
            .transpose()
    };
    let dec = |k: &str| -> Result<Option<Decimal>, FieldError> {
        field(obj, k)
            .map(|v| as_non_negative_decimal(v, &path.key(k)))
            .transpose()
    };
    let int = |k: &str| -> Result<Option<u64>, FieldError> {
        field(obj, k)
            .map(|v| as_non_negative_int(v, &path.key(k)))
            .transpose()
    };
    let mut r = Restrictions {
        start_time: time("start_time")?,
        end_time: time("end_time")?,
        start_date: date("start_date")?,
        end_date: date("end_date")?,
        min_kwh: dec("min_kwh")?,
        max_kwh: dec("max_kwh")?,
        min_current: dec("min_current")?,
        max_current: dec("max_current")?,
        min_power: dec("min_power")?,
        max_power: dec("max_power")?,
        min_duration: int("min_duration")?,
        max_duration: int("max_duration")?,
        day_of_week: WeekdaySet::default(),
        reservation: None,
    };
    if let Some(days) = field(obj, "day_of_week") {
        let dp = path.key("day_of_week");
        for (i, d) in as_array(days, &dp)?.iter().enumerate() {
            let p = dp.index(i);
            let s = as_str(d, &p)?;
            let day = match s {
                "MONDAY" => Weekday::Mon,
                "TUESDAY" => Weekday::Tue,
                "WEDNESDAY" => Weekday::Wed,
                "THURSDAY" => Weekday::Thu,
                "FRIDAY" => Weekday::Fri,
                "SATURDAY" => Weekday::Sat,
                "SUNDAY" => Weekday::Sun,
                _ => {
                    return Err(FieldError::new(
                        &p,
                        format!("\"{s}\" is not a DayOfWeek (MONDAY ... SUNDAY)"),
                    ))
                }
            };
            r.day_of_week.insert(day);
        }
    }
    if let Some(res) = field(obj, "reservation") {
        let p = path.key("reservation");
        r.reservation = Some(match as_str(res, &p)? {
            "RESERVATION" => Reservation::Reservation,
            "RESERVATION_EXPIRES" => Reservation::ReservationExpires,
            other => {
                return Err(FieldError::new(
                    &p,
                    format!("\"{other}\" is not RESERVATION or RESERVATION_EXPIRES"),
                ))
            }
        });
    }
    let pairs: [(&str, Option<Decimal>, Option<Decimal>); 3] = [
        ("kwh", r.min_kwh, r.max_kwh),
        ("current", r.min_current, r.max_current),
        ("power", r.min_power, r.max_power),
    ];
    for (name, lo, hi) in pairs {
        if let (Some(lo), Some(hi)) = (lo, hi) {
            if lo > hi {
                return Err(FieldError::new(
                    &path.key(&format!("min_{name}")),
                    format!("{lo} is above max_{name} {hi}: the element could never apply"),
                ));
            }
        }
    }
    if let (Some(lo), Some(hi)) = (r.min_duration, r.max_duration) {
        if lo > hi {
            return Err(FieldError::new(
                &path.key("min_duration"),
                format!("{lo} is above max_duration {hi}: the element could never apply"),
            ));
        }
    }
    if let (Some(s), Some(e)) = (r.start_date, r.end_date) {
        if e <= s {
            return Err(FieldError::new(
                &path.key("end_date"),
                format!("{e} is not after start_date {s} (end_date is exclusive)"),
            ));
        }
    }
    Ok(r)
}

/// OCPI: `([0-1][0-9]|2[0-3]):[0-5][0-9]`, exactly five characters.
fn parse_hhmm(v: &Value, path: &JsonPath) -> Result<NaiveTime, FieldError> {
    let bad = || FieldError::new(path, format!("{} is not a time HH:MM", show(v)));
    let s = v.as_str().ok_or_else(bad)?;
    let b = s.as_bytes();
    if b.len() != 5
        || b[2] != b':'
        || !b
            .iter()
            .enumerate()
            .all(|(i, c)| i == 2 || c.is_ascii_digit())
    {
        return Err(bad());
    }
    let h = u32::from(b[0] - b'0') * 10 + u32::from(b[1] - b'0');
    let m = u32::from(b[3] - b'0') * 10 + u32::from(b[4] - b'0');
    NaiveTime::from_hms_opt(h, m, 0)
        .filter(|_| h < 24 && m < 60)
        .ok_or_else(bad)
}

fn parse_date(v: &Value, path: &JsonPath) -> Result<NaiveDate, FieldError> {
    let bad = || FieldError::new(path, format!("{} is not a date YYYY-MM-DD", show(v)));
    let s = v.as_str().ok_or_else(bad)?;
    if s.len() != 10 {
        return Err(bad());
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;
    use serde_json::json;

    fn base() -> Value {
        json!({
            "id": "T1", "currency": "NOK",
            "elements": [
                {"price_components": [{"type": "ENERGY", "price": 2.5, "vat": 25, "step_size": 1}]},
                {"price_components": [{"type": "TIME", "price": "60", "step_size": 60}],
                 "restrictions": {"start_time": "17:00", "end_time": "08:00", "day_of_week": ["MONDAY"]}}
            ]
        })
    }

    fn err(v: &Value) -> String {
        match parse_tariff(v) {
            Ok(_) => "accepted".to_owned(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn parses_a_valid_tariff() -> Result<(), TariffError> {
        let t = parse_tariff(&base())?;
        assert_eq!(t.elements.len(), 2);
        assert_eq!(t.elements[0].price_components[0].price, dec!(2.5));
        assert_eq!(t.elements[1].price_components[0].price, dec!(60));
        assert!(t.elements[1]
            .restrictions
            .day_of_week
            .contains(Weekday::Mon));
        assert!(t.warnings.is_empty());
        Ok(())
    }

    #[test]
    fn bad_time_names_the_path() {
        let mut v = base();
        v["elements"][1]["restrictions"]["start_time"] = json!("25:00");
        assert_eq!(
            err(&v),
            "elements[1].restrictions.start_time: \"25:00\" is not a time HH:MM"
        );
        v["elements"][1]["restrictions"]["start_time"] = json!("7:00");
        assert!(err(&v).starts_with("elements[1].restrictions.start_time"));
    }

    type Case = (fn(&mut Value), &'static str);

    #[test]
    fn refuses_bad_content_with_paths() {
        let cases: Vec<Case> = vec![
            (
                |v| v["elements"][0]["price_components"][0]["price"] = json!(-1),
                "elements[0].price_components[0].price: -1 is negative",
            ),
            (
                |v| v["elements"][0]["price_components"][0]["type"] = json!("KWH"),
                "elements[0].price_components[0].type: \"KWH\" is not a tariff dimension",
            ),
            (
                |v| v["elements"][1]["restrictions"]["day_of_week"] = json!(["FUNDAY"]),
                "elements[1].restrictions.day_of_week[0]: \"FUNDAY\" is not a DayOfWeek",
            ),
            (
                |v| v["elements"][0]["price_components"][0]["step_size"] = json!(-5),
                "elements[0].price_components[0].step_size: -5 is negative",
            ),
            (
                |v| v["elements"][1]["restrictions"]["dayOfWeek"] = json!(["MONDAY"]),
                "elements[1].restrictions.dayOfWeek: unknown field (did you mean \"day_of_week\"?)",
            ),
            (|v| v["elemnts"] = json!([]), "elemnts: unknown field"),
            (
                |v| v["elements"] = json!([]),
                "elements: must contain at least one element",
            ),
            (
                |v| v["currency"] = json!("kr"),
                "currency: \"kr\" is not an ISO 4217 code",
            ),
            (
                |v| v["elements"][1]["restrictions"]["min_kwh"] = json!(10),
                "accepted",
            ),
            (
                |v| {
                    v["elements"][1]["restrictions"]["min_kwh"] = json!(10);
                    v["elements"][1]["restrictions"]["max_kwh"] = json!(5)
                },
                "elements[1].restrictions.min_kwh: 10 is above max_kwh 5",
            ),
            (
                |v| v["elements"][1]["restrictions"]["start_date"] = json!("2024-13-01"),
                "elements[1].restrictions.start_date: \"2024-13-01\" is not a date",
            ),
            (
                |v| v["min_price"] = json!({"excl_vat": 5, "incl_vat": 4}),
                "min_price.incl_vat: 4 is below excl_vat 5",
            ),
        ];
        for (mutate, want) in cases {
            let mut v = base();
            mutate(&mut v);
            let got = err(&v);
            assert!(got.starts_with(want), "got {got:?}, want {want:?}");
        }
    }

    #[test]
    fn reservation_elements_warn() -> Result<(), TariffError> {
        let mut v = base();
        v["elements"][1]["restrictions"]["reservation"] = json!("RESERVATION");
        let t = parse_tariff(&v)?;
        assert_eq!(t.warnings.len(), 1);
        assert!(t.warnings[0].starts_with("elements[1]: RESERVATION element"));
        Ok(())
    }

    #[test]
    fn activity_window_is_half_open() -> Result<(), TariffError> {
        let mut v = base();
        v["start_date_time"] = json!("2024-01-01T00:00:00Z");
        v["end_date_time"] = json!("2024-02-01T00:00:00Z");
        let t = parse_tariff(&v)?;
        let at = |s: &str| super::super::json::parse_datetime(s).is_some_and(|d| t.is_active_at(d));
        assert!(at("2024-01-01T00:00:00Z"));
        assert!(!at("2024-02-01T00:00:00Z"));
        assert!(!at("2023-12-31T23:59:59Z"));
        Ok(())
    }
}
