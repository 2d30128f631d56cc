//! OCPI 2.2.1 pricing engine (SPEC §5). Design notes: `README.md` in this directory.
//!
//! Entry points:
//! - [`price_session`]: a session-completed event + a tariff + tenant settings → a
//!   [`SessionQuote`] (OCPI totals, breakdown, invoice amounts). Used by session delivery.
//! - [`select_tariff`]: the tenant's tariff for a session (site mapping, else first active).
//! - [`price_cdr`]: an OCPI CDR's own charging periods, as `ucc price --cdr` does.
//! - [`parse_tariff`]: strict tariff validation, also used by the tenant config validator.

pub mod cdr;
pub mod doc;
pub mod engine;
pub mod explain;
pub mod invoice;
pub mod json;
pub mod output;
pub mod periods;
mod restrictions;
pub mod spot;
pub mod tariff;
pub mod timezone;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;

pub use cdr::{parse_cdr, Cdr};
pub use engine::{price_periods, Amount, DimensionLine, PeriodLine, PricingResult};
pub use invoice::{invoice_amounts, minor_unit, InvoiceAmounts, InvoiceSettings};
pub use periods::{derive_periods, ChargingPeriod, Reading};
pub use tariff::{parse_tariff, parse_tariff_at, Dimension, Tariff, TariffError};
pub use timezone::{parse_zone, zone_for_country, ZoneError};

use crate::session::SessionCompleted;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    #[error("no tariff is active at {0}")]
    NoActiveTariff(String),
    #[error("siteTariffs maps site {site} to tariff \"{tariff_id}\", which is not in tariffs")]
    UnknownSiteTariff { site: String, tariff_id: String },
    #[error("tariff \"{tariff_id}\" is in {tariff_currency} but the tenant invoices in {invoice_currency}")]
    CurrencyMismatch {
        tariff_id: String,
        tariff_currency: String,
        invoice_currency: String,
    },
    /// SPEC §13: a spot-indexed tariff and a price or rate not (yet) in the store.
    #[error("{0}")]
    SpotMissing(crate::spot::SpotMissing),
    #[error("pricesIncludeVat is true, but {path} of tariff \"{tariff_id}\" adds {vat} % VAT on top: VAT would be charged twice; set that vat to 0 or pricesIncludeVat to false")]
    VatTwice {
        tariff_id: String,
        path: String,
        vat: Decimal,
    },
}

/// SPEC §6: with `pricesIncludeVat`, tariff prices are gross, so a component that adds VAT
/// of its own would charge it twice. The path of the first such component, if any.
pub fn component_vat_path(tariff: &Tariff) -> Option<(String, Decimal)> {
    tariff.elements.iter().enumerate().find_map(|(i, e)| {
        e.price_components.iter().enumerate().find_map(|(j, c)| {
            c.vat
                .filter(|v| !v.is_zero())
                .map(|v| (format!("elements[{i}].price_components[{j}].vat"), v))
        })
    })
}

/// A priced session, ready to become a Utility Cloud transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionQuote {
    pub tariff_id: String,
    pub ocpi: PricingResult,
    pub invoice: InvoiceAmounts,
    pub warnings: Vec<String>,
}

/// SPEC §5 tariff choice: `siteTariffs[siteId]` if the session's site is mapped, else the
/// first tariff active at the session start (`start_date_time ≤ start < end_date_time`).
pub fn select_tariff<'a>(
    tariffs: &'a [Tariff],
    site_tariffs: &BTreeMap<String, String>,
    site_id: Option<i64>,
    session_start: DateTime<Utc>,
) -> Result<&'a Tariff, PricingError> {
    if let Some(site) = site_id {
        let key = site.to_string();
        if let Some(id) = site_tariffs.get(&key) {
            return tariffs.iter().find(|t| &t.id == id).ok_or_else(|| {
                PricingError::UnknownSiteTariff {
                    site: key,
                    tariff_id: id.clone(),
                }
            });
        }
    }
    tariffs
        .iter()
        .find(|t| t.is_active_at(session_start))
        .ok_or_else(|| PricingError::NoActiveTariff(session_start.to_rfc3339()))
}

/// The periods a session is priced over: its own OCPI `chargingPeriods` if it has them, else
/// periods derived from its meter readings (just start and end without meter values) and cut
/// at the tariff's boundaries.
pub fn session_periods(session: &SessionCompleted, tariff: &Tariff, tz: Tz) -> Vec<ChargingPeriod> {
    if let Some(cp) = &session.charging_periods {
        if !cp.is_empty() {
            return cp.clone();
        }
    }
    let mut periods = derive_periods(&session.readings(), tariff, tz);
    if periods.is_empty() {
        // A zero-length session still owes its FLAT fee; keep one empty period to carry it.
        let kwh = (session.meter_read_end_wh - session.meter_read_start_wh)
            / rust_decimal::Decimal::from(1000);
        periods.push(ChargingPeriod {
            start: session.timestamp_start,
            end: session.timestamp_end,
            energy_kwh: Some(kwh),
            charging_secs: Some(rust_decimal::Decimal::ZERO),
            ..ChargingPeriod::default()
        });
    }
    periods
}

/// Prices a session with an already chosen tariff and computes its invoice amounts. A
/// spot-indexed tariff needs prices: use [`price_session_with_spot`]; here it fails with
/// [`PricingError::SpotMissing`] rather than price without them.
pub fn price_session(
    session: &SessionCompleted,
    tariff: &Tariff,
    settings: &InvoiceSettings,
) -> Result<SessionQuote, PricingError> {
    price_session_with_spot(
        session,
        tariff,
        settings,
        &crate::spot::SpotPrices::default(),
    )
}

/// As [`price_session`], with the day-ahead prices and ECB rates the session may need
/// (pre-fetched by the caller: `spot::store::fetch(spot::pricing::spot_need(..))`).
pub fn price_session_with_spot(
    session: &SessionCompleted,
    tariff: &Tariff,
    settings: &InvoiceSettings,
    prices: &crate::spot::SpotPrices,
) -> Result<SessionQuote, PricingError> {
    if tariff.currency != settings.currency {
        return Err(PricingError::CurrencyMismatch {
            tariff_id: tariff.id.clone(),
            tariff_currency: tariff.currency.clone(),
            invoice_currency: settings.currency.clone(),
        });
    }
    if settings.prices_include_vat {
        if let Some((path, vat)) = component_vat_path(tariff) {
            return Err(PricingError::VatTwice {
                tariff_id: tariff.id.clone(),
                path,
                vat,
            });
        }
    }
    let mut warnings = Vec::new();
    if !tariff.is_active_at(session.timestamp_start) {
        warnings.push(format!(
            "tariff \"{}\" is not active at the session start {}; used because the site is mapped to it",
            tariff.id,
            session.timestamp_start.to_rfc3339()
        ));
    }
    let periods = if tariff.spot_area().is_some() {
        spot::spot_periods(session, tariff, settings.time_zone, prices)
            .map_err(PricingError::SpotMissing)?
    } else {
        session_periods(session, tariff, settings.time_zone)
    };
    let ocpi = price_periods(&periods, tariff, settings.time_zone);
    let invoice = invoice_amounts(&ocpi, settings, session.full_consumption_kwh());
    warnings.extend(ocpi.warnings.iter().cloned());
    Ok(SessionQuote {
        tariff_id: tariff.id.clone(),
        ocpi,
        invoice,
        warnings,
    })
}

/// Prices a CDR's own charging periods (not re-split: they are the CPO's record).
pub fn price_cdr(cdr: &Cdr, tariff: &Tariff, tz: Tz) -> PricingResult {
    let mut periods = cdr.periods.clone();
    if let Some(last) = periods.last_mut() {
        last.end = cdr.end;
    }
    price_periods(&periods, tariff, tz)
}

/// SPEC §5 zone resolution for a CDR: explicit zone, else `cdr_location.time_zone`, else the
/// single zone of `cdr_location.country`.
pub fn resolve_cdr_zone(cdr: &Cdr, explicit: Option<&str>) -> Result<Tz, ZoneError> {
    if let Some(z) = explicit {
        return parse_zone(z);
    }
    if let Some(z) = &cdr.time_zone {
        return parse_zone(z);
    }
    match &cdr.country {
        Some(c) => zone_for_country(c),
        None => Err(ZoneError::Missing),
    }
}
