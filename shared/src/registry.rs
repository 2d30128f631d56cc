//! The tenant registry: tenant configs, the tenant directory and the customerId → GLN map.

use serde::{Deserialize, Serialize};

use crate::gln::Gln;
use crate::keys;
use crate::store::{Condition, Item, Key, Query, Store, StoreError};
use crate::tenant::{Mode, TenantConfig};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("customerId {customer_id:?} already belongs to tenant {owner}")]
    CustomerTaken { customer_id: String, owner: String },
    #[error("stored tenant {0} is unreadable: {1}")]
    Corrupt(String, String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One line of `ucc tenant list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantSummary {
    pub gln: Gln,
    pub customer_id: String,
    pub name: String,
    pub mode: Mode,
    /// Set while a put is writing config version `n` (see [`put`]); never shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<u64>,
    /// While pending: the customer whose link the put releases (see [`put`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct CustomerLink {
    gln: Gln,
}

fn config_key(gln: &Gln) -> Key {
    Key::new(keys::tenant(gln, keys::CONFIG), keys::CONFIG)
}

pub async fn get(store: &dyn Store, gln: &Gln) -> Result<Option<TenantConfig>, StoreError> {
    let Some(item) = store.get(&config_key(gln)).await? else {
        return Ok(None);
    };
    serde_json::from_str(&item.doc)
        .map(Some)
        .map_err(|e| StoreError::Invalid(format!("stored tenant {gln} is unreadable: {e}")))
}

/// GLN of the tenant that owns an eMabler customer id.
pub async fn gln_for_customer(
    store: &dyn Store,
    customer_id: &str,
) -> Result<Option<Gln>, StoreError> {
    let item = store
        .get(&Key::new(keys::CUSTOMER_DIRECTORY, customer_id))
        .await?;
    Ok(item.and_then(|i| {
        serde_json::from_str::<CustomerLink>(&i.doc)
            .ok()
            .map(|l| l.gln)
    }))
}

/// Creates or replaces a tenant. Returns true when it was created.
///
/// Config, directory entry and customer link live in three scopes (the tenant's own,
/// `TENANTS`, `CUSTOMERS`), and no backend may commit across scopes (SPEC §9), so they are
/// written in an order whose every crash point is harmless and repaired by running the
/// same put again:
/// 1. the customer link (claimed, conditional on what was read): routing trusts a link only
///    when the tenant's config names the same customer, so an early link routes nothing;
/// 2. the directory entry, marked `pending` with the config version about to be written and
///    the customer it `replaces`, if the customer changes;
/// 3. the config, conditional on the version read: the commit point;
/// 4. the old customer link, unless it already points elsewhere (a repairing put finds the
///    customer to release in the still-pending directory entry);
/// 5. the directory entry again, no longer pending. A pending entry is listed only if its
///    config exists, and then as the config says, so a crash anywhere never shows a tenant
///    that does not exist nor hides one that does.
pub async fn put(store: &dyn Store, cfg: &TenantConfig) -> Result<bool, RegistryError> {
    put_checked(store, cfg, None).await
}

/// The stored config and its version, for a read-modify-write with [`put_if_version`].
pub async fn get_versioned(
    store: &dyn Store,
    gln: &Gln,
) -> Result<Option<(TenantConfig, u64)>, StoreError> {
    let Some(item) = store.get(&config_key(gln)).await? else {
        return Ok(None);
    };
    serde_json::from_str(&item.doc)
        .map(|c| Some((c, item.version)))
        .map_err(|e| StoreError::Invalid(format!("stored tenant {gln} is unreadable: {e}")))
}

/// Like [`put`], but only over the version the caller read (and derived `cfg` from): a
/// change made meanwhile fails with a condition error instead of being overwritten.
pub async fn put_if_version(
    store: &dyn Store,
    cfg: &TenantConfig,
    expected: u64,
) -> Result<bool, RegistryError> {
    put_checked(store, cfg, Some(expected)).await
}

async fn put_checked(
    store: &dyn Store,
    cfg: &TenantConfig,
    expected: Option<u64>,
) -> Result<bool, RegistryError> {
    for _ in 0..5 {
        let old = store.get(&config_key(&cfg.gln)).await?;
        if let Some(e) = expected {
            if old.as_ref().map(|i| i.version) != Some(e) {
                return Err(StoreError::ConditionFailed(config_key(&cfg.gln)).into());
            }
        }
        let old_cfg: Option<TenantConfig> = match &old {
            Some(i) => Some(
                serde_json::from_str(&i.doc)
                    .map_err(|e| RegistryError::Corrupt(cfg.gln.to_string(), e.to_string()))?,
            ),
            None => None,
        };
        let (cond, version) = match &old {
            Some(i) => (Condition::Version(i.version), i.version + 1),
            None => (Condition::NotExists, 1),
        };
        // 1. The customer link.
        let link_key = Key::new(keys::CUSTOMER_DIRECTORY, cfg.customer_id.as_str());
        match claim_link(store, &link_key, cfg).await {
            Ok(()) => {}
            Err(RegistryError::Store(e)) if retry(&e) => continue,
            Err(e) => return Err(e),
        }
        // 2. The directory entry, pending, naming the customer this put takes over from:
        // the old config's, or the one an interrupted earlier put was replacing.
        let dir_key = Key::new(keys::TENANT_DIRECTORY, cfg.gln.as_str());
        let interrupted = match store.get(&dir_key).await? {
            Some(i) => serde_json::from_str::<TenantSummary>(&i.doc)
                .ok()
                .filter(|s| s.pending.is_some())
                .and_then(|s| s.replaces),
            None => None,
        };
        let replaces = old_cfg
            .map(|p| p.customer_id)
            .into_iter()
            .chain(interrupted)
            .find(|c| *c != cfg.customer_id);
        let summary = TenantSummary {
            gln: cfg.gln.clone(),
            customer_id: cfg.customer_id.clone(),
            name: cfg.name.clone(),
            mode: cfg.mode,
            pending: Some(version),
            replaces: replaces.clone(),
        };
        match write_summary(store, &summary, version).await {
            Ok(()) => {}
            Err(e) if retry(&e) => continue,
            Err(e) => return Err(e.into()),
        }
        // 3. The config: the commit point.
        let doc = serde_json::to_string(cfg).map_err(|e| StoreError::Invalid(e.to_string()))?;
        match store
            .put(Item::new(config_key(&cfg.gln), doc, version), cond)
            .await
        {
            Ok(()) => {}
            Err(e) if retry(&e) => continue,
            Err(e) => return Err(e.into()),
        }
        // 4. The old customer link, if it still points here.
        if let Some(prev) = &replaces {
            release_link(store, prev, &cfg.gln).await?;
        }
        // 5. The directory entry, committed. Losing to a newer put is fine: it writes its own.
        let done = TenantSummary {
            pending: None,
            replaces: None,
            ..summary
        };
        match write_summary(store, &done, version).await {
            Ok(()) => {}
            Err(e) if retry(&e) => {}
            Err(e) => return Err(e.into()),
        }
        return Ok(old.is_none());
    }
    Err(StoreError::Conflict.into())
}

fn retry(e: &StoreError) -> bool {
    e.is_condition_failure() || *e == StoreError::Conflict
}

/// Points `customer_id` at `cfg.gln`, unless another tenant's config really holds it (a
/// link whose tenant no longer names that customer is a leftover, and is taken over).
async fn claim_link(
    store: &dyn Store,
    link_key: &Key,
    cfg: &TenantConfig,
) -> Result<(), RegistryError> {
    let link = store.get(link_key).await?;
    let condition = match &link {
        Some(l) => {
            let owner = serde_json::from_str::<CustomerLink>(&l.doc)
                .ok()
                .map(|o| o.gln);
            if owner.as_ref() == Some(&cfg.gln) {
                return Ok(());
            }
            if let Some(owner) = owner {
                let holds = get(store, &owner)
                    .await?
                    .is_some_and(|c| c.customer_id == cfg.customer_id);
                if holds {
                    return Err(RegistryError::CustomerTaken {
                        customer_id: cfg.customer_id.clone(),
                        owner: owner.to_string(),
                    });
                }
            }
            Condition::Version(l.version)
        }
        None => Condition::NotExists,
    };
    let doc = serde_json::to_string(&CustomerLink {
        gln: cfg.gln.clone(),
    })
    .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let version = link.as_ref().map_or(1, |l| l.version + 1);
    store
        .put(Item::new(link_key.clone(), doc, version), condition)
        .await?;
    Ok(())
}

/// Writes the directory entry for config `version`, unless a newer one is there.
async fn write_summary(
    store: &dyn Store,
    summary: &TenantSummary,
    version: u64,
) -> Result<(), StoreError> {
    let key = Key::new(keys::TENANT_DIRECTORY, summary.gln.as_str());
    let current = store.get(&key).await?;
    if current.as_ref().is_some_and(|c| c.version > version) {
        return Ok(());
    }
    let doc = serde_json::to_string(summary).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let condition = current
        .as_ref()
        .map_or(Condition::NotExists, |c| Condition::Version(c.version));
    store.put(Item::new(key, doc, version), condition).await
}

/// Removes the link of `customer_id` if it still points at `gln`.
async fn release_link(store: &dyn Store, customer_id: &str, gln: &Gln) -> Result<(), StoreError> {
    let key = Key::new(keys::CUSTOMER_DIRECTORY, customer_id);
    let Some(link) = store.get(&key).await? else {
        return Ok(());
    };
    let ours = serde_json::from_str::<CustomerLink>(&link.doc).is_ok_and(|l| &l.gln == gln);
    if !ours {
        return Ok(());
    }
    match store.delete(&key, Condition::Version(link.version)).await {
        Err(e) if e.is_condition_failure() => Ok(()),
        other => other,
    }
}

/// Every tenant, from the directory. An entry left pending by an interrupted put is
/// listed only if its config exists, and then as the config says.
pub async fn list(store: &dyn Store) -> Result<Vec<TenantSummary>, StoreError> {
    let mut q = Query::prefix(keys::TENANT_DIRECTORY, "");
    q.range = crate::store::SkRange::Between("0".into(), "9~".into());
    let mut out = Vec::new();
    for item in crate::store::query_all(store, q).await? {
        let Ok(summary) = serde_json::from_str::<TenantSummary>(&item.doc) else {
            continue;
        };
        if summary.pending.is_none() {
            out.push(summary);
        } else if let Some(cfg) = get(store, &summary.gln).await? {
            out.push(TenantSummary {
                gln: cfg.gln,
                customer_id: cfg.customer_id,
                name: cfg.name,
                mode: cfg.mode,
                pending: None,
                replaces: None,
            });
        }
    }
    Ok(out)
}
