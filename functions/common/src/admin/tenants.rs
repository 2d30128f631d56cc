//! Details, tenant creation, API-key rotation and advanced settings.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde_json::{json, Map, Value};
use ucc_shared::apikey;
use ucc_shared::delivery::record;
use ucc_shared::delivery::status;
use ucc_shared::gln::Gln;
use ucc_shared::keys;
use ucc_shared::registry::{self, RegistryError};
use ucc_shared::store::{IndexQuery, Query, SkRange, Store, StoreError};
use ucc_shared::tenant::{ConfigError, TenantConfig};

use super::auth::{self, Caller};
use super::errors::{ApiError, ApiResult};
use super::{body_bytes, path_params, AdminState};

/// The advanced settings a tenant changes itself (SPEC §7); everything else in the config
/// (identity, UC connection, pricing basics) is the platform's.
pub const SETTINGS_FIELDS: [&str; 9] = [
    "defaultSiteId",
    "productSites",
    "virtualTokenPrefix",
    "accountingPointPattern",
    "serviceBusTopic",
    "tariffs",
    "siteTariffs",
    "sites",
    "logRetentionDays",
];

/// The Details tab. Store cost: the status item (1 read), the API-key item (1 read unless
/// the caller already holds it: `known_key`), and one query per page (≤ 200 items) of the
/// tenant's deliveries and of its parked messages.
pub async fn details_view(
    store: &dyn Store,
    cfg: &TenantConfig,
    blocked_here: bool,
    known_key: Option<apikey::ApiKeyRecord>,
) -> Result<Value, StoreError> {
    let gln = &cfg.gln;
    let st = status::get(store, gln).await?;
    // Counts read the sparse indexes of pending and rejected deliveries, and the last
    // delivery is the newest successful UC call in the log: Details never walks the whole
    // delivery history, however long a tenant has been live.
    let pending = count_index(store, record::due_partition(gln)).await?;
    let rejected = count_index(store, record::rejected_partition(gln)).await?;
    let last = last_delivery(store, gln).await?;
    let mut parked = 0u64;
    for_each(store, keys::tenant(gln, keys::PARKED), |_| parked += 1).await?;
    let key = match known_key {
        Some(k) => Some(k),
        None => apikey::get(store, gln).await?,
    };
    let connection = if blocked_here {
        status::Connection::AuthBlocked
    } else {
        st.status
    };
    Ok(json!({
        "gln": gln,
        "name": cfg.name,
        "mode": cfg.mode,
        "status": connection.as_str(),
        "statusSince": st.since,
        "statusReason": st.reason,
        "lastDelivery": last,
        "counts": { "pending": pending, "rejected": rejected, "parked": parked },
        "apiKey": key.map(|k| json!({
            "masked": k.masked(gln),
            "fingerprint": k.fingerprint(),
            "createdAt": k.created_at,
        })),
        "logRetentionDays": cfg.retention_days(),
    }))
}

/// Entries in one sparse-index partition.
async fn count_index(store: &dyn Store, partition: String) -> Result<u64, StoreError> {
    let mut q = IndexQuery {
        partition,
        upto: None,
        limit: 200,
        cursor: None,
    };
    let mut n = 0u64;
    loop {
        let page = store.query_index(&q).await?;
        n += page.items.len() as u64;
        match page.next {
            Some(c) => q.cursor = Some(c),
            None => return Ok(n),
        }
    }
}

/// Log pages searched for the newest successful delivery before giving up.
const LAST_DELIVERY_PAGES: usize = 5;

/// The newest 2xx answer UC gave to a delivery POST, from the request log (newest first).
async fn last_delivery(store: &dyn Store, gln: &Gln) -> Result<Option<Value>, StoreError> {
    let mut cursor = None;
    for _ in 0..LAST_DELIVERY_PAGES {
        let (entries, next) = ucc_shared::log::list(store, Some(gln), 200, cursor).await?;
        let found = entries.iter().find(|e| {
            (200..300).contains(&e.response_code)
                && matches!(
                    e.action.as_str(),
                    "InvoiceLineImport" | "CreateMeterValuesSeries"
                )
        });
        if let Some(e) = found {
            let kind = if e.action == "InvoiceLineImport" {
                "invoiceLine"
            } else {
                "meterValues"
            };
            return Ok(Some(json!({
                "transactionId": e.reference_id,
                "deliveredAt": e.time,
                "kind": kind,
            })));
        }
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    Ok(None)
}

async fn for_each(
    store: &dyn Store,
    pk: String,
    mut f: impl FnMut(&ucc_shared::store::Item),
) -> Result<(), StoreError> {
    let mut q = Query {
        pk,
        range: SkRange::Between(" ".into(), "\u{10FFFF}".into()),
        descending: false,
        limit: 200,
        cursor: None,
    };
    loop {
        let page = store.query(&q).await?;
        page.items.iter().for_each(&mut f);
        match page.next {
            Some(c) => q.cursor = Some(c),
            None => return Ok(()),
        }
    }
}

pub async fn details(
    State(s): State<AdminState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let a = super::path_tenant(&s, &headers, path).await?;
    let v = details_view(
        s.d.ctx.store.as_ref(),
        &a.config,
        s.d.is_blocked(&a.gln),
        a.key.clone(),
    )
    .await?;
    Ok(Json(v))
}

fn config_error(e: ConfigError) -> ApiError {
    ApiError::invalid(e.field, e.message)
}

/// `PUT /api/tenants/{gln}`: the platform creates or replaces a tenant.
pub async fn put_tenant(
    State(s): State<AdminState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    match auth::caller(&s, &headers).await? {
        Caller::Platform => {}
        Caller::Tenant(_) => return Err(ApiError::forbidden_platform_only()),
    }
    let raw = path_params(path)?;
    let gln = Gln::parse(&raw).map_err(|e| ApiError::invalid("gln", e.to_string()))?;
    let bytes = body_bytes(body)?;
    let cfg = TenantConfig::from_json(&bytes).map_err(config_error)?;
    if cfg.gln != gln {
        return Err(ApiError::invalid("gln", "differs from the GLN in the path"));
    }
    let created = store_config(&s, &cfg).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(json!({ "created": created, "tenant": cfg }))))
}

fn registry_error(e: RegistryError) -> ApiError {
    match e {
        RegistryError::CustomerTaken { .. } => ApiError {
            status: StatusCode::CONFLICT,
            code: "conflict",
            message: "customerId: already belongs to another tenant".into(),
            field: Some("customerId".into()),
        },
        RegistryError::Store(e) if e.is_condition_failure() => {
            ApiError::conflict("the tenant changed meanwhile; read it again and retry")
        }
        RegistryError::Store(e) => e.into(),
        RegistryError::Corrupt(..) => ApiError::internal(),
    }
}

async fn store_config(s: &AdminState, cfg: &TenantConfig) -> ApiResult<bool> {
    let created = registry::put(s.d.ctx.store.as_ref(), cfg)
        .await
        .map_err(registry_error)?;
    s.d.ctx.forget_tenant(&cfg.gln);
    Ok(created)
}

/// `POST /api/tenants/{gln}/api-key`: the only answer that ever contains the key.
pub async fn rotate_key(
    State(s): State<AdminState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<(StatusCode, [(&'static str, &'static str); 1], Json<Value>)> {
    let a = super::path_tenant(&s, &headers, path).await?;
    let key = apikey::rotate(s.d.ctx.store.as_ref(), &a.gln, s.d.ctx.now())
        .await?
        .ok_or_else(|| ApiError::not_found("no tenant with this GLN"))?;
    tracing::info!(tenant = %a.gln, by = ?a.caller, "admin API key rotated");
    Ok((
        StatusCode::CREATED,
        [("cache-control", "no-store")],
        Json(json!({ "apiKey": key })),
    ))
}

/// The settings part of a config, every field present (`null` when unset).
pub fn settings_view(cfg: &TenantConfig) -> Value {
    let full = serde_json::to_value(cfg).unwrap_or(Value::Null);
    let mut out = Map::new();
    for f in SETTINGS_FIELDS {
        out.insert(f.to_owned(), full.get(f).cloned().unwrap_or(Value::Null));
    }
    Value::Object(out)
}

/// Applies a settings patch to a config: fields given replace the stored value, `null`
/// resets to the default, fields not given stay. The result is validated whole, exactly
/// as `ucc tenant put` validates a file.
pub fn merge_settings(cfg: &TenantConfig, patch: &Value) -> Result<TenantConfig, ConfigError> {
    let Value::Object(patch) = patch else {
        return Err(ConfigError {
            field: "(body)".into(),
            message: "must be a JSON object of settings".into(),
        });
    };
    let mut full = serde_json::to_value(cfg).map_err(|e| ConfigError {
        field: "(document)".into(),
        message: e.to_string(),
    })?;
    for (k, v) in patch {
        if !SETTINGS_FIELDS.contains(&k.as_str()) {
            return Err(ConfigError {
                field: k.clone(),
                message: format!(
                    "is not an advanced setting ({})",
                    SETTINGS_FIELDS.join(", ")
                ),
            });
        }
        if let Value::Object(m) = &mut full {
            if v.is_null() {
                m.remove(k);
            } else {
                m.insert(k.clone(), v.clone());
            }
        }
    }
    TenantConfig::from_value(&full)
}

pub async fn get_settings(
    State(s): State<AdminState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let a = super::path_tenant(&s, &headers, path).await?;
    Ok(Json(settings_view(&a.config)))
}

pub async fn put_settings(
    State(s): State<AdminState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let a = super::path_tenant(&s, &headers, path).await?;
    let bytes = body_bytes(body)?;
    let patch: Value = super::parse_json(&bytes)?;
    // Merge into what is stored now (not a cached copy up to 30 s old), and write only over
    // that version: two admins saving at once cannot silently undo each other.
    let (current, version) = registry::get_versioned(s.d.ctx.store.as_ref(), &a.gln)
        .await?
        .ok_or_else(|| ApiError::not_found("no tenant with this GLN"))?;
    let next = merge_settings(&current, &patch).map_err(config_error)?;
    registry::put_if_version(s.d.ctx.store.as_ref(), &next, version)
        .await
        .map_err(registry_error)?;
    s.d.ctx.forget_tenant(&next.gln);
    Ok(Json(settings_view(&next)))
}
