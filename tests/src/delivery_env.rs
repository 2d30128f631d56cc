//! A delivery test environment: a store, the UC/Entra stand-in over real HTTP, tenants of
//! both modes pointing at it, a provisioned driver, and a clock the test moves by hand
//! (so backoff and leases are exercised without sleeping).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use ucc_shared::context::{Clock, Ctx};
use ucc_shared::contract::{self, InboundMessage};
use ucc_shared::delivery::intake::{self, SessionHandled};
use ucc_shared::delivery::record::{self, DeliveryRecord};
use ucc_shared::delivery::Deliverer;
use ucc_shared::gln::Gln;
use ucc_shared::store::Store;
use ucc_standins::uc::{StandIn, StandInConfig};

use crate::fixtures::{event, put_tenant, NORDLYS, SVEA};

pub const SECRET: &str = "s3cr3t-Nordlys-~value";
pub const COSTED_CUSTOMER: &str = "emb-cust-0042";
pub const METER_CUSTOMER: &str = "emb-cust-svea";
pub const AP: &str = "707057500012345678";
pub const RFID: &str = "04A2B3C4D5E6F7";
pub const SV_AP: &str = "735999100000012345";
pub const SV_RFID: &str = "SV-RFID-0001";

/// A tenant's delivery record as stored (the test fails when there is none).
pub async fn rec_of(store: &dyn Store, tenant: &str, tx: &str) -> DeliveryRecord {
    let gln = Gln::parse(tenant).unwrap_or_else(|e| panic!("{tenant}: {e}"));
    let item = store
        .get(&record::key(&gln, tx))
        .await
        .unwrap_or_else(|e| panic!("reading {tx}: {e}"))
        .unwrap_or_else(|| panic!("record {tx} exists"));
    DeliveryRecord::from_item(&item).unwrap_or_else(|e| panic!("{tx}: {e}"))
}

/// Nordlys's (the costed tenant's) delivery record.
pub async fn rec(store: &dyn Store, tx: &str) -> DeliveryRecord {
    rec_of(store, NORDLYS, tx).await
}

/// A clock that only moves when told to.
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock standing at `t` until advanced.
    pub fn at(t: DateTime<Utc>) -> Self {
        ManualClock(Mutex::new(t))
    }

    pub fn advance(&self, d: Duration) {
        if let Ok(mut t) = self.0.lock() {
            *t += chrono::Duration::from_std(d).unwrap_or_default();
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.lock().map(|t| *t).unwrap_or_else(|_| Utc::now())
    }
}

pub struct Env {
    pub timeout: Duration,
    pub standin: StandIn,
    pub store: Arc<dyn Store>,
    pub clock: Arc<ManualClock>,
    pub d: Arc<Deliverer>,
    pub secret_file: PathBuf,
    _dir: tempfile::TempDir,
}

pub fn tariff() -> Value {
    json!({
        "country_code": "NO", "party_id": "EMB", "id": "TARIFF-STD", "currency": "NOK",
        "elements": [{ "price_components": [{ "type": "ENERGY", "price": "2.00", "step_size": 1 }] }],
        "last_updated": "2026-01-01T00:00:00Z"
    })
}

pub fn costed_tenant(standin: &StandIn, secret_ref: &str) -> Value {
    json!({
        "gln": NORDLYS, "customerId": COSTED_CUSTOMER, "name": "Nordlys Energi AS",
        "mode": "costedTransaction",
        "uc": { "baseUrl": standin.base_url(), "tokenUrl": standin.token_url(),
                "clientId": standin.client_id(), "clientSecretRef": secret_ref, "scope": "api://uc/.default" },
        "defaultSiteId": 1001,
        "currency": "NOK", "vatPercent": "25", "pricesIncludeVat": false, "timeZone": "Europe/Oslo",
        "tariffs": [tariff()],
        "sites": { "1042": { "revenueShareId": 5501 }, "1043": { "revenueShared": true } }
    })
}

pub fn meter_tenant(standin: &StandIn, secret_ref: &str) -> Value {
    json!({
        "gln": SVEA, "customerId": METER_CUSTOMER, "name": "Svea Kraft AB", "mode": "meterValue",
        "uc": { "baseUrl": standin.base_url(), "tokenUrl": standin.token_url(),
                "clientId": standin.client_id(), "clientSecretRef": secret_ref, "scope": "api://uc/.default" },
        "meterValueResolution": "PT60M"
    })
}

/// The SPEC §4 example session (22.750 kWh), with a chosen id, tag and site.
pub fn session(tx: &str, customer: &str, tag: &str, site: Option<i64>) -> Value {
    let mut s = json!({
        "customerId": customer, "transactionId": tx, "chargerId": "EMB-0001234", "socketId": 1,
        "authorizedIdTag": tag, "authorizedTagName": "Kari sin brikke",
        "timestampStart": "2026-11-20T16:42:10Z", "timestampEnd": "2026-11-20T21:03:55Z",
        "meterReadStartWh": 1523400, "meterReadEndWh": 1546150,
        "meterValues": [ { "timestamp": "2026-11-20T17:00:00Z", "energyWh": 1525610 },
                         { "timestamp": "2026-11-20T19:00:00Z", "energyWh": 1536000 } ]
    });
    if let Some(site) = site {
        s["siteId"] = json!(site);
    }
    s
}

impl Env {
    pub async fn new(store: Arc<dyn Store>) -> Env {
        Env::new_with_timeout(store, Duration::from_secs(2)).await
    }

    /// As [`Env::new`], with a given UC/Entra call timeout.
    pub async fn new_with_timeout(store: Arc<dyn Store>, timeout: Duration) -> Env {
        Env::build(store, timeout, None).await
    }

    /// As [`Env::new`], the tenants' `clientSecretRef` being `secret_ref` (which must
    /// resolve to [`SECRET`]) instead of a file written by the test.
    pub async fn with_secret_ref(store: Arc<dyn Store>, secret_ref: &str) -> Env {
        Env::build(store, Duration::from_secs(2), Some(secret_ref)).await
    }

    async fn build(store: Arc<dyn Store>, timeout: Duration, secret_ref: Option<&str>) -> Env {
        let standin = StandIn::start(StandInConfig {
            client_secret: SECRET.into(),
            ..StandInConfig::default()
        })
        .await
        .expect("stand-in starts");
        let dir = tempfile::tempdir().expect("tempdir");
        let secret_file = dir.path().join("uc-secret");
        std::fs::write(&secret_file, SECRET).expect("write secret");
        let secret_ref =
            secret_ref.map_or_else(|| format!("file:{}", secret_file.display()), str::to_owned);
        put_tenant(store.as_ref(), &costed_tenant(&standin, &secret_ref)).await;
        put_tenant(store.as_ref(), &meter_tenant(&standin, &secret_ref)).await;
        let clock = Arc::new(ManualClock(Mutex::new(Utc::now())));
        let mut ctx = Ctx::new(store.clone());
        ctx.clock = clock.clone();
        let ctx = Arc::new(ctx);
        let d = Arc::new(Deliverer::new(ctx.clone(), timeout).expect("deliverer"));
        let env = Env {
            timeout,
            standin,
            store,
            clock,
            d,
            secret_file,
            _dir: dir,
        };
        env.contract(event(
            NORDLYS,
            "ContractActivated",
            "act-1",
            "2026-11-01T08:00:00Z",
            AP,
            json!({"Rfid": RFID, "PrivateSiteId": 1042}),
        ))
        .await;
        env.contract(event(
            SVEA,
            "ContractActivated",
            "act-sv",
            "2026-11-01T08:00:00Z",
            SV_AP,
            json!({"Rfid": SV_RFID}),
        ))
        .await;
        env
    }

    /// Another worker on the same store and stand-in (its own caches, as another instance).
    pub fn other_instance(&self) -> Arc<Deliverer> {
        let mut ctx = Ctx::new(self.store.clone());
        ctx.clock = self.clock.clone();
        Arc::new(Deliverer::new(Arc::new(ctx), self.timeout).expect("deliverer"))
    }

    pub async fn contract(&self, e: Value) {
        contract::handle(&self.d.ctx, &InboundMessage::from_body(e.to_string()))
            .await
            .expect("contract event handled");
    }

    pub async fn send(&self, s: &Value) -> SessionHandled {
        intake::handle(&self.d, &InboundMessage::from_body(s.to_string()))
            .await
            .expect("no transient failure")
    }

    pub async fn sweep_after(&self, wait: Duration) -> ucc_shared::delivery::sweep::SweepReport {
        self.clock.advance(wait);
        ucc_shared::delivery::sweep::sweep(&self.d)
            .await
            .expect("sweep")
    }

    pub fn set_secret(&self, s: &str) {
        std::fs::write(&self.secret_file, s).expect("write secret");
    }
}
