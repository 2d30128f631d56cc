//! The tenant registry: tenant configs, the tenant directory and the customerId → GLN map.

use serde::{Deserialize, Serialize};

use crate::gln::Gln;
use crate::keys;
use crate::store::{Condition, Key, Query, Store, StoreError, WriteOp};
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
/// Config, directory entry and customer link are written in one transaction, conditional on
/// what was read, so two concurrent puts cannot leave them inconsistent.
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
        let link_key = Key::new(keys::CUSTOMER_DIRECTORY, cfg.customer_id.as_str());
        let link = store.get(&link_key).await?;
        if let Some(l) = &link {
            if let Ok(owner) = serde_json::from_str::<CustomerLink>(&l.doc) {
                if owner.gln != cfg.gln {
                    return Err(RegistryError::CustomerTaken {
                        customer_id: cfg.customer_id.clone(),
                        owner: owner.gln.to_string(),
                    });
                }
            }
        }
        let doc = serde_json::to_string(cfg).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let summary = TenantSummary {
            gln: cfg.gln.clone(),
            customer_id: cfg.customer_id.clone(),
            name: cfg.name.clone(),
            mode: cfg.mode,
        };
        let summary_doc =
            serde_json::to_string(&summary).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let link_doc = serde_json::to_string(&CustomerLink {
            gln: cfg.gln.clone(),
        })
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let (cond, version) = match &old {
            Some(i) => (Condition::Version(i.version), i.version + 1),
            None => (Condition::NotExists, 1),
        };
        let mut ops = vec![
            WriteOp::Put {
                item: crate::store::Item::new(config_key(&cfg.gln), doc, version),
                condition: cond,
            },
            WriteOp::Put {
                item: crate::store::Item::new(
                    Key::new(keys::TENANT_DIRECTORY, cfg.gln.as_str()),
                    summary_doc,
                    version,
                ),
                condition: Condition::Always,
            },
            WriteOp::Put {
                item: crate::store::Item::new(link_key, link_doc, 1),
                condition: match &link {
                    Some(l) => Condition::Version(l.version),
                    None => Condition::NotExists,
                },
            },
        ];
        if let Some(prev) = old_cfg
            .as_ref()
            .filter(|p| p.customer_id != cfg.customer_id)
        {
            ops.push(WriteOp::Delete {
                key: Key::new(keys::CUSTOMER_DIRECTORY, prev.customer_id.as_str()),
                condition: Condition::Always,
            });
        }
        match store.transact(ops).await {
            Ok(()) => return Ok(old.is_none()),
            Err(e) if e.is_condition_failure() || e == StoreError::Conflict => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::Conflict.into())
}

pub async fn list(store: &dyn Store) -> Result<Vec<TenantSummary>, StoreError> {
    let mut q = Query::prefix(keys::TENANT_DIRECTORY, "");
    q.range = crate::store::SkRange::Between("0".into(), "9~".into());
    Ok(crate::store::query_all(store, q)
        .await?
        .iter()
        .filter_map(|item| serde_json::from_str(&item.doc).ok())
        .collect())
}
