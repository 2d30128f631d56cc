//! The `spot-prices` timer (SPEC §13): after 13:00 CET, fetch tomorrow's day-ahead document
//! of every area the tenants' tariffs use from the ENTSO-E Transparency API, and the ECB
//! reference rates; each run fetches only what is still incomplete, so running it every
//! few minutes retries until the whole day is there. From 18:00 CET a still-incomplete day
//! is an alarm: one structured error line `alarm="spotPricesMissing"` per area, and the
//! run's report lists it (the function exits non-zero, which the platform's error alarms count).
//!
//! The ENTSO-E token travels in the query string (`securityToken`), so no URL is ever logged
//! or put into an error: requests are described by area and day, reqwest errors are
//! stripped of their URL.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, Timelike, Utc};
use serde::Serialize;

use super::{
    day_bounds, day_quarters, delivery_day, ecb, parse_a44, store as spot_store, Area, MARKET_ZONE,
};
use crate::context::Ctx;
use crate::store::StoreError;

pub const ENTSOE_API: &str = "https://web-api.tp.entsoe.eu/api";
pub const ECB_DAILY: &str = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml";
/// Day-ahead results are published around 12:45 CET; fetching starts at 13:00.
pub const FETCH_FROM_HOUR: u32 = 13;
/// A day still incomplete at 18:00 CET alarms.
pub const ALARM_FROM_HOUR: u32 = 18;
pub const ALARM: &str = "spotPricesMissing";

/// Where the timer reads from (overridable for the loopback stand-in in tests).
#[derive(Clone, Debug)]
pub struct FetchConfig {
    pub entsoe_url: String,
    pub ecb_url: String,
    /// Secret reference of the ENTSO-E API token (`UCC_ENTSOE_TOKEN_REF`); needed as soon
    /// as a tenant's tariff is spot-indexed.
    pub token_ref: Option<String>,
    pub timeout: Duration,
}

impl FetchConfig {
    /// `UCC_ENTSOE_TOKEN_REF`, `UCC_ENTSOE_URL` and `UCC_ECB_URL` (the last two optional).
    pub fn from_env() -> FetchConfig {
        FetchConfig {
            entsoe_url: std::env::var("UCC_ENTSOE_URL").unwrap_or_else(|_| ENTSOE_API.into()),
            ecb_url: std::env::var("UCC_ECB_URL").unwrap_or_else(|_| ECB_DAILY.into()),
            token_ref: std::env::var("UCC_ENTSOE_TOKEN_REF")
                .ok()
                .filter(|r| !r.trim().is_empty()),
            timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpotRunReport {
    /// The delivery day fetched for (tomorrow, CET/CEST), if it is past 13:00 CET.
    pub day: Option<String>,
    pub areas: Vec<String>,
    /// Areas whose day was already complete, or is after this run.
    pub complete: Vec<String>,
    /// Areas still incomplete after this run (with why).
    pub incomplete: Vec<String>,
    pub rates_stored: usize,
    /// Set from 18:00 CET when something is still incomplete.
    pub alarm: bool,
}

/// The areas the tenants' tariffs use.
pub async fn areas_in_use(ctx: &Ctx) -> Result<BTreeSet<Area>, StoreError> {
    let mut out = BTreeSet::new();
    for t in crate::registry::list(ctx.store.as_ref()).await? {
        if let Some(cfg) = crate::registry::get(ctx.store.as_ref(), &t.gln).await? {
            if let Ok(tariffs) = cfg.parsed_tariffs() {
                out.extend(tariffs.iter().filter_map(|t| t.spot_area()));
            }
        }
    }
    Ok(out)
}

fn entsoe_time(t: DateTime<Utc>) -> String {
    t.format("%Y%m%d%H%M").to_string()
}

/// One run of the timer at `ctx.now()`.
pub async fn run(ctx: &Ctx, cfg: &FetchConfig) -> Result<SpotRunReport, String> {
    let now = ctx.now();
    let local = now.with_timezone(&MARKET_ZONE);
    let mut report = SpotRunReport::default();
    if local.hour() < FETCH_FROM_HOUR {
        return Ok(report);
    }
    let today = delivery_day(now);
    let Some(tomorrow) = today.checked_add_days(Days::new(1)) else {
        return Ok(report);
    };
    report.day = Some(tomorrow.to_string());
    let areas = areas_in_use(ctx).await.map_err(|e| e.to_string())?;
    report.areas = areas.iter().map(|a| a.name().to_owned()).collect();
    let http = reqwest::Client::builder()
        .timeout(cfg.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.without_url().to_string())?;
    if areas.is_empty() {
        // No spot-indexed tariff: nothing to fetch, no token or rates needed.
        return Ok(report);
    }
    {
        let token_ref = cfg.token_ref.as_deref().ok_or_else(|| {
            "UCC_ENTSOE_TOKEN_REF is not set (a secret reference to the ENTSO-E API token), but tariffs use spot prices".to_owned()
        })?;
        let token = crate::uc::secrets::resolve(token_ref)
            .await
            .map_err(|e| format!("UCC_ENTSOE_TOKEN_REF: {e}"))?;
        for area in &areas {
            let outcome = fetch_area(ctx, &http, cfg, token.expose(), *area, tomorrow, now).await;
            match outcome {
                Ok(true) => report.complete.push(area.name().to_owned()),
                Ok(false) => report
                    .incomplete
                    .push(format!("{area}: the published day is incomplete")),
                Err(why) => report.incomplete.push(format!("{area}: {why}")),
            }
        }
    }
    match fetch_rates(ctx, &http, cfg).await {
        Ok(n) => report.rates_stored = n,
        Err(why) => tracing::warn!(error = %why, "ECB reference rates not fetched"),
    }
    if local.hour() >= ALARM_FROM_HOUR && !report.incomplete.is_empty() {
        report.alarm = true;
        for why in &report.incomplete {
            tracing::error!(alarm = ALARM, day = %tomorrow, detail = %why, "tomorrow's spot prices are still missing");
        }
    }
    Ok(report)
}

/// Fetches and stores one area's day unless already complete; whether it is complete now.
async fn fetch_area(
    ctx: &Ctx,
    http: &reqwest::Client,
    cfg: &FetchConfig,
    token: &str,
    area: Area,
    day: NaiveDate,
    now: DateTime<Utc>,
) -> Result<bool, String> {
    let store = ctx.store.as_ref();
    let expected = day_quarters(day).len();
    let have = spot_store::day_report(store, area, day)
        .await
        .map_err(|e| e.to_string())?;
    if have.stored_intervals == expected {
        return Ok(true);
    }
    let (start, end) = day_bounds(day);
    let resp = http
        .get(&cfg.entsoe_url)
        .query(&[
            ("securityToken", token),
            ("documentType", "A44"),
            ("in_Domain", area.eic()),
            ("out_Domain", area.eic()),
            ("periodStart", &entsoe_time(start)),
            ("periodEnd", &entsoe_time(end)),
        ])
        .send()
        .await
        // without_url: the URL carries the token.
        .map_err(|e| {
            format!(
                "ENTSO-E request for {area} {day} failed: {}",
                e.without_url()
            )
        })?;
    let status = resp.status();
    let body = resp.text().await.map_err(|e| {
        format!(
            "ENTSO-E answer for {area} {day} unreadable: {}",
            e.without_url()
        )
    })?;
    if !status.is_success() {
        return Err(format!("ENTSO-E answered {status} for {area} {day}"));
    }
    // Not yet published: ENTSO-E answers an Acknowledgement_MarketDocument instead.
    let doc = parse_a44(&body)
        .map_err(|e| format!("no day-ahead document for {area} {day} yet ({e})"))?;
    spot_store::put_document(store, &doc, now)
        .await
        .map_err(|e| e.to_string())?;
    let after = spot_store::day_report(store, area, day)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(area = %area, day = %day, stored = after.stored_intervals, expected, document = %doc.mrid, "spot prices fetched");
    Ok(after.stored_intervals == expected)
}

async fn fetch_rates(
    ctx: &Ctx,
    http: &reqwest::Client,
    cfg: &FetchConfig,
) -> Result<usize, String> {
    let resp = http
        .get(&cfg.ecb_url)
        .send()
        .await
        .map_err(|e| format!("ECB request failed: {}", e.without_url()))?;
    if !resp.status().is_success() {
        return Err(format!("ECB answered {}", resp.status()));
    }
    let body = resp.text().await.map_err(|e| e.without_url().to_string())?;
    let rates = ecb::parse_ecb(&body).map_err(|e| e.to_string())?;
    spot_store::put_rates(ctx.store.as_ref(), &rates)
        .await
        .map_err(|e| e.to_string())
}
