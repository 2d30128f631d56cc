//! Details, tenant creation, API-key rotation and advanced settings.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use ucc_shared::apikey;
use ucc_shared::details::details_view;
use ucc_shared::gln::Gln;
use ucc_shared::registry::{self, RegistryError};
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

/// `GET /api/tenants` (SPEC §14, FIXED): every tenant, for the platform key only (401
/// without a valid key, 403 for a tenant key).
pub async fn list(State(s): State<AdminState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    match auth::caller(&s, &headers).await? {
        Caller::Platform => {}
        Caller::Tenant(_) => return Err(ApiError::forbidden_platform_only()),
    }
    let items: Vec<Value> = registry::list(s.d.ctx.store.as_ref())
        .await?
        .into_iter()
        .map(|t| {
            json!({
                "gln": t.gln,
                "name": t.name,
                "customerId": t.customer_id,
                "mode": t.mode,
            })
        })
        .collect();
    Ok(Json(json!({ "items": items })))
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
        s.d.ctx.now(),
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
) -> ApiResult<Response> {
    let a = super::path_tenant(&s, &headers, path).await?;
    // The stored version (not the cached config), so the ETag is the one a PUT checks.
    let (current, version) = registry::get_versioned(s.d.ctx.store.as_ref(), &a.gln)
        .await?
        .ok_or_else(|| ApiError::not_found("no tenant with this GLN"))?;
    Ok(with_etag(version, settings_view(&current)))
}

/// The settings answer with the config version as its ETag, for `If-Match` on the next PUT.
fn with_etag(version: u64, v: Value) -> Response {
    let mut res = Json(v).into_response();
    if let Ok(h) = HeaderValue::from_str(&format!("\"v{version}\"")) {
        res.headers_mut().insert(header::ETAG, h);
    }
    res
}

/// `If-Match` of a settings PUT: absent (no check), or the ETag of a settings GET. A value
/// that is not the current version means the settings changed since the caller read them.
fn check_if_match(headers: &HeaderMap, version: u64) -> ApiResult<()> {
    let Some(raw) = headers.get(header::IF_MATCH) else {
        return Ok(());
    };
    let current = format!("\"v{version}\"");
    let ok = raw
        .to_str()
        .is_ok_and(|v| v.split(',').any(|t| t.trim() == current || t.trim() == "*"));
    if ok {
        Ok(())
    } else {
        Err(ApiError::conflict(
            "the settings changed since you read them (If-Match); read them again and reapply your change",
        ))
    }
}

pub async fn put_settings(
    State(s): State<AdminState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let a = super::path_tenant(&s, &headers, path).await?;
    let bytes = body_bytes(body)?;
    let patch: Value = super::parse_json(&bytes)?;
    // Merge into what is stored now (not a cached copy up to 30 s old), and write only over
    // that version: two admins saving at once cannot silently undo each other.
    let (current, version) = registry::get_versioned(s.d.ctx.store.as_ref(), &a.gln)
        .await?
        .ok_or_else(|| ApiError::not_found("no tenant with this GLN"))?;
    check_if_match(&headers, version)?;
    let next = merge_settings(&current, &patch).map_err(config_error)?;
    registry::put_if_version(s.d.ctx.store.as_ref(), &next, version)
        .await
        .map_err(registry_error)?;
    s.d.ctx.forget_tenant(&next.gln);
    let stored = registry::get_versioned(s.d.ctx.store.as_ref(), &a.gln).await?;
    Ok(match stored {
        Some((cfg, v)) => with_etag(v, settings_view(&cfg)),
        None => Json(settings_view(&next)).into_response(),
    })
}
