//! The Type B InvoiceLineImport body (SPEC §6, FIXED field names). Money and energy are
//! exact decimals written as JSON numbers with a fixed number of decimals.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionPayload {
    pub transaction_id: String,
    pub transaction_owner_id: String,
    pub site_id: i64,
    pub authorized_tag: String,
    pub authorized_tag_name: Option<String>,
    pub timestamp_start: String,
    pub timestamp_end: String,
    #[serde(serialize_with = "kwh", deserialize_with = "decimal")]
    pub full_consumption_k_wh: Decimal,
    pub currency: String,
    #[serde(serialize_with = "plain", deserialize_with = "decimal")]
    pub vat_percent: Decimal,
    #[serde(serialize_with = "money", deserialize_with = "decimal")]
    pub total_cost_incl_vat: Decimal,
    #[serde(serialize_with = "money", deserialize_with = "decimal")]
    pub total_cost_excl_vat: Decimal,
    #[serde(serialize_with = "money", deserialize_with = "decimal")]
    pub total_vat: Decimal,
    pub credit_reference_transaction_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revenue_share_id: Option<i64>,
}

impl TransactionPayload {
    /// The full reversal of this transaction (SPEC §6 credits).
    pub fn credit(&self, credit_id: String) -> TransactionPayload {
        TransactionPayload {
            transaction_id: credit_id,
            full_consumption_k_wh: -self.full_consumption_k_wh,
            total_cost_incl_vat: -self.total_cost_incl_vat,
            total_cost_excl_vat: -self.total_cost_excl_vat,
            total_vat: -self.total_vat,
            credit_reference_transaction_id: Some(self.transaction_id.clone()),
            ..self.clone()
        }
    }
}

fn number<S: Serializer>(d: Decimal, s: S) -> Result<S::Ok, S::Error> {
    // With serde_json's arbitrary_precision a Number keeps these exact digits.
    let n = serde_json::Number::from_str(&d.to_string()).map_err(serde::ser::Error::custom)?;
    n.serialize(s)
}

fn fixed(d: &Decimal, dp: u32) -> Decimal {
    let mut r = d.round_dp_with_strategy(dp, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    r.rescale(dp);
    r
}

fn money<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    number(fixed(d, 2), s)
}

fn kwh<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    number(fixed(d, 3), s)
}

fn plain<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    number(d.normalize(), s)
}

fn decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    crate::decimal::deserialize(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TransactionPayload {
        TransactionPayload {
            transaction_id: "88812345".into(),
            transaction_owner_id: "707057500012345678".into(),
            site_id: 1042,
            authorized_tag: "v:7K2M9QXR4T8B3N5P".into(),
            authorized_tag_name: Some("Kari sin brikke".into()),
            timestamp_start: "2026-11-20T16:42:10Z".into(),
            timestamp_end: "2026-11-20T21:03:55Z".into(),
            full_consumption_k_wh: Decimal::new(2275, 2),
            currency: "NOK".into(),
            vat_percent: Decimal::new(25, 0),
            total_cost_incl_vat: Decimal::new(5688, 2),
            total_cost_excl_vat: Decimal::new(455, 1),
            total_vat: Decimal::new(1138, 2),
            credit_reference_transaction_id: None,
            revenue_share_id: Some(5501),
        }
    }

    #[test]
    fn serialises_exactly_as_the_spec_example() {
        let json = serde_json::to_string(&sample()).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"transactionId":"88812345","transactionOwnerId":"707057500012345678","siteId":1042,"authorizedTag":"v:7K2M9QXR4T8B3N5P","authorizedTagName":"Kari sin brikke","timestampStart":"2026-11-20T16:42:10Z","timestampEnd":"2026-11-20T21:03:55Z","fullConsumptionKWh":22.750,"currency":"NOK","vatPercent":25,"totalCostInclVat":56.88,"totalCostExclVat":45.50,"totalVat":11.38,"creditReferenceTransactionId":null,"revenueShareId":5501}"#
        );
    }

    #[test]
    fn a_credit_negates_everything_and_references_the_original() {
        let c = sample().credit("88812345-C1".into());
        assert_eq!(c.transaction_id, "88812345-C1");
        assert_eq!(
            c.credit_reference_transaction_id.as_deref(),
            Some("88812345")
        );
        assert_eq!(c.total_cost_incl_vat, Decimal::new(-5688, 2));
        assert_eq!(c.total_cost_excl_vat + c.total_vat, c.total_cost_incl_vat);
        assert_eq!(c.full_consumption_k_wh, Decimal::new(-2275, 2));
    }

    #[test]
    fn round_trips() {
        let s = sample();
        let back: Result<TransactionPayload, _> =
            serde_json::from_str(&serde_json::to_string(&s).unwrap_or_default());
        assert_eq!(back.ok(), Some(s));
    }
}
