//! Type A → B migration (SPEC §12): a meter-value tenant moves to costed transactions at a
//! cutover instant.
//!
//! One rule decides everything, [`mode_at`]: a session whose `timestampEnd` is before the
//! cutover goes as meter values, at or after it as a costed transaction. It reads only the
//! tenant config and the session's own end time, never the clock, so a late, redelivered
//! or replayed session goes the same way every time on every instance.
//!
//! The stored config keeps `migration` until someone rewrites it; [`as_of`] presents it as
//! the operator should see it (`mode: costedTransaction`, `migratedAt`) once the cutover
//! has passed. Both forms give the same [`mode_at`] for every instant, so normalising the
//! stored copy (or not) never changes where a session goes.
//!
//! While a migration is scheduled, each Type A session is also priced as Type B would
//! price it (the same `intake::build` code path): [`Shadow`] on the delivery record, never
//! sent, plus one report entry keyed by `timestampEnd` in the tenant's `SHADOW` partition,
//! written in the record's own transaction, so [`report`] is one range query.

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::gln::Gln;
use crate::keys;
use crate::registry::{self, RegistryError};
use crate::store::{query_all, Condition, Item, Key, Query, SkRange, Store, StoreError, WriteOp};
use crate::tenant::{ConfigError, Mode, TenantConfig};
use crate::uc::payload::TransactionPayload;

/// Partition of a tenant's shadow-priced sessions, sorted by `timestampEnd`.
pub const SHADOW: &str = "SHADOW";

/// How long before the cutover a migration must be scheduled or cancelled: instances cache
/// a tenant's config for up to 30 s (`Ctx::tenant_cache_ttl`), and every instance must see
/// a schedule or a cancel before a session can end at the cutover.
pub const MIN_LEAD_SECS: i64 = 60;

/// A scheduled migration, as stored in the tenant config (`"migration": {…}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Migration {
    pub to: Mode,
    pub cutover: DateTime<Utc>,
    pub scheduled_at: DateTime<Utc>,
}

/// The mode a session ending at `end` is delivered in. Pure: the clock never decides.
pub fn mode_at(cfg: &TenantConfig, end: DateTime<Utc>) -> Mode {
    if let Some(m) = &cfg.migration {
        return if end >= m.cutover { m.to } else { cfg.mode };
    }
    match cfg.migrated_at {
        Some(at) if end < at => Mode::MeterValue,
        _ => cfg.mode,
    }
}

/// Whether a session ending at `end` is shadow-priced: it goes as meter values while the
/// tenant has a migration (scheduled, or passed and normalised).
pub fn shadow_wanted(cfg: &TenantConfig, end: DateTime<Utc>) -> bool {
    (cfg.migration.is_some() || cfg.migrated_at.is_some()) && mode_at(cfg, end) == Mode::MeterValue
}

/// The config as it reads at `now`: once the cutover has passed, `mode` is the target mode
/// and `migratedAt` the cutover, and no migration is scheduled any more.
pub fn as_of(cfg: &TenantConfig, now: DateTime<Utc>) -> TenantConfig {
    let mut out = cfg.clone();
    if let Some(m) = &cfg.migration {
        if now >= m.cutover {
            out.mode = m.to;
            out.migrated_at = Some(m.cutover);
            out.migration = None;
        }
    }
    out
}

/// Checks of a config carrying `migration` / `migratedAt` (called by `TenantConfig::validate`;
/// time-independent, so a stored config always re-validates).
pub fn validate(cfg: &TenantConfig) -> Result<(), ConfigError> {
    if let Some(m) = &cfg.migration {
        if m.to != Mode::CostedTransaction {
            return Err(cerr("migration.to", "must be costedTransaction"));
        }
        if cfg.mode != Mode::MeterValue {
            return Err(cerr(
                "migration",
                format!(
                    "the tenant is {}, not meterValue: only a Type A tenant migrates",
                    cfg.mode
                ),
            ));
        }
        check_type_b(cfg)?;
    }
    if cfg.migrated_at.is_some() && cfg.mode != Mode::CostedTransaction {
        return Err(cerr(
            "migratedAt",
            "is set only on a costedTransaction tenant",
        ));
    }
    Ok(())
}

/// The tenant's settings must validate for Type B: currency, VAT, time zone, tariffs.
fn check_type_b(cfg: &TenantConfig) -> Result<(), ConfigError> {
    if cfg.tariffs.is_empty() {
        return Err(cerr(
            "tariffs",
            "are empty: a costedTransaction tenant needs at least one tariff",
        ));
    }
    let mut as_b = cfg.clone();
    as_b.mode = Mode::CostedTransaction;
    as_b.migration = None;
    as_b.migrated_at = None;
    as_b.validate()
}

fn cerr(field: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// Why a schedule or cancel was refused: the field it is about and a one-line message.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("{0}")]
    Refused(ConfigError),
    #[error("no tenant with GLN {0}")]
    UnknownTenant(Gln),
    #[error("the tenant changed meanwhile; read it again and retry")]
    Conflict,
    #[error(transparent)]
    Registry(RegistryError),
}

impl From<StoreError> for MigrationError {
    fn from(e: StoreError) -> Self {
        MigrationError::Registry(RegistryError::Store(e))
    }
}

/// The config with a migration to `to` at `cutover` scheduled at `now`, or why not.
pub fn schedule(
    cfg: &TenantConfig,
    to: Mode,
    cutover: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<TenantConfig, ConfigError> {
    let current = as_of(cfg, now);
    if to != Mode::CostedTransaction {
        return Err(cerr(
            "to",
            format!("{to} is not a migration target: only costedTransaction"),
        ));
    }
    if current.mode != Mode::MeterValue {
        return Err(cerr(
            "mode",
            format!(
                "tenant {} is {}, not meterValue (Type A): there is nothing to migrate",
                cfg.gln, current.mode
            ),
        ));
    }
    if cutover <= now {
        return Err(cerr(
            "cutover",
            format!("{} is in the past", rfc3339(cutover)),
        ));
    }
    if (cutover - now).num_seconds() < MIN_LEAD_SECS {
        return Err(cerr(
            "cutover",
            format!(
                "{} is less than {MIN_LEAD_SECS} s from now: every instance must see the migration before it takes effect",
                rfc3339(cutover)
            ),
        ));
    }
    check_type_b(&current).map_err(|e| ConfigError {
        field: e.field,
        message: format!("{} (required for costedTransaction)", e.message),
    })?;
    let mut next = current;
    next.migration = Some(Migration {
        to,
        cutover,
        scheduled_at: now,
    });
    next.validate()?;
    Ok(next)
}

/// The config with its scheduled migration withdrawn, or why not.
pub fn cancel(cfg: &TenantConfig, now: DateTime<Utc>) -> Result<TenantConfig, ConfigError> {
    let Some(m) = &cfg.migration else {
        return Err(match cfg.migrated_at {
            Some(at) => cerr(
                "migration",
                format!(
                    "the cutover {} has passed: the tenant is costedTransaction; cancel refused",
                    rfc3339(at)
                ),
            ),
            None => cerr(
                "migration",
                format!("tenant {} has no scheduled migration", cfg.gln),
            ),
        });
    };
    if now >= m.cutover {
        return Err(cerr(
            "migration",
            format!(
                "the cutover {} has passed: the tenant is costedTransaction; cancel refused",
                rfc3339(m.cutover)
            ),
        ));
    }
    if (m.cutover - now).num_seconds() < MIN_LEAD_SECS {
        return Err(cerr(
            "migration",
            format!(
                "the cutover {} is less than {MIN_LEAD_SECS} s away: too late to cancel on every instance",
                rfc3339(m.cutover)
            ),
        ));
    }
    let mut next = cfg.clone();
    next.migration = None;
    Ok(next)
}

/// Reads the stored config, applies `change` and writes it over the version read (a
/// concurrent change fails as [`MigrationError::Conflict`] instead of being lost).
async fn change_stored(
    store: &dyn Store,
    gln: &Gln,
    change: impl FnOnce(&TenantConfig) -> Result<TenantConfig, ConfigError>,
) -> Result<TenantConfig, MigrationError> {
    let (current, version) = registry::get_versioned(store, gln)
        .await?
        .ok_or_else(|| MigrationError::UnknownTenant(gln.clone()))?;
    let next = change(&current).map_err(MigrationError::Refused)?;
    match registry::put_if_version(store, &next, version).await {
        Ok(_) => Ok(next),
        Err(RegistryError::Store(e)) if e.is_condition_failure() => Err(MigrationError::Conflict),
        Err(e) => Err(MigrationError::Registry(e)),
    }
}

/// Schedules a migration in the store (CLI and admin API).
pub async fn schedule_stored(
    store: &dyn Store,
    gln: &Gln,
    to: Mode,
    cutover: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<TenantConfig, MigrationError> {
    change_stored(store, gln, |c| schedule(c, to, cutover, now)).await
}

/// Cancels a scheduled migration in the store (CLI and admin API).
pub async fn cancel_stored(
    store: &dyn Store,
    gln: &Gln,
    now: DateTime<Utc>,
) -> Result<TenantConfig, MigrationError> {
    change_stored(store, gln, |c| cancel(c, now)).await
}

/// The migration as the operator reads it (CLI, admin API, Details): scheduled, done, or
/// none.
pub fn view(cfg: &TenantConfig, now: DateTime<Utc>) -> serde_json::Value {
    let c = as_of(cfg, now);
    match (&c.migration, c.migrated_at) {
        (Some(m), _) => serde_json::json!({
            "state": "scheduled",
            "to": m.to,
            "cutover": rfc3339(m.cutover),
            "scheduledAt": rfc3339(m.scheduled_at),
        }),
        (None, Some(at)) => serde_json::json!({
            "state": "done",
            "to": c.mode,
            "migratedAt": rfc3339(at),
        }),
        (None, None) => serde_json::json!({ "state": "none" }),
    }
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// What Type B would have billed for a session delivered as meter values (kept on its
/// delivery record and in the report; never sent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shadow {
    pub transaction_id: String,
    pub timestamp_end: DateTime<Utc>,
    #[serde(rename = "fullConsumptionKWh")]
    pub full_consumption_kwh: Decimal,
    pub currency: String,
    pub total_cost_excl_vat: Decimal,
    pub total_vat: Decimal,
    pub total_cost_incl_vat: Decimal,
    pub tariff_id: String,
}

/// The shadow of a session from the invoice line Type B would have posted for it.
pub fn shadow_from(
    payload: &serde_json::Value,
    tariff_id: Option<&str>,
    timestamp_end: DateTime<Utc>,
) -> Result<Shadow, String> {
    let p: TransactionPayload =
        serde_json::from_value(payload.clone()).map_err(|e| e.to_string())?;
    Ok(Shadow {
        transaction_id: p.transaction_id,
        timestamp_end,
        full_consumption_kwh: p.full_consumption_k_wh,
        currency: p.currency,
        total_cost_excl_vat: p.total_cost_excl_vat,
        total_vat: p.total_vat,
        total_cost_incl_vat: p.total_cost_incl_vat,
        tariff_id: tariff_id.unwrap_or_default().to_owned(),
    })
}

/// Puts the shadow of a meter-value `record` from the invoice line Type B built for the same
/// session; a session Type B cannot price keeps a warning saying so instead.
pub fn attach_shadow(
    record: &mut crate::delivery::record::DeliveryRecord,
    as_type_b: Result<crate::delivery::record::DeliveryRecord, String>,
    session: &crate::session::SessionCompleted,
) {
    let shadow = as_type_b.and_then(|b| match &b.awaiting {
        // The meter-value delivery does not wait for spot prices; its shadow is left out.
        Some(missing) => Err(format!("spot prices are not stored yet ({missing})")),
        None => shadow_from(&b.payload, b.tariff_id.as_deref(), session.timestamp_end),
    });
    match shadow {
        Ok(s) => record.shadow = Some(s),
        Err(e) => record
            .warnings
            .push(format!("shadow pricing for the migration failed: {e}")),
    }
}

/// A shadow entry's sort key: `timestampEnd` (fixed-width, nanoseconds) then the id.
fn sort_key(end: DateTime<Utc>, transaction_id: &str) -> String {
    format!(
        "{}#{transaction_id}",
        end.to_rfc3339_opts(SecondsFormat::Nanos, true)
    )
}

fn partition(gln: &Gln) -> String {
    keys::tenant(gln, SHADOW)
}

/// The report entry of a shadow-priced session; it goes into the transaction that creates
/// the delivery record (same tenant scope), so it exists exactly when the record does.
pub fn entry_op(gln: &Gln, s: &Shadow) -> Result<WriteOp, StoreError> {
    let doc = serde_json::to_string(s).map_err(|e| StoreError::Invalid(e.to_string()))?;
    Ok(WriteOp::Put {
        item: Item::new(
            Key::new(partition(gln), sort_key(s.timestamp_end, &s.transaction_id)),
            doc,
            1,
        ),
        condition: Condition::Always,
    })
}

/// The shadow report: sessions and totals, ready for JSON, CSV or a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub sessions: Vec<ReportRow>,
    pub totals: Totals,
}

/// A report row's or total's quantities, as decimal strings (kWh with 3 decimals, money
/// with 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Amounts {
    #[serde(rename = "fullConsumptionKWh")]
    pub full_consumption_kwh: String,
    pub total_cost_excl_vat: String,
    pub total_vat: String,
    pub total_cost_incl_vat: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportRow {
    pub transaction_id: String,
    pub timestamp_end: String,
    #[serde(flatten)]
    pub amounts: Amounts,
    pub tariff_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub sessions: usize,
    #[serde(flatten)]
    pub amounts: Amounts,
}

fn amounts(kwh_total: Decimal, excl: Decimal, vat: Decimal, incl: Decimal) -> Amounts {
    Amounts {
        full_consumption_kwh: kwh(kwh_total),
        total_cost_excl_vat: money(excl),
        total_vat: money(vat),
        total_cost_incl_vat: money(incl),
    }
}

/// Sums of a set of shadows (the report's totals, or one tariff's subtotal).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sums {
    pub sessions: usize,
    pub kwh: Decimal,
    pub excl: Decimal,
    pub vat: Decimal,
    pub incl: Decimal,
}

impl Sums {
    pub fn add(&mut self, s: &Shadow) {
        self.sessions += 1;
        self.kwh += s.full_consumption_kwh;
        self.excl += s.total_cost_excl_vat;
        self.vat += s.total_vat;
        self.incl += s.total_cost_incl_vat;
    }

    pub fn totals(&self) -> Totals {
        Totals {
            sessions: self.sessions,
            amounts: amounts(self.kwh, self.excl, self.vat, self.incl),
        }
    }
}

fn money(d: Decimal) -> String {
    let mut d = d;
    d.rescale(2);
    d.to_string()
}

fn kwh(d: Decimal) -> String {
    let mut d = d;
    d.rescale(3);
    d.to_string()
}

impl ReportRow {
    fn of(s: &Shadow) -> ReportRow {
        ReportRow {
            transaction_id: s.transaction_id.clone(),
            timestamp_end: rfc3339(s.timestamp_end),
            amounts: amounts(
                s.full_consumption_kwh,
                s.total_cost_excl_vat,
                s.total_vat,
                s.total_cost_incl_vat,
            ),
            tariff_id: s.tariff_id.clone(),
        }
    }
}

/// The tenant's shadow-priced sessions ending at or after `since` (all when `None`), in
/// `timestampEnd` order: one range query on the tenant's `SHADOW` partition.
pub async fn shadows(
    store: &dyn Store,
    gln: &Gln,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<Shadow>, StoreError> {
    let from = since.map_or_else(|| " ".to_owned(), |t| sort_key(t, ""));
    let q = Query {
        pk: partition(gln),
        range: SkRange::Between(from, "\u{10FFFF}".into()),
        limit: 500,
        cursor: None,
    };
    query_all(store, q)
        .await?
        .iter()
        .map(|i| {
            serde_json::from_str(&i.doc).map_err(|e| {
                StoreError::Invalid(format!("shadow entry {} is unreadable: {e}", i.key.sk))
            })
        })
        .collect()
}

/// The report of [`shadows`]: one row per session and the totals.
pub fn report_of(shadows: &[Shadow]) -> Report {
    let mut sums = Sums::default();
    for s in shadows {
        sums.add(s);
    }
    Report {
        sessions: shadows.iter().map(ReportRow::of).collect(),
        totals: sums.totals(),
    }
}

/// Per-tariff subtotals, in tariff-id order.
pub fn by_tariff(shadows: &[Shadow]) -> Vec<(String, Totals)> {
    let mut m: std::collections::BTreeMap<&str, Sums> = std::collections::BTreeMap::new();
    for s in shadows {
        m.entry(s.tariff_id.as_str()).or_default().add(s);
    }
    m.into_iter()
        .map(|(t, s)| (t.to_owned(), s.totals()))
        .collect()
}

/// Report rows as CSV (finance): a header, then the same columns as `--json`.
pub fn csv(report: &Report) -> String {
    let mut out = String::from(
        "transactionId,timestampEnd,fullConsumptionKWh,totalCostExclVat,totalVat,totalCostInclVat,tariffId\n",
    );
    for r in &report.sessions {
        let cells = [
            &r.transaction_id,
            &r.timestamp_end,
            &r.amounts.full_consumption_kwh,
            &r.amounts.total_cost_excl_vat,
            &r.amounts.total_vat,
            &r.amounts.total_cost_incl_vat,
            &r.tariff_id,
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

/// RFC 4180 quoting, and a leading `=`, `+`, `-` or `@` of a text cell defused so a
/// spreadsheet never runs an id as a formula.
fn csv_cell(s: &str) -> String {
    let defused = if s.starts_with(['=', '+', '@'])
        || (s.starts_with('-') && s.parse::<Decimal>().is_err())
    {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn type_a() -> TenantConfig {
        let v = serde_json::json!({
            "gln": "7300011000017",
            "customerId": "emb-svea",
            "name": "Svea Kraft AB",
            "mode": "meterValue",
            "uc": {
                "baseUrl": "https://uc.example",
                "tokenUrl": "https://login.example/token",
                "clientId": "c",
                "clientSecretRef": "env:X",
                "scope": "s"
            },
            "currency": "SEK",
            "vatPercent": "25",
            "timeZone": "Europe/Stockholm",
            "tariffs": [{
                "country_code": "SE", "party_id": "SVE", "id": "SE-STD", "currency": "SEK",
                "elements": [{"price_components": [{"type": "ENERGY", "price": "3.20", "step_size": 1}]}],
                "last_updated": "2026-01-01T00:00:00Z"
            }]
        });
        TenantConfig::from_value(&v).unwrap_or_else(|e| panic!("{e}"))
    }

    fn scheduled(cutover: &str) -> TenantConfig {
        schedule(
            &type_a(),
            Mode::CostedTransaction,
            t(cutover),
            t("2026-11-01T00:00:00Z"),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_session_end_decides_the_mode() {
        let cfg = scheduled("2026-12-01T00:00:00+01:00");
        let cut = t("2026-11-30T23:00:00Z");
        assert_eq!(
            mode_at(&cfg, cut - chrono::Duration::nanoseconds(1)),
            Mode::MeterValue
        );
        assert_eq!(mode_at(&cfg, cut), Mode::CostedTransaction);
        assert_eq!(
            mode_at(&cfg, cut + chrono::Duration::days(400)),
            Mode::CostedTransaction
        );
        assert!(shadow_wanted(&cfg, cut - chrono::Duration::seconds(1)));
        assert!(!shadow_wanted(&cfg, cut));
        assert_eq!(mode_at(&type_a(), cut), Mode::MeterValue);
        assert!(!shadow_wanted(&type_a(), cut));
    }

    #[test]
    fn the_migrated_view_decides_every_instant_like_the_scheduled_one() {
        let cfg = scheduled("2026-12-01T00:00:00Z");
        let done = as_of(&cfg, t("2027-01-01T00:00:00Z"));
        assert_eq!(done.mode, Mode::CostedTransaction);
        assert_eq!(done.migrated_at, Some(t("2026-12-01T00:00:00Z")));
        assert!(done.migration.is_none());
        assert!(done.validate().is_ok());
        let base = t("2026-11-30T23:59:58Z");
        for ms in 0..4000 {
            let at = base + chrono::Duration::milliseconds(ms);
            assert_eq!(mode_at(&cfg, at), mode_at(&done, at), "{at}");
            assert_eq!(shadow_wanted(&cfg, at), shadow_wanted(&done, at), "{at}");
        }
        // Before the cutover it reads as scheduled.
        assert_eq!(as_of(&cfg, t("2026-11-30T23:59:59Z")), cfg);
    }

    #[test]
    fn refusals_name_what_is_wrong() {
        let now = t("2026-11-01T00:00:00Z");
        let past = schedule(
            &type_a(),
            Mode::CostedTransaction,
            t("2026-10-31T00:00:00Z"),
            now,
        );
        assert_eq!(past.map_err(|e| e.field).err().as_deref(), Some("cutover"));
        type Change = fn(&mut TenantConfig);
        let cases: [(&str, Change, Mode); 5] = [
            (
                "mode",
                |c| c.mode = Mode::CostedTransaction,
                Mode::CostedTransaction,
            ),
            ("tariffs", |c| c.tariffs.clear(), Mode::CostedTransaction),
            (
                "vatPercent",
                |c| c.vat_percent = None,
                Mode::CostedTransaction,
            ),
            ("currency", |c| c.currency = None, Mode::CostedTransaction),
            ("to", |_| {}, Mode::MeterValue),
        ];
        for (field, change, to) in cases {
            let mut cfg = type_a();
            change(&mut cfg);
            let e = schedule(&cfg, to, t("2026-12-01T00:00:00Z"), now)
                .err()
                .unwrap_or_else(|| panic!("{field}: accepted"));
            assert_eq!(e.field, field);
            assert_eq!(e.to_string().lines().count(), 1);
        }
        // A cancel after the cutover, and one with nothing scheduled.
        let cfg = scheduled("2026-12-01T00:00:00Z");
        assert!(cancel(&cfg, t("2026-12-01T00:00:00Z")).is_err());
        assert!(cancel(&type_a(), now).is_err());
        let back = cancel(&cfg, now).unwrap_or_else(|e| panic!("{e}"));
        assert!(back.migration.is_none());
        assert_eq!(mode_at(&back, t("2027-01-01T00:00:00Z")), Mode::MeterValue);
    }

    #[test]
    fn the_stored_form_round_trips_and_validates() {
        let cfg = scheduled("2026-12-01T00:00:00Z");
        let v = serde_json::to_value(&cfg).unwrap_or_default();
        assert_eq!(v["migration"]["to"], "costedTransaction");
        assert_eq!(v["migration"]["cutover"], "2026-12-01T00:00:00Z");
        assert_eq!(v["migration"]["scheduledAt"], "2026-11-01T00:00:00Z");
        assert_eq!(TenantConfig::from_value(&v).ok(), Some(cfg));
        let mut bad = v.clone();
        bad["mode"] = "costedTransaction".into();
        assert_eq!(
            TenantConfig::from_value(&bad)
                .err()
                .map(|e| e.field)
                .as_deref(),
            Some("migration")
        );
    }

    #[test]
    fn report_totals_and_csv() {
        let s = |id: &str, kwh: &str, excl: &str, vat: &str, incl: &str, tariff: &str| Shadow {
            transaction_id: id.into(),
            timestamp_end: Utc
                .with_ymd_and_hms(2026, 11, 20, 21, 0, 0)
                .single()
                .unwrap_or_default(),
            full_consumption_kwh: kwh.parse().unwrap_or_default(),
            currency: "SEK".into(),
            total_cost_excl_vat: excl.parse().unwrap_or_default(),
            total_vat: vat.parse().unwrap_or_default(),
            total_cost_incl_vat: incl.parse().unwrap_or_default(),
            tariff_id: tariff.into(),
        };
        let rows = [
            s("1", "10.5", "33.6", "8.4", "42", "A"),
            s("=2", "1.250", "4.00", "1.00", "5.00", "B"),
        ];
        let r = report_of(&rows);
        assert_eq!(r.totals.sessions, 2);
        assert_eq!(r.totals.amounts.full_consumption_kwh, "11.750");
        assert_eq!(r.totals.amounts.total_cost_incl_vat, "47.00");
        assert_eq!(r.sessions[0].amounts.total_cost_excl_vat, "33.60");
        let subtotals = by_tariff(&rows);
        assert_eq!(subtotals.len(), 2);
        assert_eq!(subtotals[1].1.amounts.total_vat, "1.00");
        let csv = csv(&r);
        assert!(
            csv.lines().nth(2).is_some_and(|l| l.starts_with("'=2,")),
            "{csv}"
        );
    }
}
