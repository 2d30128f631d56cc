//! What every handler gets: the ports (store, clock) and a small tenant-config cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::gln::Gln;
use crate::registry;
use crate::store::{Store, StoreError};
use crate::tenant::TenantConfig;

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Default retention of log entries (SPEC §7).
pub const DEFAULT_LOG_RETENTION_DAYS: i64 = 90;

pub struct Ctx {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub log_retention_days: i64,
    /// How long a tenant config read from the store is reused. Config changes made through
    /// this process invalidate it at once; other instances see them within this time.
    pub tenant_cache_ttl: Duration,
    tenants: Mutex<HashMap<Gln, (Instant, Arc<TenantConfig>)>>,
    customers: Mutex<HashMap<String, (Instant, Gln)>>,
}

impl Ctx {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Ctx {
            store,
            clock: Arc::new(SystemClock),
            log_retention_days: DEFAULT_LOG_RETENTION_DAYS,
            tenant_cache_ttl: Duration::from_secs(30),
            tenants: Mutex::new(HashMap::new()),
            customers: Mutex::new(HashMap::new()),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The tenant's configuration. Only hits are cached: a tenant created a moment ago is
    /// found at once.
    pub async fn tenant(&self, gln: &Gln) -> Result<Option<Arc<TenantConfig>>, StoreError> {
        if let Ok(map) = self.tenants.lock() {
            if let Some((at, cfg)) = map.get(gln) {
                if at.elapsed() < self.tenant_cache_ttl {
                    return Ok(Some(cfg.clone()));
                }
            }
        }
        let cfg = registry::get(self.store.as_ref(), gln).await?.map(Arc::new);
        if let (Some(cfg), Ok(mut map)) = (&cfg, self.tenants.lock()) {
            map.insert(gln.clone(), (Instant::now(), cfg.clone()));
        }
        Ok(cfg)
    }

    /// The tenant owning an eMabler customer id (hits cached like tenant configs).
    pub async fn customer_gln(&self, customer_id: &str) -> Result<Option<Gln>, StoreError> {
        if let Ok(map) = self.customers.lock() {
            if let Some((at, gln)) = map.get(customer_id) {
                if at.elapsed() < self.tenant_cache_ttl {
                    return Ok(Some(gln.clone()));
                }
            }
        }
        let mut gln = registry::gln_for_customer(self.store.as_ref(), customer_id).await?;
        // A link is trusted only when its tenant's config names the customer too: a tenant
        // put interrupted between the two (registry::put) must route nothing.
        if let Some(g) = &gln {
            let confirmed = self
                .tenant(g)
                .await?
                .is_some_and(|cfg| cfg.customer_id == customer_id);
            if !confirmed {
                gln = None;
            }
        }
        if let (Some(g), Ok(mut map)) = (&gln, self.customers.lock()) {
            map.insert(customer_id.to_owned(), (Instant::now(), g.clone()));
        }
        Ok(gln)
    }

    /// Retention of a log entry of `tenant`: the tenant's `logRetentionDays` when its config
    /// is in the cache (every handler loads it before logging), else the context default.
    /// Reading the cache regardless of age is fine: a stale value only shifts one TTL.
    pub fn log_retention_for(&self, tenant: Option<&Gln>) -> i64 {
        tenant
            .and_then(|g| {
                self.tenants
                    .lock()
                    .ok()
                    .and_then(|m| m.get(g).map(|(_, cfg)| cfg.log_retention_days))
            })
            .flatten()
            .map_or(self.log_retention_days, i64::from)
    }

    pub fn forget_tenant(&self, gln: &Gln) {
        if let Ok(mut map) = self.tenants.lock() {
            map.remove(gln);
        }
    }
}
