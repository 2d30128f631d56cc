//! The delivery record: one per transaction id, holding the exact body UC will receive and
//! where it stands. Created atomically with the inbound log entry before the first attempt,
//! so nothing accepted by the connector can be lost between pricing and posting.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::gln::Gln;
use crate::keys;
use crate::store::{query_all, Item, Key, Query, SkRange, Store, StoreError};

pub const TRANSACTIONS: &str = "TX";

/// Sparse-index partition of a tenant's pending deliveries, sorted by when they are due: the
/// retry timer and the Details counts read only what is pending, never the whole history.
pub fn due_partition(gln: &Gln) -> String {
    keys::tenant(gln, "DUE")
}

/// Sparse-index partition of a tenant's rejected deliveries (they wait for an operator).
pub fn rejected_partition(gln: &Gln) -> String {
    keys::tenant(gln, "REJ")
}

/// Sparse-index partition of a tenant's held corrections (their credit was rejected; they
/// wait for an operator to re-drive the credit).
pub fn held_partition(gln: &Gln) -> String {
    keys::tenant(gln, "HELD")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PayloadKind {
    /// Type B: POST /se/invoicelineimport/v1/transaction
    InvoiceLine,
    /// Type A: POST /v1/se/general-mv-adapter/CreateMeterValuesSeries
    MeterValues,
}

impl PayloadKind {
    pub fn action(self) -> &'static str {
        match self {
            PayloadKind::InvoiceLine => "InvoiceLineImport",
            PayloadKind::MeterValues => "CreateMeterValuesSeries",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeliveryState {
    Pending,
    Delivered,
    Rejected,
    /// A correction `<root>-R<n>` whose credit `<root>-C<n>` UC rejected: never posted
    /// while the household still owes the original line; released when the credit is
    /// re-driven.
    Held,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Rejected => "rejected",
            DeliveryState::Held => "held",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryState> {
        match s {
            "pending" => Some(DeliveryState::Pending),
            "delivered" => Some(DeliveryState::Delivered),
            "rejected" => Some(DeliveryState::Rejected),
            "held" => Some(DeliveryState::Held),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryRecord {
    pub tenant: Gln,
    pub transaction_id: String,
    pub kind: PayloadKind,
    /// The exact JSON body UC receives.
    pub payload: Value,
    pub state: DeliveryState,
    pub attempts: u32,
    /// A POST may be outstanding or may have been processed without us seeing the answer:
    /// the next attempt must ask UC (GET) before posting again.
    pub in_flight: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub waiting_for_auth: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_result: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_response: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<DateTime<Utc>>,
    pub accounting_point: String,
    /// The session event it came from, so a correction can re-price it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tariff_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_of: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credited_by: Option<String>,
    /// On an original: how many credits (and so corrections) it has had.
    #[serde(default)]
    pub corrections: u32,
    /// On a credit or a re-priced correction: the original transaction id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// On a correction `<root>-R<n>`: the credit that must be delivered before it is posted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waits_for: Option<String>,
    /// On a credit that is part of a correction: the re-priced line waiting for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub followed_by: Option<String>,
    /// Pricing warnings (e.g. a tariff used outside its validity), kept for the operator.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Whether the tenant's open-work counts (`counts`) include this record. A record whose
    /// first attempt is under way is not counted yet, so a session delivered at once costs
    /// the counters nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub counted: bool,
    /// While a migration is scheduled, on a session delivered as meter values: what Type B
    /// would have billed (SPEC §12). Kept for the report; never sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<crate::migration::Shadow>,
    /// SPEC §13: not priced yet, waiting for this (`awaitingSpotPrices`); the payload is
    /// null until the retry timer prices it. Never posted while set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awaiting: Option<String>,
}

/// Every delivery record of a tenant, in transaction-id order (operator listings, checks).
/// An unreadable record is an error naming it, never silently left out.
pub async fn list_all(store: &dyn Store, gln: &Gln) -> Result<Vec<DeliveryRecord>, StoreError> {
    let q = Query {
        pk: keys::tenant(gln, TRANSACTIONS),
        range: SkRange::Between(" ".into(), "\u{10FFFF}".into()),
        limit: 200,
        cursor: None,
    };
    query_all(store, q)
        .await?
        .iter()
        .map(DeliveryRecord::from_item)
        .collect()
}

pub fn key(gln: &Gln, transaction_id: &str) -> Key {
    Key::new(keys::tenant(gln, TRANSACTIONS), transaction_id)
}

/// Fixed-width UTC time, so index sort keys order chronologically as strings.
pub fn sortable(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl DeliveryRecord {
    /// A delivery not yet attempted: no lease, no result, no credit or correction links.
    pub fn new_pending(
        tenant: Gln,
        transaction_id: String,
        kind: PayloadKind,
        payload: Value,
        accounting_point: String,
        now: DateTime<Utc>,
    ) -> Self {
        DeliveryRecord {
            tenant,
            transaction_id,
            kind,
            payload,
            state: DeliveryState::Pending,
            attempts: 0,
            in_flight: false,
            lease_until: None,
            lease_owner: None,
            next_attempt_at: None,
            waiting_for_auth: false,
            last_result: None,
            last_status: None,
            last_response: None,
            created_at: now,
            updated_at: now,
            delivered_at: None,
            accounting_point,
            session: None,
            tariff_id: None,
            credit_of: None,
            credited_by: None,
            corrections: 0,
            root: None,
            reason: None,
            waits_for: None,
            followed_by: None,
            warnings: Vec::new(),
            counted: false,
            shadow: None,
            awaiting: None,
        }
    }

    pub fn key(&self) -> Key {
        key(&self.tenant, &self.transaction_id)
    }

    /// When the retry timer should look at this record again, if ever.
    pub fn due_at(&self) -> Option<DateTime<Utc>> {
        if self.state != DeliveryState::Pending {
            return None;
        }
        match (self.lease_until, self.next_attempt_at) {
            (Some(l), Some(n)) => Some(l.max(n)),
            (Some(l), None) => Some(l),
            (None, n) => n.or(Some(self.created_at)),
        }
    }

    pub fn to_item(&self, version: u64) -> Result<Item, StoreError> {
        let doc = serde_json::to_string(self).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut item = Item::new(self.key(), doc, version);
        if let Some(due) = self.due_at() {
            item = item.with_index(
                due_partition(&self.tenant),
                format!("{}#{}", sortable(due), self.transaction_id),
            );
        } else if self.state == DeliveryState::Rejected {
            item = item.with_index(
                rejected_partition(&self.tenant),
                format!("{}#{}", sortable(self.updated_at), self.transaction_id),
            );
        } else if self.state == DeliveryState::Held {
            item = item.with_index(
                held_partition(&self.tenant),
                format!("{}#{}", sortable(self.updated_at), self.transaction_id),
            );
        }
        Ok(item)
    }

    /// The operator's view (CLI and admin API): the stored session and lease bookkeeping
    /// left out.
    pub fn operator_view(&self) -> Value {
        serde_json::json!({
            "transactionId": self.transaction_id,
            "tenant": self.tenant,
            "kind": self.kind,
            "state": self.state,
            "attempts": self.attempts,
            "waitingForAuth": self.waiting_for_auth,
            "reason": self.awaiting,
            "nextAttemptAt": self.next_attempt_at,
            "lastResult": self.last_result,
            "lastStatus": self.last_status,
            "lastResponse": self.last_response,
            "createdAt": self.created_at,
            "deliveredAt": self.delivered_at,
            "accountingPoint": self.accounting_point,
            "creditOf": self.credit_of,
            "creditedBy": self.credited_by,
            "waitsFor": self.waits_for,
            "warnings": self.warnings,
            "shadow": self.shadow,
            "payload": self.payload,
        })
    }

    pub fn from_item(item: &Item) -> Result<DeliveryRecord, StoreError> {
        serde_json::from_str(&item.doc).map_err(|e| {
            StoreError::Invalid(format!(
                "delivery record {} is unreadable: {e}",
                item.key.sk
            ))
        })
    }
}
