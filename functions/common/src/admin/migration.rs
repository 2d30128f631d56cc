//! `GET|PUT|DELETE /api/tenants/{gln}/migration` (SPEC §12): read, schedule or cancel a
//! tenant's Type A → B migration. Reading is open to the tenant's key; scheduling and
//! cancelling change the tenant's mode, which is the platform's (like `PUT /api/tenants/{gln}`).

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use ucc_shared::migration::{self, MigrationError};
use ucc_shared::registry;
use ucc_shared::tenant::Mode;

use super::auth::Caller;
use super::errors::{ApiError, ApiResult};
use super::{body_bytes, parse_json, AdminState};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Schedule {
    to: Mode,
    #[serde(deserialize_with = "rfc3339")]
    cutover: DateTime<Utc>,
}

fn rfc3339<'de, D: serde::Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let s = String::deserialize(d)?;
    DateTime::parse_from_rfc3339(&s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| serde::de::Error::custom(format!("{s:?} is not an RFC 3339 time: {e}")))
}

fn migration_error(e: MigrationError) -> ApiError {
    match e {
        // A schema-valid request the tenant's mode or the time refuses: 409, naming the field.
        MigrationError::Refused(c) => ApiError::conflict_at(c.field, c.message),
        MigrationError::UnknownTenant(g) => ApiError::not_found(format!("no tenant with GLN {g}")),
        MigrationError::Conflict => {
            ApiError::conflict("the tenant changed meanwhile; read it again and retry")
        }
        MigrationError::Registry(registry::RegistryError::Store(e)) => e.into(),
        MigrationError::Registry(_) => ApiError::internal(),
    }
}

async fn platform_tenant(
    s: &AdminState,
    headers: &HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<ucc_shared::gln::Gln> {
    let a = super::path_tenant(s, headers, path).await?;
    match a.caller {
        Caller::Platform => Ok(a.gln),
        Caller::Tenant(_) => Err(ApiError::forbidden_platform_only()),
    }
}

/// `GET`: `{"state": "none"}`, the scheduled migration, or `{"state": "done", migratedAt}`.
pub async fn get(
    State(s): State<AdminState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let a = super::path_tenant(&s, &headers, path).await?;
    // The stored config, not the cached one: a schedule made on another instance shows.
    let cfg = registry::get(s.d.ctx.store.as_ref(), &a.gln)
        .await?
        .ok_or_else(|| ApiError::not_found("no tenant with this GLN"))?;
    Ok(Json(migration::view(&cfg, s.d.ctx.now())))
}

/// `PUT` `{"to": "costedTransaction", "cutover": "<RFC 3339>"}`: schedules (or moves) it.
pub async fn put(
    State(s): State<AdminState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let gln = platform_tenant(&s, &headers, path).await?;
    let bytes = body_bytes(body)?;
    let b: Schedule = parse_json(&bytes)?;
    let now = s.d.ctx.now();
    let cfg = migration::schedule_stored(s.d.ctx.store.as_ref(), &gln, b.to, b.cutover, now)
        .await
        .map_err(migration_error)?;
    s.d.ctx.forget_tenant(&gln);
    tracing::info!(tenant = %gln, cutover = %b.cutover, "migration scheduled");
    Ok(Json(migration::view(&cfg, now)))
}

/// `DELETE`: withdraws a scheduled migration before its cutover.
pub async fn delete(
    State(s): State<AdminState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let gln = platform_tenant(&s, &headers, path).await?;
    let now = s.d.ctx.now();
    let cfg = migration::cancel_stored(s.d.ctx.store.as_ref(), &gln, now)
        .await
        .map_err(migration_error)?;
    s.d.ctx.forget_tenant(&gln);
    tracing::info!(tenant = %gln, "migration cancelled");
    Ok(Json(migration::view(&cfg, now)))
}
