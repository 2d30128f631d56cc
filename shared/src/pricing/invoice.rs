//! Invoice amounts for Utility Cloud (SPEC §5): rounded once, at the end, to the currency's
//! minor unit, so that `incl = excl + VAT` holds exactly on every transaction line.

use chrono_tz::Tz;
use rust_decimal::Decimal;

use super::engine::{round_half_away, PricingResult};

/// Tenant settings that turn an OCPI price into invoice amounts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoiceSettings {
    pub currency: String,
    pub vat_percent: Decimal,
    /// `true`: tariff prices already include VAT; VAT is extracted rather than added.
    pub prices_include_vat: bool,
    pub time_zone: Tz,
}

impl Default for InvoiceSettings {
    /// NOK, 25 %, prices excl. VAT, Europe/Oslo: the connector's home market.
    fn default() -> Self {
        Self {
            currency: "NOK".to_owned(),
            vat_percent: Decimal::from(25),
            prices_include_vat: false,
            time_zone: chrono_tz::Europe::Oslo,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoiceAmounts {
    pub currency: String,
    pub vat_percent: Decimal,
    pub total_cost_excl_vat: Decimal,
    pub total_vat: Decimal,
    pub total_cost_incl_vat: Decimal,
    pub full_consumption_kwh: Decimal,
}

/// Digits after the decimal point of an ISO 4217 currency (2 unless listed).
pub fn minor_unit(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// Applies SPEC §5 to an OCPI result. Which OCPI total is the base depends on the VAT mode:
/// excl. mode adds the tenant's VAT to the excl. total; incl. mode takes the incl. total (for
/// a tariff written with VAT-inclusive prices and no component VAT, that is the same number)
/// and extracts the tenant's VAT from it.
pub fn invoice_amounts(
    result: &PricingResult,
    settings: &InvoiceSettings,
    full_consumption_kwh: Decimal,
) -> InvoiceAmounts {
    let dp = minor_unit(&settings.currency);
    let rate = settings.vat_percent / Decimal::ONE_HUNDRED;
    let (excl, vat, incl) = if settings.prices_include_vat {
        let incl = round_half_away(result.total_cost.incl_vat, dp);
        let excl = round_half_away(incl / (Decimal::ONE + rate), dp);
        (excl, incl - excl, incl)
    } else {
        let excl = round_half_away(result.total_cost.excl_vat, dp);
        let vat = round_half_away(excl * rate, dp);
        (excl, vat, excl + vat)
    };
    InvoiceAmounts {
        currency: settings.currency.clone(),
        vat_percent: settings.vat_percent,
        total_cost_excl_vat: excl,
        total_vat: vat,
        total_cost_incl_vat: incl,
        full_consumption_kwh: {
            let mut k = round_half_away(full_consumption_kwh, 3);
            k.rescale(3);
            k
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::engine::Amount;
    use crate::pricing::tariff::Tariff;
    use rust_decimal_macros::dec;

    fn result(excl: Decimal, incl: Decimal) -> PricingResult {
        let tariff = Tariff {
            id: "t".into(),
            currency: "NOK".into(),
            country_code: None,
            party_id: None,
            elements: Vec::new(),
            min_price: None,
            max_price: None,
            start_date_time: None,
            end_date_time: None,
            warnings: Vec::new(),
        };
        let mut r = crate::pricing::engine::price_periods(&[], &tariff, chrono_tz::UTC);
        r.total_cost = Amount {
            excl_vat: excl,
            incl_vat: incl,
        };
        r
    }

    #[test]
    fn spec_example_excl_mode() {
        // 45.495 → 45.50 (half away from zero); VAT 11.375 → 11.38
        let a = invoice_amounts(
            &result(dec!(45.495), dec!(0)),
            &InvoiceSettings::default(),
            dec!(22.75),
        );
        assert_eq!(
            (a.total_cost_excl_vat, a.total_vat, a.total_cost_incl_vat),
            (dec!(45.50), dec!(11.38), dec!(56.88))
        );
        assert_eq!(a.full_consumption_kwh.to_string(), "22.750");
    }

    #[test]
    fn incl_mode_extracts_vat() {
        let s = InvoiceSettings {
            prices_include_vat: true,
            ..InvoiceSettings::default()
        };
        let a = invoice_amounts(&result(dec!(0), dec!(56.875)), &s, dec!(1));
        // 56.875 → 56.88; /1.25 = 45.504 → 45.50; VAT = 11.38
        assert_eq!(
            (a.total_cost_excl_vat, a.total_vat, a.total_cost_incl_vat),
            (dec!(45.50), dec!(11.38), dec!(56.88))
        );
    }

    #[test]
    fn minor_units() {
        assert_eq!(minor_unit("NOK"), 2);
        assert_eq!(minor_unit("ISK"), 0);
        assert_eq!(minor_unit("KWD"), 3);
    }
}
