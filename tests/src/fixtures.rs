//! Builders for tenants and contract events used across the end-to-end tests.

use std::sync::Arc;

use serde_json::{json, Value};
use ucc_shared::context::Ctx;
use ucc_shared::registry;
use ucc_shared::store::Store;
use ucc_shared::tenant::TenantConfig;

pub const NORDLYS: &str = "7080010002488";
pub const SVEA: &str = "7300011000017";
pub const FJORD: &str = "9436465792104";

pub fn tenant_json(gln: &str, customer: &str) -> Value {
    json!({
        "gln": gln,
        "customerId": customer,
        "name": format!("Tenant {gln}"),
        "mode": "meterValue",
        "uc": {
            "baseUrl": "http://127.0.0.1:9",
            "tokenUrl": "http://127.0.0.1:9/token",
            "clientId": "client",
            "clientSecretRef": "env:UCC_TEST_SECRET",
            "scope": "api://uc/.default"
        },
        "defaultSiteId": 1001,
        "productSites": { "LADEABO-BORETTSLAG": 1042 }
    })
}

pub async fn put_tenant(store: &dyn Store, v: &Value) -> TenantConfig {
    let cfg = TenantConfig::from_value(v).unwrap_or_else(|e| panic!("fixture tenant invalid: {e}"));
    registry::put(store, &cfg)
        .await
        .unwrap_or_else(|e| panic!("cannot store tenant: {e}"));
    cfg
}

/// A context with the standard tenant configured.
pub async fn ctx_with_tenant(store: Arc<dyn Store>) -> Ctx {
    put_tenant(store.as_ref(), &tenant_json(NORDLYS, "emb-cust-0042")).await;
    Ctx::new(store)
}

/// A contract event body; `details` becomes `AccountingPoint.Details`.
pub fn event(tenant: &str, name: &str, id: &str, time: &str, ap: &str, details: Value) -> Value {
    json!({
        "Header": {
            "EventID": id,
            "EventName": name,
            "EventTime": time,
            "TenantID": tenant,
            "ServiceType": "ChargingAgreement"
        },
        "Payload": { "Contract": {
            "ContractID": "100234",
            "ProductCode": "LADEABO-STD",
            "AccountingPoint": { "Identification": ap, "Details": details }
        }}
    })
}

pub fn activation(ap: &str, id: &str, rfid: Option<&str>) -> Value {
    let details = match rfid {
        Some(r) => json!({ "Rfid": r, "RfidName": "Kari sin brikke" }),
        None => json!({}),
    };
    event(
        NORDLYS,
        "ContractActivated",
        id,
        "2026-11-20T08:15:02.123Z",
        ap,
        details,
    )
}
