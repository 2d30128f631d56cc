//! Tenant configuration (SPEC §2): one operator, identified by its GLN.
//!
//! Parsing is two-step: serde (through `serde_path_to_error`, so a type error names its
//! field) into typed values, then semantic checks that also name the field. A config that
//! fails either step is refused whole: nothing half-valid is ever stored.

use std::collections::BTreeMap;
use std::fmt;

use regex::Regex;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::gln::Gln;

pub const DEFAULT_ACCOUNTING_POINT_PATTERN: &str = "^[A-Za-z0-9]{5,18}$";
pub const DEFAULT_VIRTUAL_TOKEN_PREFIX: &str = "v:";
pub const DEFAULT_METER_VALUE_RESOLUTION: &str = "PT60M";
/// A token (prefix + 16 characters) must fit the 64-character limit of an RFID value.
const MAX_PREFIX_LEN: usize = 48;
/// Bounds of `logRetentionDays`: at least a day of history for support, at most ten years
/// (DynamoDB TTL is a plain epoch, but nobody should pay for a log kept forever by a typo).
pub const MIN_LOG_RETENTION_DAYS: u32 = 1;
pub const MAX_LOG_RETENTION_DAYS: u32 = 3650;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mode {
    /// Type B: the connector prices sessions and posts invoice lines.
    CostedTransaction,
    /// Type A (legacy): the connector posts meter-value series and UC prices them.
    MeterValue,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::CostedTransaction => "costedTransaction",
            Mode::MeterValue => "meterValue",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UcConnection {
    pub base_url: String,
    pub token_url: String,
    pub client_id: String,
    /// A reference to the secret (`env:NAME`, `file:PATH`, `aws-sm:ARN`, `keyvault:URI`),
    /// never the secret itself.
    pub client_secret_ref: String,
    pub scope: String,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revenue_share_id: Option<i64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub revenue_shared: bool,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

fn default_pattern() -> String {
    DEFAULT_ACCOUNTING_POINT_PATTERN.to_owned()
}
fn default_prefix() -> String {
    DEFAULT_VIRTUAL_TOKEN_PREFIX.to_owned()
}
fn default_resolution() -> String {
    DEFAULT_METER_VALUE_RESOLUTION.to_owned()
}

/// A tenant's configuration as stored and as shown by `ucc tenant get --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantConfig {
    pub gln: Gln,
    pub customer_id: String,
    pub name: String,
    pub mode: Mode,
    pub uc: UcConnection,
    #[serde(default = "default_pattern")]
    pub accounting_point_pattern: String,
    #[serde(default = "default_prefix")]
    pub virtual_token_prefix: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_site_id: Option<i64>,
    #[serde(default)]
    pub product_sites: BTreeMap<String, i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_bus_topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::decimal::deserialize_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub vat_percent: Option<Decimal>,
    #[serde(default)]
    pub prices_include_vat: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub tariffs: Vec<Value>,
    #[serde(default)]
    pub site_tariffs: BTreeMap<String, String>,
    #[serde(default)]
    pub sites: BTreeMap<String, SiteSettings>,
    #[serde(default = "default_resolution")]
    pub meter_value_resolution: String,
    /// Days the request log keeps this tenant's entries; absent means the SPEC §7 default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_retention_days: Option<u32>,
    /// A scheduled Type A → B migration (SPEC §12, `crate::migration`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration: Option<crate::migration::Migration>,
    /// When a migration took effect: sessions ending before it still go as meter values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrated_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Fields this version does not know are kept, not dropped.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A refused configuration: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ConfigError {
    pub field: String,
    pub message: String,
}

fn err(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        field: field.into(),
        message: message.into(),
    }
}

/// Minor-unit digits of the currencies a tenant may bill in.
pub fn currency_minor_units(code: &str) -> Option<u32> {
    match code {
        "NOK" | "SEK" | "DKK" | "EUR" | "GBP" | "USD" | "CHF" | "PLN" => Some(2),
        "ISK" => Some(0),
        _ => None,
    }
}

/// The secret-reference schemes the connector resolves.
pub const SECRET_REF_SCHEMES: [&str; 4] = ["env:", "file:", "aws-sm:", "keyvault:"];

impl TenantConfig {
    /// Parses and validates a tenant configuration document.
    pub fn from_json(bytes: &[u8]) -> Result<TenantConfig, ConfigError> {
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        let cfg: TenantConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let field = if path == "." || path.is_empty() {
                "(document)".to_owned()
            } else {
                path
            };
            // serde_json messages end in "at line L column C": useful, keep it.
            err(field, inner.to_string())
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn from_value(v: &Value) -> Result<TenantConfig, ConfigError> {
        let bytes = serde_json::to_vec(v).map_err(|e| err("(document)", e.to_string()))?;
        Self::from_json(&bytes)
    }

    /// Semantic checks: every message names the field it is about.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.customer_id.trim().is_empty() {
            return Err(err("customerId", "must not be empty"));
        }
        if self.name.trim().is_empty() {
            return Err(err("name", "must not be empty"));
        }
        self.validate_uc()?;
        Regex::new(&self.accounting_point_pattern).map_err(|e| {
            err(
                "accountingPointPattern",
                format!(
                    "does not compile as a regular expression: {}",
                    first_line(&e.to_string())
                ),
            )
        })?;
        if self.virtual_token_prefix.len() > MAX_PREFIX_LEN
            || !self
                .virtual_token_prefix
                .chars()
                .all(|c| c.is_ascii_graphic())
        {
            return Err(err(
                "virtualTokenPrefix",
                format!(
                    "must be at most {MAX_PREFIX_LEN} printable ASCII characters without spaces"
                ),
            ));
        }
        if let Some(id) = self.default_site_id {
            check_site_id("defaultSiteId", id)?;
        }
        for (product, id) in &self.product_sites {
            check_site_id(&format!("productSites.{product}"), *id)?;
        }
        if let Some(c) = &self.currency {
            if currency_minor_units(c).is_none() {
                return Err(err(
                    "currency",
                    format!("{c:?} is not a supported ISO 4217 currency (NOK, SEK, DKK, EUR, …)"),
                ));
            }
        }
        if let Some(v) = self.vat_percent {
            if v.is_sign_negative() || v > Decimal::ONE_HUNDRED {
                return Err(err("vatPercent", format!("{v} is not between 0 and 100")));
            }
        }
        if let Some(tz) = &self.time_zone {
            tz.parse::<chrono_tz::Tz>()
                .map_err(|_| err("timeZone", format!("{tz:?} is not an IANA time zone")))?;
        }
        if self.mode == Mode::CostedTransaction {
            for (field, missing) in [
                ("currency", self.currency.is_none()),
                ("vatPercent", self.vat_percent.is_none()),
                ("timeZone", self.time_zone.is_none()),
            ] {
                if missing {
                    return Err(err(field, "is required in costedTransaction mode"));
                }
            }
        }
        let mut tariff_ids = Vec::new();
        for (i, t) in self.tariffs.iter().enumerate() {
            let tariff = crate::pricing::parse_tariff(t)
                .map_err(|e| err(format!("tariffs[{i}]"), e.to_string()))?;
            if self.prices_include_vat {
                if let Some((path, vat)) = crate::pricing::component_vat_path(&tariff) {
                    return Err(err(
                        format!("tariffs[{i}].{path}"),
                        format!("is {vat} %, but pricesIncludeVat is true: tariff prices already include VAT, so it would be charged twice; set it to 0 or pricesIncludeVat to false"),
                    ));
                }
            }
            if let Some(c) = self.currency.as_ref().filter(|c| **c != tariff.currency) {
                return Err(err(
                    format!("tariffs[{i}].currency"),
                    format!("{} differs from the tenant's currency {c}", tariff.currency),
                ));
            }
            tariff_ids.push(tariff.id);
        }
        for (site, tariff) in &self.site_tariffs {
            parse_site_key(&format!("siteTariffs.{site}"), site)?;
            if !tariff_ids.iter().any(|id| id == tariff) {
                return Err(err(
                    format!("siteTariffs.{site}"),
                    format!("tariff {tariff:?} is not one of this tenant's tariffs"),
                ));
            }
        }
        for (site, settings) in &self.sites {
            parse_site_key(&format!("sites.{site}"), site)?;
            if let Some(id) = settings.revenue_share_id {
                if id <= 0 {
                    return Err(err(
                        format!("sites.{site}.revenueShareId"),
                        format!("{id} is not a positive integer"),
                    ));
                }
            }
        }
        if !matches!(self.meter_value_resolution.as_str(), "PT60M" | "PT15M") {
            return Err(err(
                "meterValueResolution",
                format!(
                    "{:?} is not supported (PT60M or PT15M)",
                    self.meter_value_resolution
                ),
            ));
        }
        if let Some(days) = self.log_retention_days {
            if !(MIN_LOG_RETENTION_DAYS..=MAX_LOG_RETENTION_DAYS).contains(&days) {
                return Err(err(
                    "logRetentionDays",
                    format!(
                        "{days} is not between {MIN_LOG_RETENTION_DAYS} and {MAX_LOG_RETENTION_DAYS} days"
                    ),
                ));
            }
        }
        crate::migration::validate(self)
    }

    /// Days this tenant's log entries live before their TTL removes them.
    pub fn retention_days(&self) -> i64 {
        self.log_retention_days
            .map_or(crate::context::DEFAULT_LOG_RETENTION_DAYS, i64::from)
    }

    fn validate_uc(&self) -> Result<(), ConfigError> {
        check_endpoint("uc.baseUrl", &self.uc.base_url)?;
        check_endpoint("uc.tokenUrl", &self.uc.token_url)?;
        if self.uc.client_id.trim().is_empty() {
            return Err(err("uc.clientId", "must not be empty"));
        }
        if self.uc.scope.trim().is_empty() {
            return Err(err("uc.scope", "must not be empty"));
        }
        let r = &self.uc.client_secret_ref;
        let ok = SECRET_REF_SCHEMES
            .iter()
            .any(|s| r.starts_with(s) && r.len() > s.len());
        if !ok {
            // Never echo the value: someone may have pasted the secret itself.
            return Err(err(
                "uc.clientSecretRef",
                "must be a secret reference (env:NAME, file:PATH, aws-sm:ARN or keyvault:URI), never the secret itself",
            ));
        }
        Ok(())
    }

    /// The tenant's tariffs, parsed (they were validated when the config was accepted).
    pub fn parsed_tariffs(&self) -> Result<Vec<crate::pricing::Tariff>, ConfigError> {
        self.tariffs
            .iter()
            .enumerate()
            .map(|(i, t)| {
                crate::pricing::parse_tariff(t)
                    .map_err(|e| err(format!("tariffs[{i}]"), e.to_string()))
            })
            .collect()
    }

    /// The compiled accounting point pattern (validated when the config was accepted).
    pub fn accounting_point_regex(&self) -> Result<Regex, ConfigError> {
        Regex::new(&self.accounting_point_pattern)
            .map_err(|e| err("accountingPointPattern", e.to_string()))
    }

    /// Site for a new or updated driver: explicit site, else the product's, else the default.
    pub fn resolve_site(
        &self,
        private_site_id: Option<i64>,
        product_code: Option<&str>,
    ) -> Option<i64> {
        private_site_id
            .or_else(|| product_code.and_then(|p| self.product_sites.get(p).copied()))
            .or(self.default_site_id)
    }

    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

/// The loopback hosts that may be reached over plain `http://` (tests, the local stand-in).
const LOOPBACK_HOSTS: &str = "127.0.0.1, localhost and [::1]";

/// UC and Entra are called over TLS (SPEC §6): `https://`, or plain `http://` to a loopback
/// host only. The URL is parsed, not prefix-matched: `http://localhost.evil.com` and
/// `http://127.0.0.1@evil.com` name other hosts. Credentials in the URL are refused (they
/// would end up in logs) and, as they may be a password, the URL is then not echoed.
fn check_endpoint(field: &str, raw: &str) -> Result<(), ConfigError> {
    let parsed =
        url::Url::parse(raw).map_err(|e| err(field, format!("{raw:?} is not a URL: {e}")))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(err(
            field,
            "must not carry credentials (user:password@host); the secret belongs in uc.clientSecretRef",
        ));
    }
    let Some(host) = parsed.host() else {
        return Err(err(field, format!("{raw:?} has no host")));
    };
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&host) => Ok(()),
        "http" => Err(err(
            field,
            format!(
                "{raw:?} must use https:// (plain http:// only for the loopback hosts {LOOPBACK_HOSTS})"
            ),
        )),
        _ => Err(err(field, format!("{raw:?} is not an https:// URL"))),
    }
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        // Domains of http(s) URLs are lower-cased by the parser.
        url::Host::Domain(d) => *d == "localhost",
        url::Host::Ipv4(ip) => *ip == std::net::Ipv4Addr::LOCALHOST,
        url::Host::Ipv6(ip) => *ip == std::net::Ipv6Addr::LOCALHOST,
    }
}

fn first_line(s: &str) -> String {
    s.lines().last().unwrap_or(s).trim().to_owned()
}

fn check_site_id(field: &str, id: i64) -> Result<(), ConfigError> {
    if id <= 0 {
        return Err(err(field, format!("{id} is not a positive site id")));
    }
    Ok(())
}

fn parse_site_key(field: &str, key: &str) -> Result<i64, ConfigError> {
    let id: i64 = key
        .parse()
        .map_err(|_| err(field, format!("site key {key:?} is not an integer site id")))?;
    check_site_id(field, id)?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Value {
        serde_json::json!({
            "gln": "7080010002488",
            "customerId": "emb-cust-0042",
            "name": "Nordlys Energi AS",
            "mode": "meterValue",
            "uc": {
                "baseUrl": "https://api.utilitycloud.app",
                "tokenUrl": "https://login.microsoftonline.com/t/oauth2/v2.0/token",
                "clientId": "abc",
                "clientSecretRef": "env:UCC_SECRET_NORDLYS",
                "scope": "api://uc/.default"
            }
        })
    }

    #[test]
    fn gross_prices_with_component_vat_are_refused_naming_the_field() {
        let e = refused(|v| {
            v["mode"] = "costedTransaction".into();
            v["currency"] = "NOK".into();
            v["vatPercent"] = "25".into();
            v["pricesIncludeVat"] = true.into();
            v["timeZone"] = "Europe/Oslo".into();
            v["tariffs"] = serde_json::json!([{
                "id": "T1", "currency": "NOK",
                "elements": [{"price_components": [
                    {"type": "ENERGY", "price": "2.50", "vat": 25, "step_size": 1}
                ]}]
            }]);
        });
        assert_eq!(e.field, "tariffs[0].elements[0].price_components[0].vat");
        assert!(e.message.contains("charged twice"), "{}", e.message);
    }

    fn refused(patch: impl FnOnce(&mut Value)) -> ConfigError {
        let mut v = base();
        patch(&mut v);
        match TenantConfig::from_value(&v) {
            Err(e) => e,
            Ok(_) => ConfigError {
                field: "(accepted)".into(),
                message: String::new(),
            },
        }
    }

    #[test]
    fn defaults_are_applied() {
        let cfg = TenantConfig::from_value(&base()).map_err(|e| e.to_string());
        let cfg = cfg.as_ref().map(|c| {
            (
                c.accounting_point_pattern.as_str(),
                c.virtual_token_prefix.as_str(),
                c.meter_value_resolution.as_str(),
            )
        });
        assert_eq!(cfg, Ok(("^[A-Za-z0-9]{5,18}$", "v:", "PT60M")));
    }

    #[test]
    fn each_bad_field_is_named() {
        assert_eq!(refused(|v| v["gln"] = "7080010002489".into()).field, "gln");
        assert_eq!(
            refused(|v| v["accountingPointPattern"] = "^[a-z".into()).field,
            "accountingPointPattern"
        );
        assert_eq!(refused(|v| v["mode"] = "pricing".into()).field, "mode");
        assert_eq!(
            refused(|v| v["vatPercent"] = "-1".into()).field,
            "vatPercent"
        );
        assert_eq!(
            refused(|v| v["vatPercent"] = "abc".into()).field,
            "vatPercent"
        );
        assert_eq!(refused(|v| v["currency"] = "XYZ".into()).field, "currency");
        assert_eq!(
            refused(|v| v["timeZone"] = "Mars/Base".into()).field,
            "timeZone"
        );
        assert_eq!(
            refused(|v| v["uc"]["baseUrl"] = "ftp://x".into()).field,
            "uc.baseUrl"
        );
        assert_eq!(
            refused(|v| v["meterValueResolution"] = "PT5M".into()).field,
            "meterValueResolution"
        );
        assert_eq!(
            refused(|v| v["logRetentionDays"] = 0.into()).field,
            "logRetentionDays"
        );
        assert_eq!(
            refused(|v| v["logRetentionDays"] = (-3).into()).field,
            "logRetentionDays"
        );
        assert_eq!(
            refused(|v| v["defaultSiteId"] = (-4).into()).field,
            "defaultSiteId"
        );
        assert_eq!(
            refused(|v| v["sites"] = serde_json::json!({"abc": {}})).field,
            "sites.abc"
        );
        assert_eq!(
            refused(|v| v["siteTariffs"] = serde_json::json!({"1042": "NOPE"})).field,
            "siteTariffs.1042"
        );
        assert_eq!(
            refused(|v| {
                v["mode"] = "costedTransaction".into();
                v["currency"] = "NOK".into();
                v["timeZone"] = "Europe/Oslo".into();
            })
            .field,
            "vatPercent"
        );
    }

    #[test]
    fn uc_urls_must_be_https_except_on_loopback() {
        for field in ["baseUrl", "tokenUrl"] {
            let named = format!("uc.{field}");
            for bad in [
                "http://api.example.com",
                "http://api.utilitycloud.app/se",
                "http://localhost.evil.com",
                "http://127.0.0.1@evil.com",
                "http://127.0.0.1.evil.com/x",
                "http://evil.com/127.0.0.1",
                "http://[::2]:8080",
                "http://127.0.0.2:80",
                "https://",
                "http://",
                "http://localhost./x",
                "https://user:pw@api.example.com",
                "ftp://api.example.com",
                "api.example.com",
                "",
            ] {
                let e = refused(|v| v["uc"][field] = bad.into());
                assert_eq!(e.field, named, "{bad:?} must be refused for {named}: {e}");
            }
            for good in [
                "https://api.utilitycloud.app",
                "https://api.utilitycloud.app/",
                "https://login.microsoftonline.com/t/oauth2/v2.0/token",
                "HTTPS://API.UTILITYCLOUD.APP",
                "http://127.0.0.1:41234",
                "http://localhost:8080/t/oauth2/v2.0/token",
                "http://[::1]:9",
                "http://LOCALHOST",
            ] {
                let mut v = base();
                v["uc"][field] = good.into();
                let got = TenantConfig::from_value(&v).map(|_| ());
                assert_eq!(got, Ok(()), "{good:?} must be accepted for {named}");
            }
        }
    }

    #[test]
    fn a_refused_url_names_the_field_and_the_rule() {
        let e = refused(|v| v["uc"]["baseUrl"] = "http://api.example.com".into());
        assert_eq!(e.field, "uc.baseUrl");
        assert!(e.message.contains("https"), "{e}");
        let e = refused(|v| v["uc"]["tokenUrl"] = "http://localhost.evil.com/token".into());
        assert_eq!(e.field, "uc.tokenUrl");
        let e = refused(|v| v["uc"]["baseUrl"] = "https://ucc:hunter2@api.example.com".into());
        assert_eq!(e.field, "uc.baseUrl");
        assert!(!e.to_string().contains("hunter2"), "never echoed: {e}");
    }

    #[test]
    fn a_pasted_secret_is_refused_without_being_echoed() {
        let e = refused(|v| v["uc"]["clientSecretRef"] = "s3cr3t~value".into());
        assert_eq!(e.field, "uc.clientSecretRef");
        assert!(!e.to_string().contains("s3cr3t"));
    }

    #[test]
    fn vat_reads_exactly_from_numbers_and_strings() {
        for raw in [serde_json::json!(25.5), serde_json::json!("25.5")] {
            let mut v = base();
            v["vatPercent"] = raw;
            let got = TenantConfig::from_value(&v).map(|c| c.vat_percent.map(|d| d.to_string()));
            assert_eq!(got, Ok(Some("25.5".to_owned())));
        }
    }

    #[test]
    fn unknown_fields_are_kept() {
        let mut v = base();
        v["futureField"] = serde_json::json!({"x": 1});
        let cfg = TenantConfig::from_value(&v).map(|c| c.extra.get("futureField").cloned());
        assert_eq!(cfg, Ok(Some(serde_json::json!({"x": 1}))));
    }

    #[test]
    fn site_resolution_prefers_explicit_then_product_then_default() {
        let mut v = base();
        v["defaultSiteId"] = 1001.into();
        v["productSites"] = serde_json::json!({"LADEABO-BORETTSLAG": 1042});
        let cfg = TenantConfig::from_value(&v).map_err(|e| e.to_string());
        let cfg = match cfg {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(
            cfg.resolve_site(Some(7), Some("LADEABO-BORETTSLAG")),
            Some(7)
        );
        assert_eq!(
            cfg.resolve_site(None, Some("LADEABO-BORETTSLAG")),
            Some(1042)
        );
        assert_eq!(cfg.resolve_site(None, Some("OTHER")), Some(1001));
    }
}
